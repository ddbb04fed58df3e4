"""Reusable widgets bound to a session's parameters: log-scale sliders and per-layer weight rows.

Created per session (never as class attributes), each one linked both ways to a ``SessionState`` parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import panel as pn
import param

from ..session.config_params import field_metadata, field_range
from ..session.text import as_html
from .two_way import NoEcho


def plain_text(text: object = "", **params: Any) -> pn.pane.HTML:
    """A pane that shows ``text`` literally. Panel's ``Str`` pane looks like it, but its text reaches the page as
    markup (a Compare label ``<img src=x onerror=...>`` ran script): this escapes and caps it. Change the text with
    :func:`set_text`."""
    return pn.pane.HTML(_plain(text), **params)


def set_text(pane: pn.pane.HTML, text: object) -> None:
    pane.object = _plain(text)


def _plain(text: object) -> str:
    return f'<div class="nst-plain">{as_html(text)}</div>' if text else ""


def clicks(action: Callable[[], object]) -> Callable[[object], None]:
    """A button handler that runs ``action`` (its result, e.g. "refused", is already shown as a sentence)."""

    def handler(event: object) -> None:
        action()

    return handler


class LogRange(pn.custom.JSComponent):
    """A native range input over log10(value) whose label and accessible value show the real value (1.0e+6).

    A component of its own, made per session like every Bokeh model: the earlier shared tick formatter belonged to
    the first page's document, and every later page showed "undefined". ``aria-valuetext`` carries the real value,
    so a screen reader says "1.0e+6", not the exponent "6.00" that Bokeh's slider reports.
    """

    value = param.Number(default=0.0, doc="log10 of the value.")
    start = param.Number(default=-4.0)
    end = param.Number(default=4.0)
    step = param.Number(default=0.05)
    label = param.String(default="")
    ends = param.List(default=[], doc="Words under the two ends, e.g. ['more photo', 'more painting'].")
    describe = param.String(default="", doc="A one-line explanation, shown on hover and focus, read with the label.")
    # Not "off": the model's JavaScript proxy has an off() method, which a parameter of that name would shadow.
    greyed = param.Boolean(default=False, doc="Greyed out (the term is switched off).")

    _esm = """
    const fmt = (exp) => Math.pow(10, exp).toExponential(1);
    export function render({ model, el }) {
      const wrap = document.createElement("label");
      wrap.className = "nst-log";
      const head = document.createElement("div");
      head.className = "nst-log-head";
      const title = document.createElement("span");
      const shown = document.createElement("span");
      shown.className = "nst-log-value";
      head.append(title, shown);
      const input = document.createElement("input");
      input.type = "range";
      const show = (exp) => {
        const text = fmt(exp);
        shown.textContent = text;
        input.setAttribute("aria-valuetext", text);
      };
      const sync = () => {
        title.textContent = model.label + ": ";
        input.setAttribute("aria-label", model.describe ? model.label + ". " + model.describe : model.label);
        input.dataset.nstExplain = model.describe;  // the page's tooltip shows it on hover and focus (reach.py)
        ends.replaceChildren(...model.ends.map((word) => {
          const end = document.createElement("span");
          end.textContent = word;
          return end;
        }));
        input.min = model.start; input.max = model.end; input.step = model.step;
        input.value = model.value;
        input.disabled = model.greyed;
        wrap.classList.toggle("nst-log-off", model.greyed);
        show(model.value);
      };
      const ends = document.createElement("div");
      ends.className = "nst-log-ends";
      ends.setAttribute("aria-hidden", "true");
      input.addEventListener("input", () => show(parseFloat(input.value)));
      input.addEventListener("change", () => { model.value = parseFloat(input.value); });
      model.on(["value", "start", "end", "step", "label", "greyed", "ends", "describe"], sync);
      sync();
      wrap.append(head, input, ends);
      el.append(wrap);
    }
    """

    _stylesheets = [
        """
    .nst-log { display: flex; flex-direction: column; font-size: 13px; width: 100%; }
    .nst-log-head { display: flex; gap: 4px; }
    .nst-log-value { font-weight: 600; font-variant-numeric: tabular-nums; }
    .nst-log input { width: 100%; accent-color: #0072b5; margin: 4px 0; }
    .nst-log-off { opacity: .5; }
    .nst-log-ends { display: flex; justify-content: space-between; font-size: 12px; opacity: .85; }
    @media (pointer: coarse) { .nst-log input { min-height: 28px; } }
    """
    ]


class LogSlider(pn.viewable.Viewer):
    """A slider over log10(value) for weights spanning decades (alpha, beta, TV, lr).

    With ``allow_zero`` a checkbox turns the term off (value 0) and back on at the slider's value.
    ``default`` supplies the value shown when the parameter is None (lr: the optimiser's own default).
    """

    def __init__(
        self,
        state: param.Parameterized,
        name: str,
        label: str,
        *,
        allow_zero: bool = False,
        default: Callable[[], float] | None = None,
        width: int = 280,
        css_classes: list[str] | None = None,
        describe: str = "",
    ) -> None:
        super().__init__()
        self._state, self._name, self._default = state, name, default
        start, end, step = field_range(name)  # from StyleConfig's metadata: never typed here
        self.slider = LogRange(  # room for the on/off box beside it inside the 320 px card
            label=label,
            start=start,
            end=end,
            step=step,
            width=width - 65 if allow_zero else width,
            margin=(5, 10),
            css_classes=css_classes or [],
            describe=describe,
        )
        self.slider.value = self._exponent(getattr(state, name), start)
        self.toggle = pn.widgets.Checkbox(
            label="on", value=getattr(state, name) not in (0, 0.0), width=45, visible=allow_zero, align="end"
        )
        self.slider.greyed = allow_zero and not self.toggle.value
        no_echo = NoEcho()
        self.slider.param.watch(no_echo(self._to_state), "value")
        self.toggle.param.watch(no_echo(self._to_state), "value")
        state.param.watch(no_echo(self._from_state), name)
        if default is not None:
            state.param.watch(no_echo(self._from_state), "optimizer")
        self._layout = pn.Row(self.slider, self.toggle, margin=0)

    def _exponent(self, value: float | None, fallback: float) -> float:
        if value is None and self._default is not None:
            value = self._default()
        if not value or value <= 0:
            return fallback
        return min(max(math.log10(value), self.slider.start), self.slider.end)

    def _to_state(self, event: param.parameterized.Event) -> None:
        self.slider.greyed = self.toggle.visible and not self.toggle.value
        value = 0.0 if (self.toggle.visible and not self.toggle.value) else float(10**self.slider.value)
        setattr(self._state, self._name, value)

    def _from_state(self, event: param.parameterized.Event) -> None:
        value = getattr(self._state, self._name)
        if self.toggle.visible:
            self.toggle.value = bool(value)
            self.slider.greyed = not value
        if value or value is None:
            exp = self._exponent(value, self.slider.value)
            self.slider.value = min(max(exp, self.slider.start), self.slider.end)

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class StyleStrength(pn.viewable.Viewer):
    """One slider for newcomers: how strongly the painting's style wins over the photo's content, i.e. the ratio
    beta/alpha of Gatys et al.'s objective on a log scale. Moving it sets beta = alpha * ratio (alpha stays, or
    becomes 1 if it was 0); the exact alpha and beta stay visible beside it, and the expert sliders follow."""

    def __init__(self, state: Any, css_class: str = "nst-strength") -> None:  # a SessionState (its alpha and beta)
        super().__init__()
        self._state = state
        alpha_default = field_metadata("alpha")["default"] or 1.0
        # From the smallest beta the beta slider offers to its largest, at the default alpha: metadata, not typed.
        start = math.log10(field_metadata("beta")["slider_min"] / alpha_default)
        end = math.log10(field_metadata("beta")["max"] / alpha_default)
        self.slider = LogRange(
            label="Style strength",
            ends=["more photo", "more painting"],
            describe="How much the painting's style counts against the photo's content (β/α, a log scale).",
            start=start,
            end=end,
            step=0.1,
            width=280,
            margin=(5, 10),
            css_classes=[css_class],
        )
        self._from_state()
        no_echo = NoEcho()
        self.slider.param.watch(no_echo(self._to_state), "value")
        state.param.watch(no_echo(lambda *_: self._from_state()), ["alpha", "beta"])

    def _to_state(self, event: param.parameterized.Event) -> None:
        alpha = self._state.alpha or 1.0
        self._state.param.update(alpha=alpha, beta=float(alpha * 10**event.new))

    def _from_state(self) -> None:
        s = self._state
        if s.alpha > 0 and s.beta > 0:
            exponent = math.log10(s.beta / s.alpha)
            self.slider.greyed = False
            self.slider.value = min(max(exponent, self.slider.start), self.slider.end)
        else:
            self.slider.greyed = True  # only content or only style: no ratio to show (the expert sliders say so)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.slider


class Views(pn.viewable.Viewer):
    """Tabs that a keyboard can use: a row of real buttons (Tab reaches them, Enter or Space opens one) above the
    open view. Bokeh's own tab headers took no keyboard focus, and its hidden tabs' widgets still did (the Compare
    table trapped Tab). Here only the open view is in the page, and a view's models are made the first time it
    opens, not on every page load."""

    active = param.Integer(default=0, doc="Index of the open view.")

    def __init__(self, *views: tuple[str, Any], **params) -> None:
        super().__init__(**params)
        self._names = [name for name, _ in views]
        self.views = [view for _, view in views]
        self.bar = pn.widgets.RadioButtonGroup(
            options=self._names, value=self._names[0], color="light", css_classes=["nst-views"]
        )
        pn.bind(lambda name: setattr(self, "active", self._names.index(name)), self.bar, watch=True)
        self._shown = pn.Column(self.views[0], sizing_mode="stretch_width")

    @param.depends("active", watch=True)
    def _open(self) -> None:
        self.bar.value = self._names[self.active]
        self._shown.objects = [self.views[self.active]]

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.bar, self._shown, sizing_mode="stretch_width")


class LazyCard(pn.viewable.Viewer):
    """A collapsed sidebar card whose contents are built when it is first opened: its widgets (uploaders with
    FilePond's animation loop, figures) cost a page nothing until a visitor wants them. Subclasses fill ``body`` in
    :meth:`build`."""

    def __init__(self, title: str, css_class: str, **params) -> None:
        super().__init__(**params)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.card = pn.Card(self.body, title=title, collapsed=True, css_classes=[css_class])
        self._built = False
        self.card.param.watch(self._opened, "collapsed")

    def _opened(self, event: param.parameterized.Event) -> None:
        if not event.new and not self._built:
            self._built = True
            self.build()

    def build(self) -> None:
        raise NotImplementedError

    def __panel__(self) -> pn.viewable.Viewable:
        return self.card
