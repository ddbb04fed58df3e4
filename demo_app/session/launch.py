"""Starting a session's jobs: a single run, a comparison of the variants table, or a training for any photo, each
checked against the server's limits first (a refusal is a sentence in ``error``), and Stop. The comparison's
table (presets, variants) lives here too. Part of :class:`~demo_app.session.state.SessionState`.
"""

from __future__ import annotations

import json
from typing import Any

import param

import nstcore

from ..jobs.memory import largest_batch, memory_estimate
from ..jobs.scheduler import SchedulerError
from .config_params import CONFIG_PARAM_NAMES
from .core import SessionCore
from .imaging import PreparedImage


class LaunchPart(SessionCore):
    """Jobs of one session: what starts them and what a comparison runs."""

    preset: param.Selector = param.Selector(
        default="style_layers", objects=list(nstcore.PRESETS), doc="Comparison preset."
    )
    variants = param.List(default=[], doc="Comparison rows: label, alpha, beta, tv, content/style layers, pooling.")
    compare_shared = param.Dict(
        default={}, doc="Shared settings the loaded preset needs (e.g. init=noise), for the comparison only."
    )
    sweep = param.Dict(
        default={},
        doc="The loaded two-way sweep's layout (nstcore.Sweep.as_dict: presets, row and column labels); {} for a "
        "plain comparison. The variants are its cells, row by row.",
    )

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
        most = self.limits.max_sweep_cells if self.sweep_shape() else self.limits.max_variants
        if not 2 <= len(rows) <= most:
            self.error = f"A comparison needs 2 to {most} variants; this one has {len(rows)}."
            return False
        try:
            variants = [nstcore.variant_from_dict(config, row, i) for i, row in enumerate(rows)]
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        before, self.run.sweep = self.run.sweep, dict(self.sweep) if self.sweep_shape() else {}  # before the view
        started = self._launch(config, variants, "compare")  # starts: it lays its grid out by it
        if not started:
            self.run.sweep = before
        return started

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
        try:  # one size: a training has no coarse to fine (a fresh page is on Quick's three scales)
            config = config.replace(generator="hrnet", scales=1)
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
        return config

    def _launch(
        self,
        config: nstcore.StyleConfig,
        variants: list[nstcore.Variant] | None,
        mode: str,
        photos: list[PreparedImage] | None = None,
    ) -> bool:
        try:
            styles, masks = self.run_images()
            hashes = [p.sha256 if p is not None else "" for p in (self.style_image, *self.extra_styles)]
            run_info: dict[str, Any] = {
                "content_sha256": self.content_image.sha256 if self.content_image is not None else "",
                "style_sha256": hashes[0] if len(hashes) == 1 else hashes,
            }
            if masks is not None:
                run_info["mask_sha256"] = [self.masks[i].sha256 if i in self.masks else "" for i in range(len(hashes))]
            if photos:
                run_info["trained_on_photos_sha256"] = [p.sha256 for p in photos]
            request = nstcore.RunRequest(
                config,
                self.content,
                styles,
                masks=masks,
                variants=tuple(variants) if variants is not None else None,
                photos=tuple(p.image for p in photos) if photos else None,
            )
        except SchedulerError as exc:
            self.error = str(exc)
            return False
        return self._submit(request, mode, run_info)

    def start_bigger(self, result_png: bytes | None = None) -> bool:
        """Continue the last single run's picture at twice its size (at most the server's max size) as a new queued
        job: its images and settings (live weights as steered), starting from the picture, for a short pass
        (``nstcore.bigger_config``). ``result_png``, the picture's download, is hashed into the record."""
        if self.running:
            self.error = "A run is already going; press Stop first or wait for it to finish."
            return False
        request, config, picture = self.run.request, self.run.config, self.result[0] if self.result else None
        if picture is None or request is None or config is None or self.mode != "single" or request.photos:
            self.error = "Make a picture first (Run); Bigger then continues it at twice the size."
            return False
        long_side = max(picture.shape[:2])
        size = min(2 * long_side, self.limits.max_size)
        if size <= long_side:
            self.error = f"This picture is already as large as this server makes them ({self.limits.max_size} px)."
            return False
        steered = {k: self.run.record[k] for k in nstcore.LIVE_FIELDS if k in self.run.record}
        try:
            config = nstcore.bigger_config(config.replace(**steered), size)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        run_info = {k: v for k, v in self.run.run_info.items() if k.endswith("_sha256")}
        if result_png:
            run_info["start_sha256"] = nstcore.file_sha256(result_png)
        return self._submit(request.replace(config=config, variants=None, start=picture), "single", run_info)

    def _submit(self, request: nstcore.RunRequest, mode: str, run_info: dict[str, Any]) -> bool:
        """Through the gate into the queue; the page's state follows the new run (or ``error`` says why not)."""
        config = request.config
        device = self.backend.device_type
        budget = self.limits.max_job_gb * 2**30
        if request.variants and memory_estimate(request, device) > budget:  # in batches it admits (a sweep's 20)
            batch = largest_batch(request, budget, device)
            request = request.replace(max_batch=batch) if batch < len(request.variants) else request
        try:
            self.backend.gate.check_request(self.limits, request, device)
            run_info.update(self.backend.run_environment(config.precision))
            self.run.submit(request, mode, self._exported(config), run_info)
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
        self.param.update(
            preset=name, compare_shared=needs, sweep={}, variants=[variant_row(v, shared) for v in variants]
        )
        return True

    def load_sweep(self, rows: str, columns: str) -> bool:
        """Fill :attr:`variants` with preset ``rows`` crossed with preset ``columns`` (Gatys et al.'s Figure 3:
        style_layers by ratio), on the current settings; :attr:`sweep` keeps the layout."""
        try:
            base = self.config()
            sweep = nstcore.expand_sweep(rows, columns, base, self.style_count)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        if len(sweep.variants) > self.limits.max_sweep_cells:
            self.error = (
                f"This server runs sweeps of at most {self.limits.max_sweep_cells} cells; choose smaller presets."
            )
            return False
        cells = [variant_row(v, base) for v in sweep.variants]
        self.param.update(compare_shared={}, sweep=sweep.as_dict(), variants=cells, error="")
        return True

    def sweep_shape(self) -> tuple[list[str], list[str]] | None:
        """(row labels, column labels) while the table holds the loaded sweep's cells; None otherwise."""
        rows, columns = self.sweep.get("row_labels") or [], self.sweep.get("column_labels") or []
        return (list(rows), list(columns)) if rows and len(rows) * len(columns) == len(self.variants) else None

    def compare_config(self) -> nstcore.StyleConfig | None:
        """The comparison's shared config: the current settings plus what its preset needs (None: refused)."""
        config = self._checked_config()
        return config.replace(**self.compare_shared) if config is not None else None

    def add_variant(self) -> None:
        self.sweep = {}  # a row more is no longer the sweep's table
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
        self.sweep = {}
        if self.variants:
            self.variants = self.variants[:-1]

    def variants_json(self) -> str:
        config = self.config().replace(**self.compare_shared)
        variants = [nstcore.variant_from_dict(config, row, i) for i, row in enumerate(self.variants)]
        return json.dumps(nstcore.comparison_to_dict(config, variants), indent=2)

    def stop(self) -> None:
        """Cancel the job: a queued one leaves the queue now, a running one ends after its current step."""
        if self.running:
            self.status = self.run.stop() or self.status


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
