"""The Single run view: the live preview, the loss chart, and what a finished run offers (download, time-lapse,
zoom, share to the projector wall).

Like every view it has ``started()``, ``apply(handover)`` and ``finished()``; the Dashboard's clock polls the
session once and hands the result to the view of the running mode.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import panel as pn
import param

import nstcore

from ..jobs.gate import Refused
from ..jobs.scheduler import Handover
from ..server.wall import MAX_NAME as MAX_WALL_NAME
from ..server.wall import WALL, wall_images
from ..session.history import HistoryItem
from ..session.state import SessionState
from . import charts
from .charts import ChangeMarkers, column_key, loss_figure, loss_terms, rows_to_columns, show_lines
from .loop import NewestFrames, in_background
from .reach import PHONE_ONLY_CSS
from .widgets import StyleStrength, clicks
from .zoom import rgba_planes, zoom_figures

PREVIEW_WIDTH = 460  # the preview's widest (beside the chart on a laptop); it shrinks with the screen


RESULT_LABEL = "Download result (PNG)"
BIGGER_LABEL = "Bigger (2×)"


class SingleRunView(param.Parameterized):
    """One session's single run: its picture while it runs and after, and its loss chart."""

    frames_shown = param.Integer(default=0, doc="Preview frames sent to the browser (for tests and benchmarks).")
    points_streamed = param.Integer(default=0, doc="Loss rows sent to the chart.")
    changes_marked = param.Integer(default=0, doc="Mid-run changes drawn on the chart.")

    def __init__(self, state: SessionState, on_history: Callable[[HistoryItem], None], **params) -> None:
        super().__init__(**params)
        self.state = state
        self._on_history = on_history
        self.frame_bytes = 0
        self._frames_encoder = NewestFrames(self._show_frame, lambda exc: state.log_failure("preview", exc))
        # As wide as the screen allows up to PREVIEW_WIDTH, keeping the picture's aspect (a phone shows it full width).
        self.preview = pn.pane.JPG(
            None,
            sizing_mode="scale_width",
            max_width=PREVIEW_WIDTH,
            min_width=200,
            fixed_aspect=True,
            css_classes=["nst-preview"],
            alt_text="The picture: the content image before a run, then the result as it forms",
            embed=True,
        )
        self._build_result_widgets()
        self._build_chart()
        state.param.watch(lambda *_: self._show_content(), ["images_version"])
        self._show_content()

    def _build_result_widgets(self) -> None:
        self._result_png: bytes | None = None
        self.result_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._result_png) if self._result_png else None,
            filename="nst-result.png",
            label=RESULT_LABEL,
            color="success",
            disabled=True,
            width=280,  # room for the size: "Download result (PNG, 1024 × 768 px)"
        )
        # Bigger: this picture at twice the size (up to the server's max), a short queued pass that starts from it.
        self.bigger = pn.widgets.Button(label=BIGGER_LABEL, disabled=True, width=200, css_classes=["nst-bigger"])
        self.bigger.on_click(clicks(lambda: self.state.start_bigger(self._result_png)))
        # Time-lapse: the preview frames of the last single run (JPEGs as shown), a scrubber over them once it ended,
        # and GIF/MP4 made on a worker thread when asked for.
        self._frames: nstcore.FrameKeeper[bytes] = nstcore.FrameKeeper()
        self._scrubbing = False
        # On a phone the sidebar (and its Style card) comes after the result, screens down: the one slider people
        # move mid-run is repeated right under the picture there (both copies follow the same setting).
        self.phone_strength = pn.Column(
            StyleStrength(self.state, "nst-strength-under-picture"),
            css_classes=["nst-phone-strength"],
            stylesheets=[PHONE_ONLY_CSS],
        )
        self.scrubber = pn.widgets.IntSlider(
            label="Time-lapse frame",
            start=0,
            end=1,
            value=0,
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["nst-scrub"],
        )
        self.scrubber.param.watch(self._scrubbed, "value")
        self.enlarge = pn.widgets.Button(label="Enlarge / zoom", disabled=True, width=140, css_classes=["nst-enlarge"])
        self.enlarge.on_click(clicks(self._enlarge))
        self.zoomed = pn.Column(visible=False, sizing_mode="stretch_width", css_classes=["nst-zoomed"])
        # Share to wall: nothing reaches the projector unless its maker presses this (with a name if they like).
        self.wall_name = pn.widgets.TextInput(
            placeholder="name on the wall (optional)",
            max_length=MAX_WALL_NAME,
            width=190,
            css_classes=["nst-wall-name"],
        )
        self.share = pn.widgets.Button(label="Share to wall", disabled=True, width=140, css_classes=["nst-share"])
        self.share.on_click(clicks(self._share))
        self.timelapse_kind = pn.widgets.RadioButtonGroup(options=["GIF", "MP4"], value="GIF", color="light")
        self.make_timelapse = pn.widgets.Button(
            label="Make time-lapse", disabled=True, width=140, css_classes=["nst-make-timelapse"]
        )
        self.make_timelapse.on_click(clicks(self._make_timelapse))
        self._timelapse: bytes | None = None
        self.timelapse_download = pn.widgets.FileDownload(
            callback=lambda: io.BytesIO(self._timelapse) if self._timelapse else None,
            filename="nst-timelapse.gif",
            label="Download time-lapse",
            disabled=True,
            width=180,
            css_classes=["nst-timelapse-download"],
        )

    def _build_chart(self) -> None:
        self._terms: list[str] = []
        self._source: Any = None  # the loss chart's ColumnDataSource
        self._chart_model = ""
        self._new_chart()
        self.chart = pn.pane.Bokeh(self._fig, sizing_mode="stretch_width", min_height=360)
        self.chart_view = charts.chart_view_buttons()
        self.chart_view.param.watch(lambda e: self._switch_view(), "value")
        self._changes_drawn = 0

    def _show_content(self) -> None:
        """Until a run starts, the preview shows what it starts from."""
        state = self.state
        if state.content_image is not None and not state.running:
            self.preview.object = state.content_image.preview_jpeg

    # -- the view's life: started, apply, finished ---------------------------------------------------------------
    def started(self) -> None:
        """A single run started: empty results, and a chart whose lines are this run's terms."""
        self._frames_encoder.reset()
        self._result_png = None
        self.result_download.disabled, self.result_download.label = True, RESULT_LABEL
        self.bigger.disabled, self.bigger.label = True, BIGGER_LABEL
        self._frames, self._timelapse = nstcore.FrameKeeper(), None
        self.enlarge.disabled, self.zoomed.visible = True, False
        self.share.disabled, self.share.label = True, "Share to wall"
        self.enlarge.label = "Enlarge / zoom"
        self.timelapse_download.disabled = True
        self.sync_scrubber()
        self._show_terms(self._run_terms(self.state.run.styles))
        self._changes_drawn = 0
        if self.state.run.config is not None:
            self._markers.start(self.state.run.config)

    def apply(self, handover: Handover) -> None:
        """What the job handed over since the last tick: loss rows, change markers, the newest frame."""
        if handover.rows:  # the chart follows the run's first (only) variant
            self._stream_rows([(s, losses[0]) for s, losses in handover.rows])
            self.points_streamed += len(handover.rows)
        self._mark_changes()
        if handover.frames is not None:
            self._frames_encoder.offer(handover.frames)

    def finished(self) -> None:
        """The run ended: encode its result PNG and its history entry on workers, then offer them."""
        state = self.state
        self.enlarge.disabled = not state.result
        self.share.disabled, self.share.label = not state.result, "Share to wall"

        def ready(data: bytes | None) -> None:
            self._result_png = data
            self.result_download.filename = state.result_filename()
            self.result_download.disabled = data is None
            if data is not None and state.result:  # what the file holds, before it is downloaded
                height, width = state.result[0].shape[:2]
                self.result_download.label = f"{RESULT_LABEL[:-1]}, {width} × {height} px)"
                bigger = min(2 * max(width, height), state.limits.max_size)
                if bigger > max(width, height) and not (state.run.request and state.run.request.photos):
                    self.bigger.label = "Bigger: {} × {} px".format(*nstcore.target_size(width, height, bigger))
                    self.bigger.disabled = False

        def remember(item: HistoryItem | None) -> None:
            if item is not None:
                self._on_history(item)

        self.sync_scrubber()
        in_background(state.result_png, ready, lambda exc: state.log_failure("result", exc))
        number = state.history.next_number()
        in_background(lambda: state.history_entry(number), remember, lambda exc: state.log_failure("history", exc))

    # -- the picture ------------------------------------------------------------------------------------------------
    def _show_frame(self, jpegs: list[bytes]) -> None:
        self.frame_bytes = len(jpegs[0])
        self.preview.object = jpegs[0]
        self.frames_shown += 1
        self._frames.offer(jpegs[0])
        self.sync_scrubber()

    def sync_scrubber(self) -> None:
        """Offer the scrubber and the time-lapse once a run ended (nothing to send while it runs: every open page
        would otherwise update its slider with every frame, on the loop they all share)."""
        count = len(self._frames)
        ended = not self.state.running and self.state.mode == "single"
        if not ended and not self.scrubber.visible and self.make_timelapse.disabled:
            return
        self.scrubber.visible = ended and count >= 2
        self.make_timelapse.disabled = not (ended and count >= 2)
        if count >= 2 and self.scrubber.end != count - 1:
            self._scrubbing = True
            try:
                self.scrubber.param.update(end=count - 1, value=count - 1)
            finally:
                self._scrubbing = False

    def _scrubbed(self, event: param.parameterized.Event) -> None:
        """Step through the finished run's saved frames in the preview."""
        if not self._scrubbing and 0 <= event.new < len(self._frames):
            self.preview.object = self._frames.frames[event.new]

    def _share(self) -> None:
        """Put the finished result on the projector wall (its maker chose to); once per result."""
        state = self.state
        frames, style = list(state.result or ())[:1], state.style
        if not frames or style is None:
            return
        try:  # the check is here, on the server: the disabled button is only a convenience
            state.backend.gate.share(state.visitor)
        except Refused as exc:
            state.error = str(exc)
            return
        self.share.disabled = True
        # what the field shows, committed or not (Enter or leaving the field commits; a click on Share may come first)
        name = self.wall_name.value_input or self.wall_name.value or ""

        def shared(images: tuple[bytes, bytes]) -> None:
            if WALL.share(state.session_id, name, *images, visitor=state.visitor.key) is None:
                state.error = "The host has taken your results off the wall."
                return
            self.share.label = "Shared ✓"
            if pn.state.notifications is not None:
                pn.state.notifications.success("Shared to the wall.", duration=4000)

        def failed(exc: BaseException) -> None:
            self.share.disabled = False
            state.log_failure("share", exc)

        in_background(lambda: wall_images(frames[0], style), shared, failed)

    def _enlarge(self) -> None:
        """The result at full resolution with wheel zoom and pan (the preview is scaled to the column)."""
        if self.zoomed.visible:
            self.zoomed.visible = False
            self.enlarge.label = "Enlarge / zoom"
            return
        frames = list(self.state.result or ())[:1]
        if not frames:
            return

        def show(planes: list) -> None:
            width = min(PREVIEW_WIDTH * 2, max(planes[0].shape[1], PREVIEW_WIDTH))
            self.zoomed.objects = [pn.pane.Bokeh(f) for f in zoom_figures(planes, [""], width=width, scale=True)]
            self.zoomed.visible = True
            self.enlarge.label = "Close the zoom view"

        in_background(lambda: rgba_planes(frames), show, lambda exc: self.state.log_failure("zoom", exc))

    def _make_timelapse(self) -> None:
        kind = self.timelapse_kind.value.lower()
        frames = list(self._frames.frames)
        state = self.state
        work = state.timelapse_work(frames, kind)
        if work is None:
            return
        self.make_timelapse.disabled = True
        self.make_timelapse.label = "Making…"

        def ready(data: bytes) -> None:
            self._timelapse = data
            self.timelapse_download.filename = state.result_filename().removesuffix(".png") + f"-timelapse.{kind}"
            self.timelapse_download.disabled = False
            self.make_timelapse.label = "Make time-lapse"
            self.make_timelapse.disabled = False

        def failed(exc: BaseException) -> None:
            self.make_timelapse.label = "Make time-lapse"
            self.make_timelapse.disabled = False
            if isinstance(exc, nstcore.NSTError):
                state.error = str(exc)
            else:
                state.error = "The time-lapse could not be made; try the other format."
                state.log_failure("timelapse", exc)

        in_background(work, ready, failed)

    # -- the chart --------------------------------------------------------------------------------------------------
    def _new_chart(self) -> None:
        """One chart per session (and per network), with a line for every term any run of it can have: a run start
        only shows its own lines and empties the data. A new figure per run made Bokeh re-walk the whole page's
        models on the loop every page shares (up to seconds with a room of pages running)."""
        self._chart_model = self.state.model
        self._terms = loss_terms(list(nstcore.layer_names(self._chart_model)), self.state.limits.max_styles)
        self._fig, self._source = loss_figure(self._terms)
        self._markers = ChangeMarkers(self._fig, self.state.run.describe_change)
        self._show_terms(self._run_terms())

    def _run_terms(self, styles: int = 1) -> list[str]:
        """The terms a run of the current settings has: a term whose weight is 0 is not listed."""
        state = self.state
        layers = nstcore.sort_layers(state.model, [k for k, v in state.style_layers.items() if v > 0])
        content = state.alpha > 0 and any(v > 0 for v in state.content_layers.values())
        return loss_terms(layers, styles, content=content, tv=state.tv > 0)

    def _show_terms(self, shown: list[str]) -> None:
        """Show the lines (and legend entries) of ``shown``, empty the data and the change markers."""
        if self._chart_model != self.state.model:  # another network has other layers
            self._new_chart()
            self.chart.object = self._fig
            return
        fig = self._fig
        self._shown_keys = [column_key(term) for term in shown if term in self._terms]
        show_lines(fig, self._source, self._shown_keys)
        self._markers.clear()
        empty: dict[str, list[float]] = {"step": [], **{key: [] for key in self._shown_keys}}
        # both views of the run so far, as computed when each row arrived (with the weights of that moment)
        self._views_data: dict[str, dict[str, list[float]]] = {
            "weighted": {k: [] for k in empty},
            "unweighted": {k: [] for k in empty},
        }
        self._source.data = empty
        self._title_view()

    def _view(self) -> str:
        return "weighted" if getattr(self, "chart_view", None) is None else str(self.chart_view.value)

    def _title_view(self) -> None:
        self._fig.title.text = f"Loss ({self._view()} terms, log scale)"

    def _stream_rows(self, rows: list) -> None:
        """New loss rows: both views (the engine reports every term weighted and raw), the shown one streamed."""
        columns = rows_to_columns(rows, self._terms)
        new = {
            "weighted": {"step": columns["step"], **{k: columns[k] for k in self._shown_keys}},
            "unweighted": {"step": columns["step"], **{k: columns["u_" + k] for k in self._shown_keys}},
        }
        for view, data in new.items():
            for key, values in data.items():
                self._views_data[view][key].extend(values)
        self._source.stream(new[self._view()])

    def _switch_view(self) -> None:
        """Weighted <-> unweighted: the whole run so far in the other view."""
        self._source.data = {key: list(values) for key, values in self._views_data[self._view()].items()}
        self._title_view()

    def _mark_changes(self) -> None:
        """A labelled marker on the chart for each change steered into the run since the last tick (one for a
        drag: see charts.ChangeMarkers)."""
        changes = self.state.run.changes
        now = time.monotonic()
        while self._changes_drawn < len(changes):
            self.changes_marked += self._markers.add(changes[self._changes_drawn], now)
            self._changes_drawn += 1

    def panel(self) -> pn.FlexBox:
        """The picture beside the chart while both fit (each at least ~300 px), stacked on a narrow screen."""
        return pn.FlexBox(
            pn.Column(
                self.preview,
                self.scrubber,
                self.phone_strength,
                pn.FlexBox(self.wall_name, self.share, align_items="center"),
                pn.FlexBox(
                    self.result_download,
                    self.bigger,
                    self.enlarge,
                    self.timelapse_kind,
                    self.make_timelapse,
                    self.timelapse_download,
                ),
                self.zoomed,
                sizing_mode="stretch_width",
                max_width=PREVIEW_WIDTH,
                styles={"flex": f"1 1 {PREVIEW_WIDTH - 140}px"},
            ),
            pn.Column(
                self.chart_view, self.chart, sizing_mode="stretch_width", styles={"flex": "1 1 300px", "min-width": "0"}
            ),
            flex_wrap="wrap",
            sizing_mode="stretch_width",
        )
