"""The page: inputs and controls on the left, the live preview, status and loss chart on the right.

Every widget is created here, per session. Bokeh models (the preview, the chart's data source, the status) are only
changed from a periodic callback on the session's own event loop; the run's worker thread never touches them.
"""

from __future__ import annotations

import io

import numpy as np

import panel as pn
import param

import nstcore

from .charts import loss_figure, loss_terms, rows_to_columns
from .compare_view import CompareView
from .imaging import encode_jpeg, thumbnail
from .samples import DEFAULT_CONTENT, DEFAULT_STYLE, sample_names
from .state import SessionState
from .widgets import LayerRows, LogSlider

PREVIEW_SIDE = 840  # 2x the preview pane, sharp on high-density screens
FRAME_PERIOD_MS = 200  # 5 frames/s at most: smooth enough to watch, cheap for a server with many sessions

CSS = """
.nst-preview img { image-rendering: auto; border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.25); }
.nst-status { font-family: ui-monospace, monospace; font-size: 13px; }
.nst-ratio { font-size: 12px; color: #555; }
"""


class Dashboard(pn.viewable.Viewer):
    """Layout and widgets of one session, bound to a :class:`SessionState`."""

    frames_shown = param.Integer(default=0, doc="Preview frames sent to the browser (for tests and benchmarks).")
    points_streamed = param.Integer(default=0, doc="Loss rows sent to the chart.")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__(**params)
        self.state = state
        self._terms: list[str] = []
        self._source = None
        self.frame_bytes = 0
        self._build_inputs()
        self._build_controls()
        self._build_outputs()
        self.compare = CompareView(state)
        state.param.watch(self._show_error, "error")
        state.param.watch(self._sync_buttons, "running")
        state.param.watch(self._run_started, "running")
        self._sync_buttons()

    # -- inputs ---------------------------------------------------------------------------------------------------
    def _build_inputs(self) -> None:
        state = self.state
        self.content_sample = pn.widgets.Select(label="Sample content", options=sample_names("content"),
                                                value=DEFAULT_CONTENT, width=135)
        self.style_sample = pn.widgets.Select(label="Sample style", options=sample_names("style"),
                                              value=DEFAULT_STYLE, width=135)
        self.content_sample.param.watch(lambda e: state.use_sample("content", e.new), "value")
        self.style_sample.param.watch(lambda e: state.use_sample("style", e.new), "value")
        accept = ".jpg,.jpeg,.png,.webp,.bmp,.tif,.tiff,.gif,image/*"
        self.content_upload = pn.widgets.FileInput(accept=accept, label="Upload content", width=135,
                                                   css_classes=["upload-content"])
        self.style_upload = pn.widgets.FileInput(accept=accept, label="Upload style", width=135,
                                                 css_classes=["upload-style"])
        self.content_upload.param.watch(lambda e: self._uploaded("content", self.content_upload), "value")
        self.style_upload.param.watch(lambda e: self._uploaded("style", self.style_upload), "value")
        self.content_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True)
        self.style_thumb = pn.pane.PNG(None, width=135, height=110, fixed_aspect=True)
        state.param.watch(lambda e: self._refresh_thumbs(), ["content_name", "style_name"])
        self._refresh_thumbs()

    def _uploaded(self, role: str, widget: pn.widgets.FileInput) -> None:
        if widget.value:
            self.state.set_image(role, widget.value, widget.filename or f"{role} upload")

    def _refresh_thumbs(self) -> None:
        if self.state.content is not None:
            self.content_thumb.object = thumbnail(self.state.content)
            if not self.state.running and hasattr(self, "preview"):  # until a run starts, show what it starts from
                shown = self.state.content.copy()
                shown.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))  # an upload may be 12 MP; the pane is 420 px wide
                self.preview.object = encode_jpeg(np.asarray(shown))
        if self.state.style is not None:
            self.style_thumb.object = thumbnail(self.state.style)

    # -- controls -------------------------------------------------------------------------------------------------
    def _build_controls(self) -> None:
        state = self.state
        self.alpha = LogSlider(state, "alpha", "α content weight", -4, 4, css_classes=["nst-alpha"])
        self.beta = LogSlider(state, "beta", "β style weight", 0, 10)
        self.tv = LogSlider(state, "tv", "TV weight", -6, 3, allow_zero=True)
        self.lr = LogSlider(state, "lr", "learning rate", -3, 1,
                            default=lambda: nstcore.DEFAULT_LR[state.optimizer])
        self.ratio = pn.pane.Markdown("", css_classes=["nst-ratio"], margin=(0, 10))
        state.param.watch(lambda e: self._update_ratio(), ["alpha", "beta"])
        self._update_ratio()
        self.style_rows = LayerRows(state, "style_layers", lambda: list(nstcore.layer_names(state.model)),
                                    nstcore.PAPER_STYLE_LAYERS)
        self.content_layer = pn.widgets.Select(label="Content layer", options=list(nstcore.layer_names(state.model)),
                                               value=next(iter(state.content_layers), nstcore.PAPER_CONTENT_LAYER),
                                               width=135)
        self.content_layer.param.watch(lambda e: setattr(state, "content_layers", {e.new: 1.0}), "value")
        state.param.watch(self._sync_content_layer, ["content_layers", "model"])
        p = state.param
        limits = state.limits
        self.settings = [
            pn.widgets.Select.from_param(p.model, label="Model", width=135),
            pn.widgets.Select.from_param(p.pooling, label="Pooling", width=135),
            pn.widgets.Select.from_param(p.init, label="Init", width=135),
            pn.widgets.Select.from_param(p.optimizer, label="Optimizer", width=135),
            pn.widgets.IntSlider.from_param(p.size, label="Size (px)", start=32, end=limits.max_size, step=16,
                                            width=280, css_classes=["size-slider"]),
            pn.widgets.IntInput.from_param(p.steps, label="Steps", start=1, end=limits.max_steps, width=135,
                                           css_classes=["steps-input"]),
            pn.widgets.IntInput.from_param(p.scales, label="Coarse-to-fine scales", start=1, end=4, width=135),
            pn.widgets.IntInput.from_param(p.seed, label="Seed", width=135),
            pn.widgets.IntInput.from_param(p.preview_every, label="Preview every N steps", width=135),
            pn.widgets.FloatSlider.from_param(p.style_scale, label="Style scale", width=135),
            pn.widgets.Select.from_param(p.loss_norm, label="Loss normalisation", width=135),
        ]
        self.run_button = pn.widgets.Button(label="▶ Run", color="primary", width=90)
        self.stop_button = pn.widgets.Button(label="■ Stop", color="danger", width=90)
        self.reset_button = pn.widgets.Button(label="Reset", color="light", width=90)
        self.run_button.on_click(lambda e: self.state.start())
        self.stop_button.on_click(lambda e: self.state.stop())
        self.reset_button.on_click(lambda e: self.state.reset())
        self.config_download = pn.widgets.FileDownload(callback=self._config_file, filename="nst-config.json",
                                                       label="Download config (JSON)", color="light",
                                                       width=280)
        self.config_upload = pn.widgets.FileInput(accept=".json,application/json", label="Load config",
                                                  css_classes=["upload-config"], width=280)
        self.config_upload.param.watch(self._config_uploaded, "value")

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

    def _config_uploaded(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.state.apply_config_json(event.new, self.config_upload.filename or "config")

    # -- outputs --------------------------------------------------------------------------------------------------
    def _build_outputs(self) -> None:
        self.banner = pn.pane.Alert(self.state.backend.banner or "", alert_type="warning",
                                    visible=bool(self.state.backend.banner), css_classes=["nst-banner"])
        self.error_box = pn.pane.Alert("", alert_type="danger", visible=False, css_classes=["nst-error"])
        self.note_box = pn.pane.Alert("", alert_type="info", visible=False, css_classes=["nst-note"])
        self.status = pn.pane.Str(self.state.status, css_classes=["nst-status"])
        self.progress = pn.indicators.Progress(value=0, max=100, width=420, bar_color="primary")
        self.preview = pn.pane.JPG(None, width=420, height=420, fixed_aspect=True, css_classes=["nst-preview"],
                                   embed=True)
        self.result_download = pn.widgets.FileDownload(callback=self._result_file, filename="nst-result.png",
                                                       label="Download result (PNG)", color="success",
                                                       disabled=True, width=200)
        fig, self._source = loss_figure(loss_terms(list(self.state.style_layers)))
        self.chart = pn.pane.Bokeh(fig, sizing_mode="stretch_width", min_height=330)
        self._refresh_thumbs()

    def _result_file(self) -> io.BytesIO | None:
        data = self.state.result_png()
        return io.BytesIO(data) if data else None

    def _show_error(self, event: param.parameterized.Event) -> None:
        message = event.new
        self.error_box.object = message
        self.error_box.visible = bool(message)
        if message and pn.state.notifications is not None:
            pn.state.notifications.error(message, duration=8000)

    def _sync_buttons(self, *events) -> None:
        running = self.state.running
        self.run_button.disabled = running
        self.stop_button.disabled = not running

    # -- the session's clock ----------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Runs on the session's event loop every FRAME_PERIOD_MS: apply what the worker handed over."""
        state = self.state
        if not state.has_job:
            return
        handover = state.poll()
        if state.mode == "compare":
            self.compare.apply(handover)
        elif handover.rows:
            self._source.stream(rows_to_columns([(s, losses[0]) for s, losses in handover.rows], self._terms))
            self.points_streamed += len(handover.rows)
        if handover.frames is not None and state.mode == "single":
            data = encode_jpeg(handover.frames[0])
            self.frame_bytes = len(data)
            self.preview.object = data
            self.frames_shown += 1
            self.result_download.disabled = False
        self.status.object = state.status
        if handover.notes:  # e.g. "8 variants run as 2 batches of up to 4 to fit in the device's memory"
            self.note_box.object = " ".join(handover.notes)
            self.note_box.visible = True
        if state.total_steps:
            self.progress.value = int(100 * state.step / state.total_steps)
        state.request_frame()

    def _run_started(self, event: param.parameterized.Event) -> None:
        if event.new:
            self.note_box.visible = False
        if event.new and self.state.mode == "compare":
            self.compare.started()
            self.progress.value = 0
        elif event.new:  # a fresh chart whose lines are this run's terms
            run_layers = [k for k, v in self.state.style_layers.items() if v > 0]
            self._terms = loss_terms(nstcore.sort_layers(self.state.model, run_layers))
            fig, self._source = loss_figure(self._terms)
            self.chart.object = fig
            self.progress.value = 0

    # -- page ---------------------------------------------------------------------------------------------------------
    def __panel__(self) -> pn.viewable.Viewable:
        images = pn.Card(
            pn.Row(pn.Column(self.content_sample, self.content_upload, self.content_thumb),
                   pn.Column(self.style_sample, self.style_upload, self.style_thumb)),
            title="Images", collapsible=False, width=320)
        weights = pn.Card(self.alpha, self.beta, self.ratio, self.tv, self.content_layer,
                          pn.pane.Markdown("**Style layers** (switch, weight)", margin=(5, 10, 0, 10)),
                          self.style_rows, title="Weights (live during a run)", width=320)
        settings = pn.Card(pn.GridBox(*[w for w in self.settings if w.width == 135], ncols=2),
                           *[w for w in self.settings if w.width != 135], self.lr,
                           title="Run settings", width=320, collapsed=False)
        config = pn.Card(self.config_download, self.config_upload, title="Config", width=320, collapsed=True)
        sidebar = pn.Column(pn.Row(self.run_button, self.stop_button, self.reset_button), images, weights,
                            settings, config, width=340)
        single = pn.Row(self.preview, pn.Column(self.chart, self.result_download, sizing_mode="stretch_width"),
                        sizing_mode="stretch_width")
        self.tabs = pn.Tabs(("Single run", single), ("Compare", self.compare), dynamic=False,
                            sizing_mode="stretch_width")
        main = pn.Column(
            self.banner, self.error_box, self.note_box,
            pn.Row(self.status), self.progress,
            self.tabs,
            sizing_mode="stretch_width",
        )
        return pn.Row(sidebar, main, sizing_mode="stretch_width")
