"""The page: inputs and controls on the left, the live preview, status and loss chart on the right.

Every widget is created here, per session. Bokeh models (the preview, the chart's data source, the status) are only
changed from a periodic callback on the session's own event loop; the run's worker thread never touches them.
"""

from __future__ import annotations

import io
from functools import partial
from typing import Any

import panel as pn
import param

import nstcore

from ..server.wall import MAX_NAME as MAX_WALL_NAME
from ..server.wall import WALL, wall_images
from ..session.config_params import field_range
from ..session.history import HistoryItem, data_url
from ..session.imaging import encode_jpeg, timelapse_from_jpegs
from ..session.samples import DEFAULT_CONTENT, DEFAULT_STYLE, EXAMPLES, example_caption, example_thumb, sample_names
from ..session.state import SessionState
from ..session.text import as_html, file_label
from .charts import (
    clear_changes,
    column_key,
    loss_figure,
    loss_terms,
    mark_change,
    rows_to_columns,
    show_lines,
    term_weights,
)
from .compare import CompareView
from .history import HistoryView, PictureButtons
from .instant import InstantView
from .loop import in_background
from .styles import StylesView
from .widgets import LayerRows, LogSlider, StyleStrength, Uploader, Views, clicks, image_uploader, with_focus_ring
from .zoom import rgba_planes, zoom_figures

PREVIEW_WIDTH = 460  # the preview's widest (beside the chart on a laptop); it shrinks with the screen
CARD_WIDTH = 320  # the sidebar's cards: fits a 360 px phone, side by side with the result on a laptop
SIDEBAR_WIDTH = CARD_WIDTH + 20
COMPARE_TAB = 1
RUN_LENGTH_LABELS = {"quick": "Quick (~20 s)", "full": "Full"}
FRAME_PERIOD_MS = 200  # 5 frames/s at most: smooth enough to watch, cheap for a server with many sessions
UPLOADED = "(your upload)"  # the sample menus' entry while an upload is in use, so picking a sample again works

CSS = """
.nst-preview img { image-rendering: auto; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.25); }
.nst-status { font-family: ui-monospace, monospace; font-size: 13px; }
.nst-ratio { font-size: 12px; color: #555; }
.nst-alert { padding: 8px 12px; border-radius: 4px; border: 1px solid; font-size: 14px; white-space: pre-wrap;
             overflow-wrap: anywhere; }
.nst-alert-danger { color: #842029; background: #f8d7da; border-color: #f5c2c7; }
.nst-alert-info { color: #055160; background: #cff4fc; border-color: #b6effb; }
"""


def alert_html(text: str, kind: str = "danger") -> str:
    """An alert box around ``text``, which is escaped: sentences repeat file names and config values."""
    return f'<div class="nst-alert nst-alert-{kind}" role="alert">{as_html(text)}</div>' if text else ""


class Dashboard(pn.viewable.Viewer):
    """Layout and widgets of one session, bound to a :class:`SessionState`."""

    frames_shown = param.Integer(default=0, doc="Preview frames sent to the browser (for tests and benchmarks).")
    points_streamed = param.Integer(default=0, doc="Loss rows sent to the chart.")
    changes_marked = param.Integer(default=0, doc="Mid-run changes drawn on the chart.")
    announced = param.Integer(default=0, doc="Host messages shown as notifications.")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__(**params)
        self.state = state
        self._terms: list[str] = []
        self._source: Any = None  # the loss chart's ColumnDataSource, made per run
        self.frame_bytes = 0
        self._build_inputs()
        self._build_controls()
        self._build_outputs()
        self.compare = CompareView(state)
        self.history = HistoryView(state)
        self.styles = StylesView(state)
        self.instant = InstantView(state)
        single = pn.FlexBox(
            pn.Column(
                self.preview,
                self.scrubber,
                pn.FlexBox(self.wall_name, self.share, align_items="center"),
                pn.FlexBox(
                    self.result_download,
                    self.enlarge,
                    self.timelapse_kind,
                    self.make_timelapse,
                    self.timelapse_download,
                ),
                self.zoomed,
                sizing_mode="stretch_width",
                max_width=PREVIEW_WIDTH,
                # side by side while both fit (each at least ~300 px), stacked on a narrow screen
                styles={"flex": f"1 1 {PREVIEW_WIDTH - 140}px"},
            ),
            pn.Column(
                self.chart_view,
                self.chart,
                sizing_mode="stretch_width",
                styles={"flex": "1 1 300px", "min-width": "0"},
            ),
            flex_wrap="wrap",
            sizing_mode="stretch_width",
        )
        self.tabs = Views(("Single run", single), ("Compare", self.compare), ("History", self.history))
        self.tabs.param.watch(lambda e: self._sync_buttons(), "active")
        state.param.watch(self._show_error, "error")
        state.param.watch(self._sync_buttons, "running")
        state.param.watch(self._run_started, "running")
        self._sync_buttons()

    # -- inputs ---------------------------------------------------------------------------------------------------
    def _build_inputs(self) -> None:
        state = self.state
        self._pending: dict[str, int] = {"content": 0, "style": 0}  # newest upload per role wins
        self._picking = False
        self.content_sample = pn.widgets.Select(
            label="Sample content",
            options=[UPLOADED, *sample_names("content")],
            value=DEFAULT_CONTENT,
            width=135,
            css_classes=["sample-content"],
        )
        self.style_sample = pn.widgets.Select(
            label="Sample style",
            options=[UPLOADED, *sample_names("style")],
            value=DEFAULT_STYLE,
            width=135,
            css_classes=["sample-style"],
        )
        self.content_sample.param.watch(lambda e: self._sample_picked("content", e.new), "value")
        self.style_sample.param.watch(lambda e: self._sample_picked("style", e.new), "value")
        limit = state.limits.max_upload_bytes
        self.content_upload, self.style_upload = (
            image_uploader(limit, f"upload-{role}", partial(self._uploaded, role), partial(self._refused, role))
            for role in ("content", "style")
        )
        self.content_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True)
        self.style_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True)
        state.param.watch(lambda *_: self._refresh_thumbs(), ["images_version"])

    def _sample_picked(self, role: str, name: str) -> None:
        if not self._picking and name != UPLOADED:
            self.state.use_sample(role, name)

    def _uploaded(self, role: str, filename: str, data: bytes) -> None:
        """A complete upload arrived (on the loop): decode it on a worker, then use it if it is still the newest."""
        self._pending[role] += 1
        ticket = self._pending[role]
        state = self.state

        def use(prepared) -> None:
            if self._pending[role] == ticket:
                state.apply_image(role, prepared)
                self._show_uploaded(role)

        in_background(
            lambda: state.prepare_upload(data, filename), use, partial(state.upload_failed, filename, "The upload")
        )

    def _refused(self, role: str, filename: str, size: int) -> None:
        self.state.upload_too_large(filename, f"The {role} upload")

    def _show_uploaded(self, role: str) -> None:
        select = self.content_sample if role == "content" else self.style_sample
        self._picking = True
        try:
            select.value = UPLOADED
        finally:
            self._picking = False

    def _refresh_thumbs(self) -> None:
        state = self.state
        if state.content_image is not None:
            self.content_thumb.object = state.content_image.thumb_png
            if not state.running:  # until a run starts, show what it starts from
                self.preview.object = state.content_image.preview_jpeg
        if state.style_image is not None:
            self.style_thumb.object = state.style_image.thumb_png

    # -- controls -------------------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        state = self.state
        self.alpha = LogSlider(state, "alpha", "α content weight", css_classes=["nst-alpha"])
        self.beta = LogSlider(state, "beta", "β style weight")
        self.tv = LogSlider(state, "tv", "TV weight", allow_zero=True)
        self.lr = LogSlider(state, "lr", "learning rate", default=lambda: nstcore.DEFAULT_LR[state.optimizer])
        self.strength = StyleStrength(state)
        self.ratio = pn.pane.Markdown("", css_classes=["nst-ratio"], margin=(0, 10))
        state.param.watch(lambda *_: self._update_ratio(), ["alpha", "beta"])
        self._update_ratio()
        self.style_rows = LayerRows(
            state, "style_layers", lambda: list(nstcore.layer_names(state.model)), nstcore.PAPER_STYLE_LAYERS
        )
        self.content_layer = pn.widgets.Select(
            label="Content layer",
            options=list(nstcore.layer_names(state.model)),
            value=next(iter(state.content_layers), nstcore.PAPER_CONTENT_LAYER),
            width=135,
        )
        self.content_layer.param.watch(lambda e: setattr(state, "content_layers", {e.new: 1.0}), "value")
        # Our own fixed hints (never a visitor's text), wrapped to the card's width.
        self.content_hint = pn.pane.HTML(
            "", styles={"font-size": "12px", "opacity": "0.8"}, margin=(0, 10), sizing_mode="stretch_width"
        )
        self.content_layer.param.watch(lambda e: self._hint_content(), "value")
        self._hint_content()
        self._syncing_length = False
        self.run_length = pn.widgets.RadioButtonGroup(
            options=list(RUN_LENGTH_LABELS.values()), value=None, color="light", css_classes=["nst-run-length"]
        )
        self.run_length.param.watch(self._run_length_picked, "value")
        state.param.watch(lambda *_: self._sync_run_length(), list(nstcore.run_lengths()["quick"]))
        self._sync_run_length()
        self.examples = PictureButtons(
            items=[
                {"key": i, "src": data_url(example_thumb(c, st)), "caption": example_caption(c, st)}
                for i, (c, st) in enumerate(EXAMPLES, start=1)
            ],
            item_class="nst-example",
            verb="Run the example",
            compact=True,
            sizing_mode="stretch_width",
            css_classes=["nst-examples"],
        )
        self.examples.param.watch(lambda e: self._example_picked(), "presses")
        state.param.watch(self._sync_content_layer, ["content_layers", "model"])
        p = state.param
        limits = state.limits
        size_start, size_end, size_step = field_range("size")
        steps_start, steps_end, _ = field_range("steps")
        scales_start, scales_end, _ = field_range("scales")
        # Two explicit groups: small fields two to a row, and the one wide slider under them.
        self.settings_grid = [
            pn.widgets.Select.from_param(p.model, label="Model", width=135),
            pn.widgets.Select.from_param(p.pooling, label="Pooling", width=135),
            pn.widgets.Select.from_param(p.init, label="Init", width=135),
            pn.widgets.Select.from_param(p.optimizer, label="Optimizer", width=135, css_classes=["nst-optimizer"]),
            pn.widgets.IntInput.from_param(
                p.steps,
                label="Steps",
                start=int(steps_start),
                end=min(int(steps_end), limits.max_steps),
                width=135,
                css_classes=["steps-input"],
            ),
            pn.widgets.IntInput.from_param(
                p.scales, label="Coarse-to-fine scales", start=int(scales_start), end=int(scales_end), width=135
            ),
            pn.widgets.IntInput.from_param(p.seed, label="Seed", width=135),
            pn.widgets.IntInput.from_param(p.preview_every, label="Preview every N steps", width=135),
            pn.widgets.FloatSlider.from_param(p.style_scale, label="Style scale", width=135),
            pn.widgets.Select.from_param(p.loss_norm, label="Loss normalisation", width=135),
            pn.widgets.Select.from_param(p.preserve_colors, label="Keep colours", width=135),
            pn.widgets.Select.from_param(p.generator, label="Paint with", width=135, css_classes=["nst-generator"]),
        ]
        self.settings_wide = [
            pn.widgets.IntSlider.from_param(
                p.size,
                label="Size (px)",
                start=int(size_start),
                end=min(int(size_end), limits.max_size),
                step=int(size_step or 1),
                width=280,
                css_classes=["size-slider"],
            ),
        ]
        self.run_button = pn.widgets.Button(label="▶ Run", color="primary", width=170, css_classes=["nst-run"])
        self.stop_button = pn.widgets.Button(label="■ Stop", color="danger", width=90)
        self.reset_button = pn.widgets.Button(label="Reset", color="light", width=90)
        self.run_button.on_click(clicks(self._run))
        self.stop_button.on_click(clicks(self.state.stop))
        self.reset_button.on_click(clicks(self.state.reset))
        self.config_download = pn.widgets.FileDownload(
            callback=self._config_file,
            filename="nst-config.json",
            label="Download config (JSON)",
            color="light",
            width=280,
        )
        # A config file (a few KB) or a result PNG carrying its settings (as large as an image upload may be).
        self.config_upload = Uploader(
            max_bytes=max(nstcore.MAX_JSON_BYTES, state.limits.max_upload_bytes),
            accepted_filetypes=[".json", ".png"],
            width=280,
            height=80,
            layout="compact",
            css_classes=["upload-config"],
            on_file=self._config_uploaded,
            on_refused=lambda name, size: setattr(
                self.state,
                "error",
                f"{file_label(name, 'The config')} is too large to be a config file or a result PNG; "
                "export one with “Download config”.",
            ),
        )

    def _hint_content(self) -> None:
        self.content_hint.object = as_html(nstcore.layer_hint(self.content_layer.value, "content"))

    def _run_length_picked(self, event: param.parameterized.Event) -> None:
        if self._syncing_length or event.new is None:
            return
        key = next(k for k, label in RUN_LENGTH_LABELS.items() if label == event.new)
        self.state.param.update(**nstcore.run_lengths()[key])

    def _sync_run_length(self) -> None:
        """Quick or Full lights up when the settings are that run length's, neither when the user set their own."""
        s = self.state
        chosen = None
        for key, values in nstcore.run_lengths().items():
            if all(getattr(s, name) == value for name, value in values.items()):
                chosen = RUN_LENGTH_LABELS[key]
        self._syncing_length = True
        try:
            self.run_length.value = chosen
        finally:
            self._syncing_length = False

    def _example_picked(self) -> None:
        """An example: its two sample images, a Quick run, started at once on the Single run tab."""
        state = self.state
        if state.running:
            state.error = "A run is already going; press Stop first or wait for it to finish."
            return
        content, style = EXAMPLES[self.examples.selected - 1]
        if not (state.use_sample("content", content) and state.use_sample("style", style)):
            return
        self._picking = True
        try:
            self.content_sample.value, self.style_sample.value = content, style
        finally:
            self._picking = False
        state.param.update(**nstcore.run_lengths()["quick"])
        self.tabs.active = 0
        state.start()

    def _run(self) -> bool:
        """The one Run button starts what the open tab shows: a single run, or the comparison of its table."""
        return self.state.start_compare() if self.tabs.active == COMPARE_TAB else self.state.start()

    def _update_ratio(self) -> None:
        s = self.state
        ratio = "∞" if s.beta == 0 else f"{s.alpha / s.beta:.1e}"
        self.ratio.object = f"α/β = **{ratio}** (α = {s.alpha:.2g}, β = {s.beta:.2g})"

    def _sync_content_layer(self, event: param.parameterized.Event) -> None:
        names = list(nstcore.layer_names(self.state.model))
        self.content_layer.options = names
        chosen = next((k for k, v in self.state.content_layers.items() if v > 0), nstcore.PAPER_CONTENT_LAYER)
        self.content_layer.value = chosen if chosen in names else nstcore.PAPER_CONTENT_LAYER

    def _config_file(self) -> io.BytesIO:
        try:
            return io.BytesIO(self.state.config_json().encode())
        except nstcore.ConfigError as exc:
            self.state.error = str(exc)
            return io.BytesIO(b"{}")

    def _config_uploaded(self, filename: str, data: bytes) -> None:
        state = self.state

        def refuse(exc: BaseException) -> None:
            state.error = (
                str(exc)
                if isinstance(exc, nstcore.NSTError)
                else f"{file_label(filename, 'The config')} could not be read; export one with “Download config”."
            )

        in_background(
            lambda: state.read_config(data, filename), lambda config: state.apply_config(config, filename), refuse
        )

    # -- outputs --------------------------------------------------------------------------------------------------
    def _build_outputs(self) -> None:
        self.banner = pn.pane.Alert(
            self.state.backend.banner or "",
            alert_type="warning",
            visible=bool(self.state.backend.banner),
            css_classes=["nst-banner"],
        )
        # HTML panes fed only through alert_html (escaped): sentences repeat what visitors typed or uploaded.
        self.error_box = pn.pane.HTML("", visible=False, css_classes=["nst-error"], sizing_mode="stretch_width")
        self.note_box = pn.pane.HTML("", visible=False, css_classes=["nst-note"], sizing_mode="stretch_width")
        self.status = pn.pane.Str(self.state.status, css_classes=["nst-status"])
        self.progress = pn.indicators.Progress(
            value=0, max=100, sizing_mode="stretch_width", max_width=PREVIEW_WIDTH, bar_color="primary"
        )
        # As wide as the screen allows up to PREVIEW_WIDTH, keeping the picture's aspect (a phone shows it full width).
        self.preview = pn.pane.JPG(
            None,
            sizing_mode="scale_width",
            max_width=PREVIEW_WIDTH,
            min_width=200,
            fixed_aspect=True,
            css_classes=["nst-preview"],
            embed=True,
        )
        self._result_png: bytes | None = None
        self.result_download = pn.widgets.FileDownload(
            callback=self._result_file,
            filename="nst-result.png",
            label="Download result (PNG)",
            color="success",
            disabled=True,
            width=200,
        )
        # Time-lapse: the preview frames of the last single run (JPEGs as shown), a scrubber over them once it ended,
        # and GIF/MP4 made on a worker thread when asked for.
        self._frames: nstcore.FrameKeeper[bytes] = nstcore.FrameKeeper()
        self.scrubber = pn.widgets.IntSlider(
            label="Frame",
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
        self._chart_model = ""
        self._new_chart()
        self.chart = pn.pane.Bokeh(self._fig, sizing_mode="stretch_width", min_height=360)
        self.chart_view = pn.widgets.RadioButtonGroup(
            options=["weighted", "unweighted"], value="weighted", color="light", css_classes=["nst-chart-view"]
        )
        self.chart_view.param.watch(lambda e: self._switch_view(), "value")
        self._changes_drawn = 0
        self._encoding = False
        self._waiting_frames: tuple | None = None
        self._refresh_thumbs()

    def _result_file(self) -> io.BytesIO | None:
        return io.BytesIO(self._result_png) if self._result_png else None

    def _show_error(self, event: param.parameterized.Event) -> None:
        message = event.new
        self.error_box.object = alert_html(message)
        self.error_box.visible = bool(message)
        if message and pn.state.notifications is not None:
            pn.state.notifications.error(as_html(message), duration=8000)

    def _sync_buttons(self, *events) -> None:
        running = self.state.running
        self.run_button.disabled = running
        self.stop_button.disabled = not running
        for widget in (*self.settings_grid, *self.settings_wide):  # read once at the start of a run
            widget.disabled = running
        tabs = getattr(self, "tabs", None)
        comparing = tabs is not None and tabs.active == COMPARE_TAB
        self.run_button.label = "▶ Run comparison" if comparing else "▶ Run"

    # -- the session's clock ----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Runs on the session's event loop every FRAME_PERIOD_MS: apply what the worker handed over. Frames are
        encoded on a worker thread and shown when ready (only the newest waits; older ones are skipped)."""
        state = self.state
        while state.announcements:  # the host's broadcast: text, escaped
            text = state.announcements.pop(0)
            if pn.state.notifications is not None:
                pn.state.notifications.info(as_html(text), duration=15000)
            self.announced += 1
        if not state.has_job:
            return
        handover = state.poll()
        if state.mode == "compare":
            self.compare.apply_rows(handover)
        elif handover.rows:
            self._stream_rows([(s, losses[0]) for s, losses in handover.rows])
            self.points_streamed += len(handover.rows)
        if state.mode == "single":
            self._mark_changes()
        if handover.frames is not None:
            self._waiting_frames = handover.frames
            self._encode_frames()
        self.status.object = state.status
        if handover.notes:  # e.g. "8 variants run as 2 batches of up to 4 to fit in the device's memory"
            self.note_box.object = alert_html(" ".join(handover.notes), "info")
            self.note_box.visible = True
        if state.total_steps:
            self.progress.value = int(100 * state.step / state.total_steps)
        if handover.finished:
            self._prepare_downloads()
        state.request_frame()

    def _new_chart(self) -> None:
        """One chart per session (and per network), with a line for every term any run of it can have: a run start
        only shows its own lines and empties the data. A new figure per run made Bokeh re-walk the whole page's
        models on the loop every page shares (up to seconds with a room of pages running)."""
        self._chart_model = self.state.model
        self._terms = loss_terms(list(nstcore.layer_names(self._chart_model)), self.state.limits.max_styles)
        self._fig, self._source = loss_figure(self._terms)
        self._show_terms(loss_terms([k for k, v in self.state.style_layers.items() if v > 0]))

    def _show_terms(self, shown: list[str]) -> None:
        """Show the lines (and legend entries) of ``shown``, empty the data and the change markers."""
        if self._chart_model != self.state.model:  # another network has other layers
            self._new_chart()
            self.chart.object = self._fig
            return
        fig = self._fig
        self._shown_keys = [column_key(term) for term in shown if term in self._terms]
        show_lines(fig, self._source, self._shown_keys)
        clear_changes(fig)
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
        """New loss rows: both views computed now (the weights of this moment), the shown one streamed."""
        columns = rows_to_columns(rows, self._terms, self._weights())
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

    def _weights(self) -> dict[str, float]:
        """Each chart term's weight as the run has it now (its start settings, updated as they were steered)."""
        r = self.state.run.record
        if not r:
            return {}
        return term_weights(
            r["alpha"], r["beta"], r["tv"], r["content_layers"], r["style_layers"], r.get("style_blend") or ()
        )

    def _mark_changes(self) -> None:
        """A labelled marker on the chart for each change steered into the run since the last tick."""
        changes = self.state.run.changes
        fig = self.chart.object
        while self._changes_drawn < len(changes):
            change = changes[self._changes_drawn]
            mark_change(fig, change["step"], self.state.run.describe_change(change), self._changes_drawn)
            self._changes_drawn += 1
            self.changes_marked += 1

    def _encode_frames(self) -> None:
        if self._encoding or self._waiting_frames is None:
            return
        frames, self._waiting_frames, self._encoding = self._waiting_frames, None, True
        mode = self.state.mode

        def show(jpegs: list[bytes]) -> None:
            self._encoding = False
            if mode == "compare":
                self.compare.apply_frames(jpegs)
            else:
                self.frame_bytes = len(jpegs[0])
                self.preview.object = jpegs[0]
                self.frames_shown += 1
                self._frames.offer(jpegs[0])
                self._sync_scrubber()
            self._encode_frames()

        def failed(exc: BaseException) -> None:
            self._encoding = False
            self.state.log_failure("preview", exc)

        in_background(lambda: [encode_jpeg(frame) for frame in frames], show, failed)

    def _share(self) -> None:
        """Put the finished result on the projector wall (its maker chose to); once per result."""
        state = self.state
        frames, style = list(state.result or ())[:1], state.style
        if not frames or style is None:
            return
        self.share.disabled = True
        name = self.wall_name.value or ""

        def shared(images: tuple[bytes, bytes]) -> None:
            WALL.share(state.session_id, name, *images)
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

    def _sync_scrubber(self) -> None:
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
        if not getattr(self, "_scrubbing", False) and 0 <= event.new < len(self._frames):
            self.preview.object = self._frames.frames[event.new]

    def _make_timelapse(self) -> None:
        kind = self.timelapse_kind.value.lower()
        frames = list(self._frames.frames)
        state = self.state
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

        in_background(lambda: timelapse_from_jpegs(frames, kind), ready, failed)

    def _prepare_downloads(self) -> None:
        """The run ended: encode its result PNG (or the comparison's grid) on a worker, then offer the download."""
        state = self.state
        if state.mode == "compare":
            in_background(state.grid_png, self.compare.set_grid_png, lambda exc: state.log_failure("grid", exc))
            in_background(state.cell_pngs, self.compare.set_cell_pngs, lambda exc: state.log_failure("cells", exc))
            return
        self.enlarge.disabled = not state.result
        self.share.disabled, self.share.label = not state.result, "Share to wall"

        def ready(data: bytes | None) -> None:
            self._result_png = data
            self.result_download.filename = state.result_filename()
            self.result_download.disabled = data is None

        def remember(item: HistoryItem | None) -> None:
            if item is not None:
                self.history.add(item)

        self._sync_scrubber()
        in_background(state.result_png, ready, lambda exc: state.log_failure("result", exc))
        number = state.history.next_number()
        in_background(lambda: state.history_entry(number), remember, lambda exc: state.log_failure("history", exc))

    def _run_started(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.note_box.visible = False
            self._waiting_frames = None
        if event.new and self.state.mode == "compare":
            self.compare.started()
            self.progress.value = 0
        elif event.new:  # a fresh chart whose lines are this run's terms
            self._result_png = None
            self.result_download.disabled = True
            self._frames, self._timelapse = nstcore.FrameKeeper(), None
            self.enlarge.disabled, self.zoomed.visible = True, False
            self.share.disabled, self.share.label = True, "Share to wall"
            self.enlarge.label = "Enlarge / zoom"
            self.timelapse_download.disabled = True
            self._sync_scrubber()
            run_layers = [k for k, v in self.state.style_layers.items() if v > 0]
            self._show_terms(loss_terms(nstcore.sort_layers(self.state.model, run_layers), self.state.run.styles))
            self._changes_drawn = 0
            self.progress.value = 0

    # -- page ---------------------------------------------------------------------------------------------------------
    def sidebar(self) -> list[pn.viewable.Viewable]:
        """Inputs and controls: the template's sidebar (stacked under the result on a phone)."""

        def caption(text: str) -> pn.pane.HTML:  # fixed text of ours, never a visitor's
            return pn.pane.HTML(text, styles={"font-size": "13px"}, margin=(6, 10, 0, 10))

        images = pn.Card(
            caption("<b>Try an example</b>: one click loads the pair and runs it (Quick)"),
            self.examples,
            pn.Row(pn.Column(self.content_sample, self.content_thumb), pn.Column(self.style_sample, self.style_thumb)),
            caption("Your own content image"),
            self.content_upload,
            caption("Your own style image"),
            self.style_upload,
            title="Images",
            collapsible=False,
            width=CARD_WIDTH,
        )
        style = pn.Card(
            self.strength,
            self.ratio,
            self.content_layer,
            self.content_hint,
            pn.pane.Markdown("**Style layers** (switch, weight · what each adds)", margin=(5, 10, 0, 10)),
            self.style_rows,
            title="Style (live during a run)",
            width=CARD_WIDTH,
            css_classes=["nst-style-card"],
        )
        advanced = pn.Card(
            self.alpha,
            self.beta,
            self.tv,
            self.lr,
            title="Advanced weights (live)",
            width=CARD_WIDTH,
            collapsed=True,
            css_classes=["nst-advanced-card"],
        )
        settings = pn.Card(
            pn.GridBox(*self.settings_grid, ncols=2),
            *self.settings_wide,
            title="Run settings",
            width=CARD_WIDTH,
            collapsed=True,
            css_classes=["nst-settings-card"],
        )
        config = pn.Card(
            self.config_download,
            caption("Load settings: a config JSON, or a result PNG from this tool (it carries its settings)"),
            self.config_upload,
            title="Config",
            width=CARD_WIDTH,
            collapsed=True,
        )
        self.styles.card.width = self.instant.card.width = CARD_WIDTH
        cards: list[pn.viewable.Viewable] = [
            images,
            style,
            self.styles.card,
            self.instant.card,
            advanced,
            settings,
            config,
        ]
        with_focus_ring(*cards)
        return cards

    def main(self) -> list[pn.viewable.Viewable]:
        """Run, status and results: the template's main area."""
        buttons = pn.FlexBox(
            self.run_button,
            self.stop_button,
            self.reset_button,
            self.run_length,
            align_items="center",
            css_classes=["nst-run-bar"],
        )
        with_focus_ring(buttons, self.tabs.bar, self.tabs.views[0], self.compare, self.history)
        return [
            pn.Column(
                self.banner,
                self.error_box,
                self.note_box,
                buttons,
                self.status,
                self.progress,
                self.tabs,
                sizing_mode="stretch_width",
            )
        ]

    def __panel__(self) -> pn.viewable.Viewable:
        """The page without a template (in-process tests, notebooks)."""
        return pn.Row(pn.Column(*self.sidebar(), width=SIDEBAR_WIDTH), *self.main(), sizing_mode="stretch_width")
