"""Variants: several versions of one run (same content, style and size) optimised together as one batch.

Comparing style-layer choices side by side (Gatys et al.'s Figure 1) is what the batch dimension is for: each
variant has its own loss weights and layers (and may use its own pooling); everything else is shared.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import LossWeights, StyleConfig
from .errors import ConfigError, shown

# What may differ between the variants of one batch; every other StyleConfig field is shared.
VARIANT_FIELDS = ("alpha", "beta", "tv", "content_layers", "style_layers", "style_blend", "pooling", "preserve_colors")
MIN_VARIANTS, MAX_VARIANTS = 1, 64
# A label is drawn in two lines under a grid cell of 128-256 px; 80 characters is already more than fits, and a
# longer one (a pasted paragraph) only costs time to lay out.
MAX_LABEL = 80


def clean_label(text: object, fallback: str) -> str:
    """A variant label as one line of at most MAX_LABEL characters (``fallback`` when empty)."""
    line = " ".join(str(text or "").split())
    line = "".join(ch for ch in line if ch.isprintable())
    if len(line) > MAX_LABEL:
        line = line[: MAX_LABEL - 1] + "…"
    return line or fallback


@dataclass(frozen=True)
class Variant:
    """One cell of a comparison: a label, its loss weights, and its pooling and colour preservation (None = the
    shared config's)."""

    label: str
    weights: LossWeights
    pooling: str | None = None
    preserve_colors: str | None = None

    def config(self, base: StyleConfig) -> StyleConfig:
        """The full config that runs this variant alone."""
        w = self.weights
        return base.replace(
            alpha=w.alpha,
            beta=w.beta,
            tv=w.tv,
            content_layers=dict(w.content_layers),
            style_layers=dict(w.style_layers),
            style_blend=w.style_blend,
            pooling=self.pooling or base.pooling,
            preserve_colors=self.preserve_colors or base.preserve_colors,
        )

    def own_fields(self, pooling: str, preserve_colors: str) -> dict[str, Any]:
        """This variant's settings as config fields (the layers it switches on; ``pooling`` and ``preserve_colors``
        where it keeps the shared ones)."""
        w = self.weights
        return {
            "alpha": w.alpha,
            "beta": w.beta,
            "tv": w.tv,
            "content_layers": {k: v for k, v in w.content_layers.items() if v > 0},
            "style_layers": {k: v for k, v in w.style_layers.items() if v > 0},
            "style_blend": tuple(w.style_blend),
            "pooling": self.pooling or pooling,
            "preserve_colors": self.preserve_colors or preserve_colors,
        }

    @classmethod
    def from_config(cls, config: StyleConfig, label: str) -> Variant:
        return cls(label, config.loss_weights(), config.pooling, config.preserve_colors)


def as_variant(item: Variant | LossWeights, index: int) -> Variant:
    return item if isinstance(item, Variant) else Variant(f"variant {index + 1}", item)


def variant_from_dict(base: StyleConfig, data: Mapping[str, Any], index: int) -> Variant:
    """Build a variant from ``{"label": ..., "beta": ..., "style_layers": ...}`` (or ``{"label", "config": {...}}``).

    Fields not given come from ``base``; fields that cannot differ inside one batch must equal ``base``'s.
    """
    if not isinstance(data, Mapping):
        raise ConfigError(f"Variant {index + 1} must be a JSON object, got {type(data).__name__}.")
    label = clean_label(data.get("label"), f"variant {index + 1}")
    if isinstance(data.get("config"), Mapping):
        # A full config (as exported): its shared fields are the comparison's, so only the variant's own count.
        overrides = {k: v for k, v in data["config"].items() if k in VARIANT_FIELDS}
    else:
        overrides = {k: v for k, v in data.items() if k != "label"}
    try:
        config = StyleConfig.from_dict({**base.to_dict(), **overrides})
    except ConfigError as exc:  # say which row: a table of eight looks alike
        short = label if len(label) <= 40 else label[:39] + "…"
        raise ConfigError(f"Variant {index + 1} ({short}): {exc}") from None
    shared = {f.name for f in dataclasses.fields(StyleConfig)} - set(VARIANT_FIELDS)
    differing = sorted(name for name in shared if getattr(config, name) != getattr(base, name))
    if differing:
        raise ConfigError(
            f"Variant {shown(label)} changes {', '.join(differing)}; variants of one comparison share everything but "
            f"{', '.join(VARIANT_FIELDS)}."
        )
    return Variant.from_config(config, label)


def check_count(variants: Sequence[Any], most: int = MAX_VARIANTS) -> None:
    if not MIN_VARIANTS <= len(variants) <= most:
        raise ConfigError(f"A comparison needs between 1 and {most} variants, got {len(variants)}.")


def comparison_to_dict(shared: StyleConfig, variants: Sequence[Variant]) -> dict[str, Any]:
    """A comparison as JSON data: the shared config and every variant's full config (what ``compare --variants``
    and :func:`variant_from_dict` read back, and what ``--config`` reads for any single cell)."""
    return {
        "config": shared.to_dict(),
        "variants": [{"label": v.label, "config": v.config(shared).to_dict()} for v in variants],
    }


def grid_record(
    settings: Mapping[str, Any], cells: Sequence[Mapping[str, Any]], sweep: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """What a grid PNG carries: the shared settings (or the run's record: loading it restores what every cell had in
    common) and, under ``"run"``, every cell's label and full config (``{"label", "config"}``, in grid order) and a
    sweep's rows and columns. ``compare --variants GRID.png`` reruns it; the grid once held the shared settings
    only, each cell's settings being in a separate JSON."""
    run = dict(settings.get("run") or {})
    run["cells"] = [dict(cell) for cell in cells]
    if sweep is not None:
        run["sweep"] = dict(sweep)
    return {**settings, "run": run}
