"""Reusable widgets bound to a session's parameters: log-scale sliders and per-layer weight rows.

Created per session (never as class attributes), each one linked both ways to a ``SessionState`` parameter.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import panel as pn
import param
from bokeh.models import CustomJSTickFormatter

_EXP_FORMAT = CustomJSTickFormatter(code="return Math.pow(10, tick).toExponential(1)")


class LogSlider(pn.viewable.Viewer):
    """A slider over log10(value) for weights spanning decades (alpha, beta, TV, lr).

    With ``allow_zero`` a checkbox turns the term off (value 0) and back on at the slider's value.
    ``default`` supplies the value shown when the parameter is None (lr: the optimiser's own default).
    """

    def __init__(self, state: param.Parameterized, name: str, label: str, start: float, end: float, *,
                 allow_zero: bool = False, default: Callable[[], float] | None = None, width: int = 280,
                 css_classes: list[str] | None = None) -> None:
        super().__init__()
        self._state, self._name, self._default = state, name, default
        self._syncing = False
        self.slider = pn.widgets.FloatSlider(label=label, start=start, end=end, step=0.05, format=_EXP_FORMAT,
                                             value=self._exponent(getattr(state, name), start), width=width,
                                             css_classes=css_classes or [])
        self.toggle = pn.widgets.Checkbox(label="on", value=getattr(state, name) not in (0, 0.0), width=45,
                                          visible=allow_zero, align="end")
        self.slider.disabled = allow_zero and not self.toggle.value
        self.slider.param.watch(self._to_state, "value")
        self.toggle.param.watch(self._to_state, "value")
        state.param.watch(self._from_state, name)
        if default is not None:
            state.param.watch(self._from_state, "optimizer")
        self._layout = pn.Row(self.slider, self.toggle, margin=0)

    def _exponent(self, value: float | None, fallback: float) -> float:
        if value is None and self._default is not None:
            value = self._default()
        if not value or value <= 0:
            return fallback
        return min(max(math.log10(value), self.slider.start if hasattr(self, "slider") else -99), 99)

    def _to_state(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        self.slider.disabled = self.toggle.visible and not self.toggle.value
        value = 0.0 if (self.toggle.visible and not self.toggle.value) else float(10 ** self.slider.value)
        self._syncing = True
        try:
            setattr(self._state, self._name, value)
        finally:
            self._syncing = False

    def _from_state(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        value = getattr(self._state, self._name)
        self._syncing = True
        try:
            if self.toggle.visible:
                self.toggle.value = bool(value)
                self.slider.disabled = not value
            if value or value is None:
                exp = self._exponent(value, self.slider.value)
                self.slider.value = min(max(exp, self.slider.start), self.slider.end)
        finally:
            self._syncing = False

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout


class LayerRows(pn.viewable.Viewer):
    """One row per conv layer: an on/off switch and a weight slider, bound to a ``{layer: weight}`` parameter.

    The paper's layers are shown; the other conv layers appear with "show all layers". A layer switched off keeps
    its slider position and is sent as weight 0 (it stays available to a running job).
    """

    def __init__(self, state: param.Parameterized, name: str, layer_names: Callable[[], list[str]],
                 featured: tuple[str, ...]) -> None:
        super().__init__()
        self._state, self._name, self._names, self._featured = state, name, layer_names, featured
        self._syncing = False
        self.show_all = pn.widgets.Checkbox(label="show all conv layers", value=False)
        self.show_all.param.watch(lambda e: self._apply_visibility(), "value")
        self._rows = pn.Column(margin=0)
        self._widgets: dict[str, tuple[pn.widgets.Switch, pn.widgets.FloatSlider, pn.Row]] = {}
        self._build()
        state.param.watch(self._from_state, name)
        state.param.watch(lambda e: self._build(), "model")

    def _build(self) -> None:
        weights = getattr(self._state, self._name)
        self._widgets = {}
        rows = []
        for layer in self._names():
            on = weights.get(layer, 0.0) > 0
            switch = pn.widgets.Switch(value=on, width=40, margin=(22, 5, 0, 10))
            slider = pn.widgets.FloatSlider(label=layer, start=0.0, end=2.0, step=0.05,
                                            value=weights.get(layer, 1.0) or 1.0, width=200, disabled=not on)
            switch.param.watch(self._to_state, "value")
            slider.param.watch(self._to_state, "value")
            row = pn.Row(switch, slider, margin=0, css_classes=["layer-row", f"layer-{layer}"])
            self._widgets[layer] = (switch, slider, row)
            rows.append(row)
        self._rows.objects = rows
        self._apply_visibility()

    def _apply_visibility(self) -> None:
        weights = getattr(self._state, self._name)
        for layer, (_, _, row) in self._widgets.items():
            row.visible = self.show_all.value or layer in self._featured or weights.get(layer, 0.0) > 0

    def _to_state(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        weights = {}
        for layer, (switch, slider, _) in self._widgets.items():
            slider.disabled = not switch.value
            if switch.value:
                weights[layer] = float(slider.value)
        self._syncing = True
        try:
            setattr(self._state, self._name, weights)
        finally:
            self._syncing = False

    def _from_state(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        weights = event.new
        self._syncing = True
        try:
            for layer, (switch, slider, _) in self._widgets.items():
                switch.value = weights.get(layer, 0.0) > 0
                slider.disabled = not switch.value
                if weights.get(layer, 0.0) > 0:
                    slider.value = min(weights[layer], slider.end)
        finally:
            self._syncing = False
        self._apply_visibility()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self._rows, self.show_all, margin=0)
