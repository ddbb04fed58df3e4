"""The controls of a run: the Style card (live), Advanced weights (live), Run settings (read at the start) and the
Config card (download the settings, load a config JSON or a result PNG), and the Quick/Full run length."""

from __future__ import annotations

import io
import math
from typing import Any

import panel as pn
import param

import nstcore

from ..session.config_params import field_metadata, field_range
from ..session.current_run import about
from ..session.state import SessionState
from ..session.text import as_html, file_label
from .inputs import caption
from .layers import LayerRows
from .loop import in_background
from .two_way import NoEcho
from .uploads import Uploader
from .widgets import LogSlider, StyleStrength

# What the weights mean, in a sentence each (hover or focus shows them; a screen reader reads them with the slider).
EXPLAIN = {
    "alpha": "How strongly the picture keeps the photo's content: its layout and objects.",
    "beta": "How strongly the picture takes on the painting's style: its textures, strokes and colours.",
    "tv": "Smooths the picture: more removes speckle, off (the default) keeps every detail.",
    "lr": "How far each step moves the pixels; too high and the loss jumps about.",
    "content_layers": "The network layer whose response must stay the photo's: deeper keeps objects, shallower "
    "keeps fine detail.",
}
# The settings that get their StyleConfig help text (the one source of it) as an explanation on hover and focus.
EXPLAINED_FIELDS = (
    "model",
    "pooling",
    "init",
    "optimizer",
    "steps",
    "scales",
    "seed",
    "preview_every",
    "style_scale",
    "loss_norm",
    "preserve_colors",
    "generator",
    "size",
)

RUN_LENGTH_LABELS = {"quick": "Quick", "full": "Full"}  # each followed by its time here, once the server knows it


class ControlsView:
    """Every setting of one session's next run, and the weights of its running one."""

    def __init__(self, state: SessionState) -> None:
        self.state = state
        self.alpha = LogSlider(state, "alpha", "α content weight", css_classes=["nst-alpha"], describe=EXPLAIN["alpha"])
        self.beta = LogSlider(state, "beta", "β style weight", describe=EXPLAIN["beta"])
        self.tv = LogSlider(state, "tv", "TV weight", allow_zero=True, describe=EXPLAIN["tv"])
        self.lr = LogSlider(
            state,
            "lr",
            "learning rate",
            default=lambda: nstcore.DEFAULT_LR[state.optimizer],
            describe=EXPLAIN["lr"],
        )
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
            css_classes=["nst-explain-content_layers"],
        )
        pn.bind(lambda layer: setattr(state, "content_layers", {layer: 1.0}), self.content_layer, watch=True)
        # Our own fixed hints (never a visitor's text), wrapped to the card's width.
        self.content_hint = pn.pane.HTML(
            "", styles={"font-size": "12px", "opacity": "0.8"}, margin=(0, 10), sizing_mode="stretch_width"
        )
        self.content_layer.param.watch(lambda e: self._hint_content(), "value")
        self._hint_content()
        state.param.watch(self._sync_content_layer, ["content_layers", "model"])
        self.run_length = pn.widgets.RadioButtonGroup(
            options=self._length_options(), value=None, color="light", css_classes=["nst-run-length"]
        )
        no_echo = NoEcho()
        self.run_length.param.watch(no_echo(self._run_length_picked), "value")
        # A finished run teaches the server its speed: the times beside Quick and Full follow.
        state.param.watch(no_echo(lambda *_: self._sync_run_length()), [*self._lengths()["quick"], "running"])
        self._sync_run_length()
        self._build_settings()
        self._build_config()

    def _build_settings(self) -> None:
        """Run settings: small fields two to a row, and the one wide slider under them; each carries the CSS class
        the page's tooltips find it by (``nst-explain-<field>``)."""
        p = self.state.param
        limits = self.state.limits
        size_start, size_end, size_step = field_range("size")
        steps_start, steps_end, _ = field_range("steps")
        scales_start, scales_end, _ = field_range("scales")

        def setting(kind: Any, name: str, label: str, *classes: str, width: int = 135, **options: Any) -> Any:
            css = [*classes, f"nst-explain-{name}"]
            return kind.from_param(getattr(p, name), label=label, width=width, css_classes=css, **options)

        self.settings_grid = [
            setting(pn.widgets.Select, "model", "Model"),
            setting(pn.widgets.Select, "pooling", "Pooling"),
            setting(pn.widgets.Select, "init", "Init"),
            setting(pn.widgets.Select, "optimizer", "Optimizer", "nst-optimizer"),
            setting(
                pn.widgets.IntInput,
                "steps",
                "Steps",
                "steps-input",
                start=int(steps_start),
                end=min(int(steps_end), limits.max_steps),
            ),
            setting(
                pn.widgets.IntInput,
                "scales",
                "Coarse-to-fine scales",
                "nst-scales",
                start=int(scales_start),
                end=int(scales_end),
            ),
            setting(pn.widgets.IntInput, "seed", "Seed"),
            setting(pn.widgets.IntInput, "preview_every", "Preview every N steps"),
            setting(pn.widgets.FloatSlider, "style_scale", "Style scale"),
            setting(pn.widgets.Select, "loss_norm", "Loss normalisation"),
            setting(pn.widgets.Select, "preserve_colors", "Keep colours"),
            setting(pn.widgets.Select, "generator", "Paint with", "nst-generator"),
        ]
        self.settings_wide = [
            setting(
                pn.widgets.IntSlider,
                "size",
                "Size (px)",
                "size-slider",
                width=280,
                start=int(size_start),
                end=min(int(size_end), limits.max_size),
                step=int(size_step or 1),
            ),
        ]

    def _build_config(self) -> None:
        state = self.state
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

    @staticmethod
    def explanations() -> dict[str, str]:
        """CSS class -> explanation, for the page's tooltips (reach.PageFixes): each setting's help text from
        StyleConfig, and the content layer's."""
        texts = {f"nst-explain-{name}": str(field_metadata(name).get("help", "")) for name in EXPLAINED_FIELDS}
        texts["nst-explain-content_layers"] = EXPLAIN["content_layers"]
        return texts

    def lock_settings(self, running: bool) -> None:
        """Run settings are read once at the start of a run: locked while one goes."""
        for widget in (*self.settings_grid, *self.settings_wide):
            widget.disabled = running

    def _hint_content(self) -> None:
        self.content_hint.object = as_html(nstcore.layer_hint(self.content_layer.value, "content"))

    def _run_length_picked(self, event: param.parameterized.Event) -> None:
        if event.new is None:
            return
        self.state.param.update(**self._lengths()[event.new])

    def _lengths(self) -> dict[str, dict[str, Any]]:
        """Quick's and Full's settings on this server: sizes from its device's measured speed."""
        return self.state.backend.run_lengths(self.state.limits.max_size)

    def _length_options(self) -> dict[str, str]:
        """Quick and Full (label -> key), each with how long it takes on this server and the picture it makes
        ("Quick ~10 s · 256 px"): the time from the device's calibration and the runs it finished (none before
        either)."""
        try:
            base = self.state.config()
        except nstcore.ConfigError:
            base = nstcore.StyleConfig()
        content = self.state.content
        size = content.size if content is not None else (4, 3)
        options = {}
        for key, values in self._lengths().items():
            seconds = self.state.run.estimate(base.replace(**values), size)
            time = f" {about(seconds, short=True)}" if seconds is not None else ""
            options[f"{RUN_LENGTH_LABELS[key]}{time} · {values['size']} px"] = key
        return options

    def _sync_run_length(self) -> None:
        """Quick or Full lights up when the settings are that run length's, neither when the user set their own;
        their times follow what the server has measured."""
        s = self.state
        chosen = None
        for key, values in self._lengths().items():
            if all(getattr(s, name) == value for name, value in values.items()):
                chosen = key
        options = self._length_options()
        if options != self.run_length.options:
            self.run_length.options = options
        self.run_length.value = chosen

    def _update_ratio(self) -> None:
        s = self.state
        ratio = nstcore.paper_number(s.alpha / s.beta if s.beta else math.inf)  # as the paper writes it
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

    def cards(self, width: int) -> list[pn.Card]:
        """Style (live), Advanced weights (live), Run settings, Config."""
        style = pn.Card(
            self.strength,
            self.content_layer,
            self.content_hint,
            pn.pane.Markdown("**Style layers** (switch, weight · what each adds)", margin=(5, 10, 0, 10)),
            self.style_rows,
            title="Style (live during a run)",
            width=width,
            css_classes=["nst-style-card"],
        )
        advanced = pn.Card(
            self.ratio,  # the exact ratio, for those who read the paper: not beside the newcomer's slider
            self.alpha,
            self.beta,
            self.tv,
            self.lr,
            title="Advanced weights (live)",
            width=width,
            collapsed=True,
            css_classes=["nst-advanced-card"],
        )
        settings = pn.Card(
            pn.GridBox(*self.settings_grid, ncols=2),
            *self.settings_wide,
            title="Run settings",
            width=width,
            collapsed=True,
            css_classes=["nst-settings-card"],
        )
        config = pn.Card(
            self.config_download,
            caption("Load settings: a config JSON, or a result PNG from this tool (it carries its settings)"),
            self.config_upload,
            title="Config",
            width=width,
            collapsed=True,
        )
        return [style, advanced, settings, config]
