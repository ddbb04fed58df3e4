"""Comparison presets: Gatys et al.'s Figure 1 and the usual studies, as lists of variants.

* ``style_layers`` -- Figure 1, style reconstructions: from noise, alpha = 0, style layers conv1_1; conv1_1+conv2_1;
  ... ; conv1_1...conv5_1 (five cells).
* ``content_layers`` -- Figure 1, content reconstructions: from noise, beta = 0, content at conv1_2, conv2_2, conv3_2,
  conv4_2, conv5_2 (five cells).
* ``ratio`` -- Figure 3's row: the same run at four alpha/beta ratios a decade apart. Under ``loss_norm="paper"``
  these are the paper's 1e-2, 1e-3, 1e-4, 1e-5; under the default ``"mean"`` the same four decades are centred on
  the default ratio (1e-4 ... 1e-7), because the normalisation moves where a given look sits (see nstcore.config).
* ``pooling`` -- average (the paper's choice) vs max pooling with the default weights (two cells).
* ``colours`` -- the photo's colours kept or not (Gatys et al. 2016): none, luminance, histogram (three cells).
* ``blend`` -- two style images blended 1:0, 3:1, 1:1, 1:3, 0:1 (five cells; Gatys et al. 2017's style mixing).

A preset returns the shared config it needs (e.g. ``init="noise"``) and the variants; callers may edit both.
"""

from __future__ import annotations

import dataclasses
import math

from .config import PAPER_STYLE_LAYERS, LossWeights, StyleConfig
from .errors import ConfigError, shown
from .variants import Variant

PRESETS = ("style_layers", "content_layers", "ratio", "pooling", "colours", "blend")
# The blend preset's cells: from the first style alone to the second alone in quarters.
BLEND_STEPS = ((1.0, 0.0), (3.0, 1.0), (1.0, 1.0), (1.0, 3.0), (0.0, 1.0))

# "Bigger" (the page's action on a finished picture): the same settings at twice the size, one scale, starting from
# the picture, for a short pass -- the upsampled picture already has the look, the pass only adds the detail the
# larger size can hold (measured in benchmarks/results_quick.md).
BIGGER_RUN = {"steps": 20, "scales": 1}


def bigger_config(config: StyleConfig, size: int) -> StyleConfig:
    """The config that continues a picture made with ``config`` at ``size`` (see BIGGER_RUN)."""
    return config.replace(size=size, **BIGGER_RUN)


FIGURE1_CONTENT_LAYERS = ("conv1_2", "conv2_2", "conv3_2", "conv4_2", "conv5_2")


SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def paper_number(value: float) -> str:
    """A number as the paper writes its α/β ratios: "1×10⁻³", "2.5×10⁻⁴" (two significant digits), "∞", "0"; the
    one notation of α/β on the page, in the CLI's grid labels and in the tables."""
    if value == 0 or math.isnan(value):
        return "0" if value == 0 else "–"
    if math.isinf(value):
        return "∞"
    exponent = math.floor(math.log10(abs(value)))
    mantissa = float(f"{value / 10**exponent:.2g}")
    if abs(mantissa) >= 10:  # 9.96 rounds to 10
        mantissa, exponent = mantissa / 10, exponent + 1
    digits = f"{mantissa:g}"
    return digits if exponent == 0 else f"{digits}×10{str(exponent).translate(SUPERSCRIPTS)}"


def expand_preset(name: str, base: StyleConfig, styles: int = 1) -> tuple[StyleConfig, list[Variant]]:
    """The shared config and the variants of preset ``name`` built on ``base``, for a run with ``styles`` style
    images."""
    if name == "style_layers":
        shared = base.replace(init="noise")
        variants = []
        for k in range(1, len(PAPER_STYLE_LAYERS) + 1):
            layers = PAPER_STYLE_LAYERS[:k]
            label = "style " + ("+".join(layers) if k <= 2 else f"{layers[0]}..{layers[-1]}")
            variants.append(
                Variant(label, LossWeights(0.0, base.beta, base.tv, {"conv4_2": 0.0}, {n: 1.0 for n in layers}))
            )
        return shared, variants
    if name == "content_layers":
        shared = base.replace(init="noise")
        return shared, [
            Variant(f"content {n}", LossWeights(base.alpha, 0.0, base.tv, {n: 1.0}, {})) for n in FIGURE1_CONTENT_LAYERS
        ]
    if name == "ratio":  # labelled as Figure 3 writes them: "α/β = 1×10⁻⁴"
        ratios = (1e-2, 1e-3, 1e-4, 1e-5) if base.loss_norm == "paper" else (1e-4, 1e-5, 1e-6, 1e-7)
        return base, [
            Variant(
                f"α/β = {paper_number(r)}",
                LossWeights(base.alpha, base.alpha / r, base.tv, base.content_layers, base.style_layers),
            )
            for r in ratios
        ]
    if name == "pooling":
        weights = base.loss_weights()
        return base, [Variant("avg pooling", weights, "avg"), Variant("max pooling", weights, "max")]
    if name == "colours":
        weights = base.loss_weights()
        return base, [
            Variant(f"colours: {mode}", weights, preserve_colors=mode) for mode in ("none", "luminance", "histogram")
        ]
    if name == "blend":
        if styles != 2:
            raise ConfigError(f"The blend preset compares two style images, but {styles} were given; give two.")
        weights = base.loss_weights()
        return base, [
            Variant(f"blend {a:g}:{b:g}", dataclasses.replace(weights, style_blend=(a, b))) for a, b in BLEND_STEPS
        ]
    raise ConfigError(f"Unknown preset {shown(name)}; choose one of {', '.join(PRESETS)}.")
