"""The History tab: the session's earlier runs as thumbnails, one of them large beside a before/after split view.

Click a thumbnail (or reach it with Tab and press Enter) to view that run: its picture in a split view against its
content image or another run (drag the divider, or use the arrow keys on it), its settings and final losses, a
download of its PNG (which carries its settings), and "Restore settings". Thumbnails carry the CSS class
``nst-history-item``. Both components are made per session; the strip's captions are set as text, never markup.
"""

from __future__ import annotations

import io
from typing import Any

import panel as pn
import param

import nstcore

from ..session.history import HistoryItem, compare_runs, data_url
from ..session.state import SessionState
from ..session.text import as_html
from .loop import in_background
from .widgets import clicks

CONTENT_CHOICE = "its content image"


class PictureButtons(pn.custom.JSComponent):
    """A wrapping row of picture buttons (real <button>s: Tab reaches them, Enter presses them). ``selected`` is the
    key of the last one pressed and ``presses`` counts presses (pressing the same one again is an event too)."""

    items = param.List(default=[], doc="[{key, src, caption}] in display order; caption is plain text.")
    selected = param.Integer(default=0)
    presses = param.Integer(default=0)
    item_class = param.String(default="nst-picture", doc="CSS class of every button (tests find them by it).")
    empty_text = param.String(default="")
    verb = param.String(default="View", doc="First word of each button's accessible name.")
    compact = param.Boolean(default=False, doc="Small pictures, captions only for screen readers and tooltips.")

    _esm = """
    export function render({ model, el }) {
      const strip = document.createElement("div");
      strip.className = "nst-strip" + (model.compact ? " nst-compact" : "");
      const draw = () => {
        strip.replaceChildren();
        for (const item of model.items) {
          const button = document.createElement("button");
          button.type = "button";
          const chosen = item.key === model.selected;
          button.className = "nst-pick " + model.item_class + (chosen ? " nst-selected" : "");
          button.setAttribute("aria-pressed", chosen ? "true" : "false");
          button.setAttribute("aria-label", model.verb + " " + item.caption);
          button.title = item.caption;
          const img = document.createElement("img");
          img.src = item.src;
          img.alt = "";
          const caption = document.createElement("span");
          caption.textContent = item.caption;  // text, never markup
          button.append(img, caption);
          button.addEventListener("click", () => {
            model.selected = item.key;
            model.presses = model.presses + 1;
          });
          strip.append(button);
        }
        if (!model.items.length && model.empty_text) {
          const empty = document.createElement("p");
          empty.className = "nst-strip-empty";
          empty.textContent = model.empty_text;
          strip.append(empty);
        }
      };
      model.on(["items", "selected", "item_class", "empty_text"], draw);
      draw();
      el.append(strip);
    }
    """

    _stylesheets = [
        """
    .nst-strip { display: flex; flex-wrap: wrap; gap: 8px; }
    .nst-pick { display: flex; flex-direction: column; align-items: center; gap: 2px; width: 128px;
      padding: 4px; border: 2px solid transparent; border-radius: 6px; background: var(--panel-surface-color, #f4f4f4);
      cursor: pointer; font: 11px/1.2 system-ui, sans-serif; color: inherit; }
    .nst-pick img { max-width: 112px; max-height: 112px; border-radius: 3px; }
    .nst-pick span { overflow-wrap: anywhere; text-align: center; }
    .nst-pick.nst-selected { border-color: #0072b5; }
    .nst-pick:focus-visible { outline: 3px solid #f0a000; outline-offset: 2px; }
    .nst-strip-empty { font-size: 13px; opacity: .7; }
    .nst-compact .nst-pick { width: 66px; padding: 2px; }
    .nst-compact .nst-pick img { max-width: 60px; max-height: 60px; }
    .nst-compact .nst-pick span { font-size: 12px; }
    """
    ]


class BeforeAfter(pn.custom.JSComponent):
    """Two pictures in one frame split by a divider: ``before`` left of it, ``after`` right. Drag the divider with
    the mouse or a finger, or focus it and use the arrow keys (it is a range input underneath)."""

    before = param.String(default="", doc="data: URL of the left picture.")
    after = param.String(default="", doc="data: URL of the right picture.")
    before_label = param.String(default="before")
    after_label = param.String(default="after")
    position = param.Number(default=50.0, bounds=(0, 100), doc="Divider position in percent of the width.")

    _esm = """
    export function render({ model, el }) {
      const frame = document.createElement("div");
      frame.className = "nst-ba";
      const after = document.createElement("img");
      after.className = "nst-ba-after"; after.alt = "";
      const before = document.createElement("img");
      before.className = "nst-ba-before"; before.alt = "";
      const line = document.createElement("div");
      line.className = "nst-ba-line";
      const left = document.createElement("span"); left.className = "nst-ba-label nst-ba-left";
      const right = document.createElement("span"); right.className = "nst-ba-label nst-ba-right";
      const input = document.createElement("input");
      input.type = "range"; input.min = 0; input.max = 100; input.step = 1;
      input.className = "nst-ba-range";
      const place = (pos) => {
        before.style.clipPath = `inset(0 ${100 - pos}% 0 0)`;
        line.style.left = pos + "%";
        input.value = pos;
        input.setAttribute("aria-valuetext", `${Math.round(pos)}% ${model.before_label}`);
      };
      const sync = () => {
        before.src = model.before; after.src = model.after;
        left.textContent = model.before_label; right.textContent = model.after_label;  // text, never markup
        input.setAttribute("aria-label", `Split between ${model.before_label} and ${model.after_label}`);
        place(model.position);
      };
      input.addEventListener("input", () => place(parseFloat(input.value)));
      input.addEventListener("change", () => { model.position = parseFloat(input.value); });
      model.on(["before", "after", "before_label", "after_label", "position"], sync);
      sync();
      frame.append(after, before, line, left, right, input);
      el.append(frame);
    }
    """

    _stylesheets = [
        """
    .nst-ba { position: relative; width: 100%; max-width: 512px; line-height: 0; user-select: none; }
    .nst-ba img { width: 100%; display: block; border-radius: 4px; }
    .nst-ba-before { position: absolute; top: 0; left: 0; }
    .nst-ba-line { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #fff;
      box-shadow: 0 0 3px rgba(0,0,0,.6); pointer-events: none; }
    .nst-ba-label { position: absolute; top: 6px; padding: 2px 6px; font: 12px/1.4 system-ui, sans-serif;
      background: rgba(0,0,0,.55); color: #fff; border-radius: 3px; max-width: 45%; overflow: hidden;
      text-overflow: ellipsis; white-space: nowrap; }
    .nst-ba-left { left: 6px; } .nst-ba-right { right: 6px; }
    .nst-ba-range { position: absolute; inset: 0; width: 100%; height: 100%; margin: 0; opacity: 0;
      cursor: ew-resize; }
    .nst-ba-range:focus-visible + * , .nst-ba:focus-within .nst-ba-line { background: #f0a000; width: 4px; }
    """
    ]


class HistoryView(pn.viewable.Viewer):
    """The History tab of one session: strip, split view, details and actions."""

    def __init__(self, state: SessionState, **params: Any) -> None:
        super().__init__(**params)
        self.state = state
        self.strip = PictureButtons(
            item_class="nst-history-item",
            empty_text="Finished and stopped runs appear here, newest first.",
            sizing_mode="stretch_width",
            css_classes=["nst-history"],
        )
        self.split = BeforeAfter(sizing_mode="stretch_width", max_width=512, visible=False)
        self.against = pn.widgets.Select(label="Compare with", options=[CONTENT_CHOICE], width=200, visible=False)
        self.restore = pn.widgets.Button(
            label="Restore settings", width=150, visible=False, css_classes=["nst-restore"]
        )
        self.download = pn.widgets.FileDownload(
            callback=self._png, filename="nst-result.png", label="Download PNG", width=150, visible=False
        )
        self.details = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["nst-history-details"])
        # Compare across runs: 2-8 of the history side by side, each labelled with only what differs.
        self.pick = pn.widgets.MultiChoice(
            label="Compare runs (2 to 8)", options=[], max_items=8, width=300, css_classes=["nst-compare-runs"]
        )
        self.compare_button = pn.widgets.Button(
            label="Side by side", disabled=True, width=130, css_classes=["nst-compare-runs-button"]
        )
        self.compare_button.on_click(clicks(self._compare_runs))
        self.pick.param.watch(lambda e: setattr(self.compare_button, "disabled", not 2 <= len(e.new) <= 8), "value")
        self.side_by_side = pn.pane.PNG(
            None, sizing_mode="scale_width", max_width=1000, visible=False, alt_text="The chosen results side by side"
        )
        self._side_png: bytes | None = None
        self._side_json: str | None = None
        self.side_png_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._side_png) if self._side_png else None,
            filename="nst-runs.png",
            label="Download PNG",
            width=150,
            visible=False,
        )
        self.side_json_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._side_json.encode()) if self._side_json else None,
            filename="nst-runs.json",
            label="Download JSON",
            width=150,
            visible=False,
        )
        self.strip.param.watch(lambda e: self._show(), "selected")
        self.against.param.watch(lambda e: self._show(), "value")
        self.restore.on_click(clicks(lambda: state.restore_from_history(self.strip.selected)))

    def add(self, item: HistoryItem) -> None:
        """A run ended (session loop): add it to the strip and show it."""
        self.state.history.add(item)
        self.strip.items = [
            {"key": i.number, "src": data_url(i.thumb), "caption": i.caption()}
            for i in reversed(list(self.state.history))
        ]
        self._refresh_choices()
        self.pick.options = [f"run #{i.number}" for i in self.state.history]
        self.pick.value = [v for v in self.pick.value if v in self.pick.options]
        self.strip.selected = item.number

    def _refresh_choices(self) -> None:
        numbers = [f"run #{i.number}" for i in self.state.history if i.number != self.strip.selected]
        options = [CONTENT_CHOICE, *numbers]
        self.against.options = options
        if self.against.value not in options:
            self.against.value = CONTENT_CHOICE

    def _show(self) -> None:
        item = self.state.history.get(self.strip.selected)
        shown = item is not None
        for widget in (self.split, self.against, self.restore, self.download):
            widget.visible = shown
        if item is None:
            self.details.object = ""
            return
        self._refresh_choices()
        other = None
        if self.against.value != CONTENT_CHOICE:
            other = self.state.history.get(int(str(self.against.value).removeprefix("run #")))
        if other is None:
            before, before_label = item.content_jpeg, "content"
        else:
            before, before_label = other.jpeg, f"run #{other.number}"
        self.split.param.update(
            before=data_url(before),
            after=data_url(item.jpeg),
            before_label=before_label,
            after_label=f"run #{item.number}",
        )
        self.download.filename = item.filename
        rows = "".join(f"<tr><th>{as_html(k)}</th><td>{as_html(v)}</td></tr>" for k, v in item.details())
        self.details.object = f'<table class="nst-details"><caption>Run #{item.number}</caption>{rows}</table>'

    def _compare_runs(self) -> None:
        items = [self.state.history.get(int(str(v).removeprefix("run #"))) for v in self.pick.value]
        chosen = [item for item in items if item is not None]
        state = self.state

        def show(result: tuple[bytes, str, list[str]]) -> None:
            png, data, _ = result
            self._side_png, self._side_json = png, data
            self.side_by_side.object = png
            stem = "nst-runs-" + "-".join(str(i.number) for i in chosen)
            self.side_png_download.filename, self.side_json_download.filename = f"{stem}.png", f"{stem}.json"
            for widget in (self.side_by_side, self.side_png_download, self.side_json_download):
                widget.visible = True

        def failed(exc: BaseException) -> None:
            if isinstance(exc, nstcore.NSTError):
                state.error = str(exc)
            else:
                state.error = "Those runs could not be put side by side; pick others."
                state.log_failure("compare runs", exc)

        work = state.gated("side-by-side", "A side-by-side picture", lambda: compare_runs(chosen))
        if work is not None:
            in_background(work, show, failed)

    def _png(self) -> io.BytesIO | None:
        item = self.state.history.get(self.strip.selected)
        return io.BytesIO(item.png) if item is not None else None

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.strip,
            pn.FlexBox(
                self.split,
                pn.Column(
                    pn.FlexBox(self.against, self.restore, self.download, align_items="end"),
                    self.details,
                    sizing_mode="stretch_width",
                    min_width=260,
                ),
                flex_wrap="wrap",
                sizing_mode="stretch_width",
            ),
            pn.FlexBox(self.pick, self.compare_button, align_items="end"),
            self.side_by_side,
            pn.Row(self.side_png_download, self.side_json_download),
            sizing_mode="stretch_width",
        )
