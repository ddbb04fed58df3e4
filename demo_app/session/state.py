"""One browser session's state: the chosen images, every run setting, and the run in progress.

Separate from the views (``demo_app/views``) so it can be tested without a server or a browser. The settings are the
parameters of :class:`~demo_app.session.config_params.ConfigParams`, i.e. nstcore's ``StyleConfig`` fields; those that
the engine reads at every step (alpha, beta, TV, lr, layer weights) are forwarded to the running job's
``nstcore.Controls`` as soon as they change, so the next steps use them (Gatys et al.'s objective, steered live).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

import param
from PIL import Image

import nstcore

from ..jobs.backend import Backend
from ..jobs.scheduler import Handover, SchedulerError
from .config_params import CONFIG_PARAM_NAMES, LIVE_FIELDS, ConfigParams
from .current_run import CurrentRun
from .history import History, HistoryItem, make_item
from .imaging import PreparedImage, PreparedMask, prepare_image, prepare_mask
from .limits import Limits
from .samples import DEFAULT_CONTENT, DEFAULT_STYLE, sample_image, sample_names
from .text import MAX_NAME, capped, file_label

log = logging.getLogger("demo_app")


class SessionState(ConfigParams):  # type: ignore[misc, valid-type]  # a class made at import from StyleConfig
    """Settings (from StyleConfig) plus images, status and the current job of one session."""

    content_name = param.String(default="", doc="What the content image is called on the page (capped text).")
    style_name = param.String(default="", doc="What the style image is called on the page (capped text).")
    images_version = param.Integer(default=0, doc="Counts image changes (a same-named upload is a change too).")
    styles_version = param.Integer(default=0, doc="Counts changes to the extra style images and the masks.")
    mask_note = param.String(default="", doc="Why the masks were cleared, when they were (our text).")
    trained_version = param.Integer(default=0, doc="Counts generators this session trained (instant styles).")
    running = param.Boolean(default=False, doc="A job of this session is running.")
    status = param.String(default="Ready.", doc="One line about the current run.")
    error = param.String(default="", doc="The last problem, as a sentence for people.")
    step = param.Integer(default=0)
    total_steps = param.Integer(default=0)
    mode: param.Selector = param.Selector(
        default="single", objects=["single", "compare"], doc="Kind of the current/last job."
    )
    preset: param.Selector = param.Selector(
        default="style_layers", objects=list(nstcore.PRESETS), doc="Comparison preset."
    )
    variants = param.List(default=[], doc="Comparison rows: label, alpha, beta, tv, content/style layers, pooling.")
    compare_shared = param.Dict(
        default={}, doc="Shared settings the loaded preset needs (e.g. init=noise), for the comparison only."
    )

    def __init__(self, backend: Backend, limits: Limits | None = None, client: str = "", **params: Any) -> None:
        super().__init__(**params)
        self.backend = backend
        self.limits = limits or Limits()
        self.client = client  # the visitor's address (per-client job cap); "" when unknown
        self.content: Image.Image | None = None
        self.style: Image.Image | None = None
        self.content_image: PreparedImage | None = None  # with its thumbnail and preview, ready to show
        self.style_image: PreparedImage | None = None
        # Style images 2, 3 ... (blended with the first by style_blend, or each in its region by a mask)
        self.extra_styles: list[PreparedImage] = []
        # Regions: style index (0 = the first style) -> its mask, in the content image's frame
        self.masks: dict[int, PreparedMask] = {}
        # The generator this session's last hrnet run trained: (weights on the CPU, its config)
        self.trained: tuple[dict[str, Any], nstcore.StyleConfig] | None = None
        self._trained_pending: dict[str, Any] | None = None  # the running generator's latest weights
        self.result: tuple[Any, ...] | None = None  # last frames (numpy arrays) of the last run
        self.session_id = uuid.uuid4().hex
        self.created = time.time()
        self._restoring = False
        self.notes: tuple[str, ...] = ()
        self.announcements: list[str] = []  # the host's messages, shown by the page's next tick
        self.run = CurrentRun(backend, self.limits, self.session_id, client)
        self.history = History(self.limits.history_size)
        self.last_losses: dict[str, float] = {}  # the last step's terms of a single run (for its history entry)
        self._run_content_jpeg = b""  # the content image the current run started from (before/after)
        self.param.watch(self._forward_live_change, list(LIVE_FIELDS))
        self.param.watch(self._optimizer_changed, ["optimizer"])
        self.param.watch(self._model_changed, ["model"])
        self.use_sample("content", DEFAULT_CONTENT)
        self.use_sample("style", DEFAULT_STYLE)
        self.load_preset("pooling")

    # -- images ---------------------------------------------------------------------------------------------------
    def use_sample(self, role: str, name: str) -> bool:
        try:
            prepared = sample_image(role, name, self.limits.upload_side)
        except (OSError, ValueError, nstcore.ImageError):
            self.error = f"Sample {capped(name, MAX_NAME)} is not available."
            return False
        self.apply_image(role, prepared)
        return True

    def prepare_upload(self, data: bytes, filename: str) -> PreparedImage:
        """Check and decode an upload (thread-safe, touches no state): raises ``nstcore.ImageError`` with one
        sentence naming the file. Slow for large files: the page calls it on a worker thread."""
        return prepare_image(data, file_label(filename, "the upload"), self.limits)

    def apply_image(self, role: str, prepared: PreparedImage) -> None:
        """Make a prepared image the content or style image (on the session's loop). A new upload always replaces
        the old one, even under the same file name: ``images_version`` changes every time."""
        if role == "content":
            self.content, self.content_image = prepared.image, prepared
            if self.masks:  # painted over the old picture: they mean nothing on this one
                self.masks = {}
                self.mask_note = "The regions were cleared: they belonged to the previous content image."
                self.styles_version += 1
        else:
            self.style, self.style_image = prepared.image, prepared
        self.param.update(**{f"{role}_name": prepared.name, "error": "", "images_version": self.images_version + 1})

    def set_image(self, role: str, data: bytes, filename: str) -> bool:
        """Use uploaded bytes as the content or style image, all at once (tests, scripts). On any problem: keep the
        previous image, set ``error`` to one sentence naming the file and the reason, return False."""
        try:
            prepared = self.prepare_upload(data, filename)
        except nstcore.ImageError as exc:
            self.error = str(exc)
            return False
        self.apply_image(role, prepared)
        return True

    # -- several styles and their regions ---------------------------------------------------------------------------
    @property
    def style_count(self) -> int:
        return 1 + len(self.extra_styles)

    def add_style(self, prepared: PreparedImage) -> bool:
        """Add a style image to blend (on the session's loop); its weight starts equal to the others'."""
        if self.style_count >= self.limits.max_styles:
            self.error = f"This server blends at most {self.limits.max_styles} style images; remove one first."
            return False
        self.extra_styles = [*self.extra_styles, prepared]
        self._blend_for(self.style_count)
        self.param.update(error="", styles_version=self.styles_version + 1)
        return True

    def remove_style(self, index: int) -> None:
        """Remove style image ``index`` (1 = the first extra one; the first style is replaced, never removed)."""
        if not 1 <= index < self.style_count:
            return
        self.extra_styles = [p for i, p in enumerate(self.extra_styles, start=1) if i != index]
        self.masks = {(i if i < index else i - 1): m for i, m in self.masks.items() if i != index}
        blend = [w for i, w in enumerate(self.style_blend) if i != index]
        self._blend_for(self.style_count, blend)
        self.styles_version += 1

    def _blend_for(self, count: int, blend: list[float] | None = None) -> None:
        """One weight per style image (an extra one joins at the mean of the others); none for a single style."""
        current: list[float] = list(self.style_blend if blend is None else blend)
        if count <= 1:
            current = []
        else:
            fill = sum(current) / len(current) if current else 1.0
            current = (current + [fill] * count)[:count] if current else [1.0] * count
        self.param.update(style_blend=current)

    def set_blend(self, index: int, weight: float) -> None:
        """A style's blend slider moved (live during a run)."""
        blend: list[float] = list(self.style_blend) or [1.0] * self.style_count
        if 0 <= index < len(blend):
            blend[index] = float(weight)
            self.param.update(style_blend=blend)

    def prepare_mask(self, data: bytes, index: int, filename: str = "") -> PreparedMask:
        """Check and decode a mask for style ``index`` against the current content image (thread-safe; the page
        calls it on a worker). Raises ``nstcore.ImageError`` with one sentence."""
        if self.content is None:
            raise nstcore.ImageError("Choose a content image first: a mask is painted over it.")
        return prepare_mask(data, index, self.content.size, self.limits)

    def set_mask(self, index: int, mask: PreparedMask) -> None:
        if 0 <= index < self.style_count:
            self.masks = {**self.masks, index: mask}
            self.param.update(error="", mask_note="", styles_version=self.styles_version + 1)

    def replace_masks(self, masks: dict[int, PreparedMask], drop: set[int] | frozenset[int] = frozenset()) -> None:
        """Set several regions at once and remove those in ``drop`` (the page's drawing, re-rasterised)."""
        kept = {i: m for i, m in self.masks.items() if i not in drop}
        self.masks = {**kept, **{i: m for i, m in masks.items() if 0 <= i < self.style_count}}
        self.param.update(error="", mask_note="", styles_version=self.styles_version + 1)

    def clear_masks(self) -> None:
        self.masks = {}
        self.param.update(mask_note="", styles_version=self.styles_version + 1)

    def run_styles(self) -> tuple[Any, list[Image.Image] | None]:
        """What a run gets: the style image (or the list of them) and the masks (None without regions). A style
        without a painted region goes everywhere."""
        assert self.style is not None and self.content is not None
        styles = [self.style, *(p.image for p in self.extra_styles)]
        masks = None
        if self.masks:
            everywhere = Image.new("L", self.content.size, 255)
            masks = [self.masks[i].image if i in self.masks else everywhere for i in range(len(styles))]
        return (styles if len(styles) > 1 else styles[0]), masks

    # -- config -----------------------------------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONFIG_PARAM_NAMES}

    def config(self) -> nstcore.StyleConfig:
        """The StyleConfig of the current settings (raises ConfigError)."""
        values = self.settings()
        values["weights"] = self.backend.effective_weights(values["model"])
        values["device"] = self.backend.device_name
        values["max_image_pixels"] = self.limits.max_pixels
        if len(values["style_blend"]) != (self.style_count if self.style_count > 1 else 0):
            values["style_blend"] = []  # e.g. a loaded config made for other images: equal shares
        return nstcore.StyleConfig.from_dict(values)

    def config_json(self) -> str:
        """The settings as the CLI reads them; a local weights file is named without its server folders."""
        return json.dumps(self._exported(self.config()), indent=2)

    @staticmethod
    def _exported(config: nstcore.StyleConfig) -> dict[str, Any]:
        if config.weights not in ("imagenet", "random"):
            config = config.replace(weights=Path(config.weights).name)
        return config.to_dict()

    @staticmethod
    def read_config(text: str | bytes, filename: str = "config") -> nstcore.StyleConfig:
        """Parse an exported config, or the settings inside a result PNG this tool wrote (thread-safe; the page calls
        it on a worker). Raises ``ConfigError`` with one sentence that names the file (capped plain text) and the
        field."""
        try:
            data = text.encode() if isinstance(text, str) else bytes(text)
            return nstcore.config_from_bytes(data)
        except nstcore.ConfigError as exc:
            raise nstcore.ConfigError(f"{file_label(filename, 'The config')}: {exc}") from None

    def apply_config(self, config: nstcore.StyleConfig, filename: str = "config") -> bool:
        """Restore every control from a parsed config; on error nothing changes."""
        values = {name: getattr(config, name) for name in CONFIG_PARAM_NAMES}
        values["content_layers"] = dict(config.content_layers)
        values["style_layers"] = dict(config.style_layers)
        before = self.settings()
        try:
            self._restore(values)
        except ValueError as exc:  # a value outside a widget's bounds
            self._restore(before)
            self.error = f"{file_label(filename, 'The config')}: {capped(exc, 200)}"
            return False
        self.error = ""
        return True

    def apply_config_json(self, text: str | bytes, filename: str = "config") -> bool:
        """Parse and restore at once (tests, scripts); on error nothing changes and ``error`` says why."""
        try:
            config = self.read_config(text, filename)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self.apply_config(config, filename)

    def reset(self) -> None:
        defaults = nstcore.StyleConfig()
        self._restore({name: getattr(defaults, name) for name in CONFIG_PARAM_NAMES})

    def _restore(self, values: dict[str, Any]) -> None:
        """Set many settings at once, as given (no 'optimizer changed, so reset lr' reaction)."""
        self._restoring = True
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}  # style_blend is a List
        try:
            self.param.update(**values)
        finally:
            self._restoring = False

    def _optimizer_changed(self, event: param.parameterized.Event) -> None:
        if not self._restoring:  # a user switching optimiser: each has its own natural step size
            self.lr = None

    def _model_changed(self, event: param.parameterized.Event) -> None:
        """Keep only layers the new network has (VGG16 has no conv3_4, conv4_4, conv5_4)."""
        names = set(nstcore.layer_names(event.new))
        style = {k: v for k, v in self.style_layers.items() if k in names}
        content = {k: v for k, v in self.content_layers.items() if k in names}
        self.param.update(
            style_layers=style or dict(nstcore.StyleConfig().style_layers),
            content_layers=content or {nstcore.PAPER_CONTENT_LAYER: 1.0},
        )

    # -- running ------------------------------------------------------------------------------------------------
    def start(self) -> bool:
        """Start a single run in a background thread; refuse (with ``error``) if one is running or input is bad."""
        config = self._checked_config()
        return config is not None and self._launch(config, None, "single")

    def start_compare(self) -> bool:
        """Optimise every row of :attr:`variants` together as one batch (same images, size and shared settings)."""
        config = self.compare_config()
        if config is None:
            return False
        rows = self.variants
        if not 2 <= len(rows) <= self.limits.max_variants:
            self.error = f"A comparison needs 2 to {self.limits.max_variants} variants; this one has {len(rows)}."
            return False
        try:
            variants = [nstcore.variant_from_dict(config, row, i) for i, row in enumerate(rows)]
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self._launch(config, variants, "compare")

    def training_photos(self) -> list[PreparedImage]:
        """What "Train for any photo" trains on: the content image, then the project's sample photos (each once;
        decoded once per process)."""
        photos = [self.content_image] if self.content_image is not None else []
        for name in sample_names("content"):
            sample = sample_image("content", name, self.limits.upload_side)
            if all(sample.sha256 != p.sha256 for p in photos):
                photos.append(sample)
        return photos

    def start_training(self) -> bool:
        """Train one generator for any photo (nstcore.train): random crops of the content image and the sample
        photos, with the run settings (size = the crop side, steps, weights, live as in a run). Its result becomes
        this session's instant style. Regions and Keep colours belong to one photo, so they are refused."""
        config = self._checked_config()
        if config is None:
            return False
        if self.masks:
            self.error = "Regions are drawn on one photo; clear them (More styles) to train for any photo."
            return False
        if config.preserve_colors != "none":
            self.error = "Keep colours works on one photo at a time; set it to none to train for any photo."
            return False
        try:
            config = config.replace(generator="hrnet")
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self._launch(config, None, "single", photos=self.training_photos())

    def _checked_config(self) -> nstcore.StyleConfig | None:
        if self.running:
            self.error = "A run is already going; press Stop first or wait for it to finish."
            return None
        if self.content is None or self.style is None:
            self.error = "Choose a content and a style image first."
            return None
        try:
            config = self.config()
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return None
        if config.size > self.limits.max_size or config.steps > self.limits.max_steps:
            self.error = (
                f"This server allows at most {self.limits.max_size} px and {self.limits.max_steps} steps; "
                "lower the size or the number of steps."
            )
            return None
        if config.size * config.style_scale > self.limits.max_size:
            self.error = (
                f"Style scale {config.style_scale:g} at {config.size} px makes the style image "
                f"{config.size * config.style_scale:.0f} px, over this server's {self.limits.max_size} px; "
                "lower the style scale or the size."
            )
            return None
        return config

    def _launch(
        self,
        config: nstcore.StyleConfig,
        variants: list[nstcore.Variant] | None,
        mode: str,
        photos: list[PreparedImage] | None = None,
    ) -> bool:
        try:
            styles, masks = self.run_styles()
            hashes = [p.sha256 if p is not None else "" for p in (self.style_image, *self.extra_styles)]
            run_info: dict[str, Any] = {
                "content_sha256": self.content_image.sha256 if self.content_image is not None else "",
                "style_sha256": hashes[0] if len(hashes) == 1 else hashes,
            }
            if masks is not None:
                run_info["mask_sha256"] = [self.masks[i].sha256 if i in self.masks else "" for i in range(len(hashes))]
            if photos:
                run_info["trained_on_photos_sha256"] = [p.sha256 for p in photos]
            run_info.update(self.backend.run_environment(config.precision))
            self.run.submit(
                config,
                variants,
                mode,
                self.content,
                styles,
                self._exported(config),
                run_info,
                masks=masks,
                photos=[p.image for p in photos] if photos else None,
            )
        except SchedulerError as exc:
            self.error = str(exc)
            return False
        self.result, self.notes, self.last_losses = None, (), {}
        self._run_content_jpeg = self.content_image.preview_jpeg if self.content_image is not None else b""
        self.param.update(mode=mode, error="", step=0, total_steps=config.steps)
        self.status = self.run.queue_text() or self.status
        self.running = True
        return True

    @property
    def labels(self) -> tuple[str, ...]:
        """The last run's variant labels."""
        return self.run.labels

    # -- comparisons ----------------------------------------------------------------------------------------------
    def load_preset(self, name: str | None = None) -> bool:
        """Fill :attr:`variants` (and the shared settings a preset needs, e.g. init=noise) from a preset."""
        name = name or self.preset
        try:
            base = self.config()
            shared, variants = nstcore.expand_preset(name, base, self.style_count)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        # What the preset needs of the shared settings stays with the comparison: the single run keeps its own.
        plain = base.to_dict()
        needs = {k: v for k, v in shared.to_dict().items() if plain[k] != v and k in CONFIG_PARAM_NAMES}
        self.param.update(preset=name, compare_shared=needs, variants=[variant_row(v, shared) for v in variants])
        return True

    def compare_config(self) -> nstcore.StyleConfig | None:
        """The comparison's shared config: the current settings plus what its preset needs (None: refused)."""
        config = self._checked_config()
        return config.replace(**self.compare_shared) if config is not None else None

    def add_variant(self) -> None:
        if len(self.variants) >= self.limits.max_variants:
            self.error = f"At most {self.limits.max_variants} variants per comparison."
            return
        base = (
            dict(self.variants[-1])
            if self.variants
            else variant_row(nstcore.Variant("", self.config().loss_weights()), self.config())
        )
        base["label"] = f"variant {len(self.variants) + 1}"
        self.variants = [*self.variants, base]

    def remove_variant(self) -> None:
        if self.variants:
            self.variants = self.variants[:-1]

    def grid_png(self) -> bytes | None:
        if not self.result or self.mode != "compare":
            return None
        return nstcore.png_with_config(nstcore.grid_image(list(self.result), list(self.labels)), self.run.record_json())

    def cell_pngs(self) -> list[bytes]:
        """Each cell of the finished comparison as its own PNG carrying that variant's settings (slow: a worker)."""
        if not self.result or self.mode != "compare":
            return []
        return [
            nstcore.png_with_config(image, json.dumps(self.run.cell_record(i), indent=2))
            for i, image in enumerate(self.result)
        ]

    def variants_json(self) -> str:
        config = self.config().replace(**self.compare_shared)
        variants = [nstcore.variant_from_dict(config, row, i) for i, row in enumerate(self.variants)]
        return json.dumps(nstcore.comparison_to_dict(config, variants), indent=2)

    def stop(self) -> None:
        """Cancel the job: a queued one leaves the queue now, a running one ends after its current step."""
        if self.running:
            self.status = self.run.stop() or self.status

    @property
    def has_job(self) -> bool:
        """A job was started and its end has not been collected by :meth:`poll` yet."""
        return self.run.active

    def request_frame(self) -> None:
        """Ask the engine for the current image at its next step (the page's own frame clock)."""
        if self.running:
            self.run.request_frame()

    def poll(self) -> Handover:
        """Collect what the job produced since the last call; update status. Call on the session's event loop."""
        handover, status = self.run.poll(self.size, self.step, self.total_steps)
        if handover.notes:
            self.notes = handover.notes
        if handover.frames is not None:
            self.result = handover.frames
        if handover.trained is not None:
            self._trained_pending = handover.trained[0]
        if handover.latest is not None:
            self.step = handover.latest.step
            first = handover.latest.losses[0]
            self.last_losses = {
                "total": first.total,
                "content": first.content,
                "style": sum(first.style.values()),
                "tv": first.tv,
            }
        if status is not None:
            self.status = status
        if handover.finished:
            self.running = False
            pending, self._trained_pending = self._trained_pending, None
            if handover.error:
                self.error = handover.error
            elif pending is not None and self.run.config is not None:
                # a generator run's result, finished or stopped: its generator as of its last picture becomes this
                # session's instant style
                self.trained = (pending, self.run.config)
                self.trained_version += 1
        return handover

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the job has ended (tests and shutdown)."""
        return self.run.wait(timeout)

    def close(self) -> None:
        """Session ended: cancel its job (queued or running) and forget its images."""
        self.run.close()
        self.content = self.style = None
        self.extra_styles, self.masks = [], {}
        self.result = None

    def announce(self, text: str) -> None:
        """A message from the host for this page (shown as a notification on its next tick, escaped)."""
        self.announcements.append(capped(text, 200))

    def upload_failed(self, filename: str, what: str, exc: BaseException) -> None:
        """An upload that could not be used (``what``: "The upload", "The mask" ...): the engine's sentence for a
        bad image; anything else gets a plain sentence, and its details go to the server log."""
        if isinstance(exc, nstcore.ImageError):
            self.error = str(exc)
        else:
            self.error = f"{file_label(filename, what)} could not be read; try another file."
            self.log_failure(what.lower(), exc)

    def upload_too_large(self, filename: str, what: str) -> None:
        """The browser refused a file over the server's upload limit before sending it."""
        limit = self.limits.max_upload_mb
        self.error = f"{file_label(filename, what)} is over the upload limit of {limit:g} MB; use a smaller file."

    def log_failure(self, what: str, exc: BaseException) -> None:
        """Details of an unexpected failure go to the server log, never to the page."""
        log.error("session %s: %s failed", self.session_id[:8], what, exc_info=exc)

    def result_png(self) -> bytes | None:
        """The last result as PNG, carrying the run's settings in its ``nst-config`` chunk (load it as a config)."""
        return nstcore.png_with_config(self.result[0], self.run.record_json()) if self.result else None

    def history_entry(self, number: int) -> HistoryItem | None:
        """The single run that just ended, encoded for the history (slow: the page calls it on a worker thread);
        None when it left no picture (stopped before its first frame) or was a comparison."""
        if not self.result or self.mode != "single" or not self.run.record:
            return None
        return make_item(
            number,
            self.result[0],
            self.run.record,
            self.run.record_dict(),
            content_name=self.content_name,
            style_name=self.style_name,
            content_jpeg=self._run_content_jpeg,
            steps_done=self.step,
            losses=self.last_losses,
            filename=self.result_filename(),
        )

    def restore_from_history(self, number: int) -> bool:
        """Put every control back to how run ``number`` started (its live weights as steered)."""
        item = self.history.get(number)
        if item is None:
            self.error = "That run is no longer in the history (it keeps the newest ones); pick another."
            return False
        try:
            config = nstcore.StyleConfig.from_dict(item.record)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self.apply_config(config, f"run #{number}")

    def result_filename(self, when: float | None = None) -> str:
        """``nst-<content>-<style>-<date>-<time>.png``: downloads that say what they are and never overwrite."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        return f"nst-{slug(self.content_name, 'content')}-{slug(self.style_name, 'style')}-{stamp}.png"

    # -- live changes -------------------------------------------------------------------------------------------
    def _forward_live_change(self, *events: param.parameterized.Event) -> None:
        if not self.running:
            return
        changes = {event.name: event.new for event in events}
        if "style_blend" in changes and len(changes["style_blend"]) != self.run.styles:
            del changes["style_blend"]  # a style added or removed during the run: for the next run
        try:
            self.run.steer(changes, self.step)
        except nstcore.ConfigError as exc:
            self.error = str(exc)


def slug(name: str, fallback: str) -> str:
    """A file-name-safe short form of an image's name: ASCII letters, digits and dashes, at most 24 characters."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    text = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower()[:24].strip("-")
    return text or fallback


def variant_row(variant: nstcore.Variant, shared: nstcore.StyleConfig) -> dict[str, Any]:
    """A comparison-table row (layers as 'conv1_1:1,conv2_1:1' strings) for a variant."""
    w = variant.weights
    return {
        "label": variant.label,
        "alpha": w.alpha,
        "beta": w.beta,
        "tv": w.tv,
        "content_layers": nstcore.format_layers({k: v for k, v in w.content_layers.items() if v > 0}),
        "style_layers": nstcore.format_layers({k: v for k, v in w.style_layers.items() if v > 0}),
        "pooling": variant.pooling or shared.pooling,
        "style_blend": ":".join(f"{w:g}" for w in w.style_blend),
        "preserve_colors": variant.preserve_colors or shared.preserve_colors,
    }
