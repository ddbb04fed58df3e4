"""The one place where every knob of a run and its default lives.

Gatys, Ecker & Bethge (2015/2016) minimise ``alpha * L_content + beta * sum_l w_l * E_l`` over the pixels of an
image. :class:`StyleConfig` holds every setting of such a run; the CLI flags, the dashboard widgets and the JSON
export are all derived from its fields and their ``metadata`` (help text, bounds, slider scale), never re-typed.

Loss normalisation (``loss_norm``):

* ``"mean"`` (default) -- content loss ``mean((F - P)**2)`` and style loss ``mean((G - A)**2)`` with Gram matrices
  divided by ``N * M`` (channels times positions), i.e. the paper's terms rescaled so that they do not grow with the
  image size: content = paper / (N*M/2), style = paper * 4 / N**2. This is the normalisation of Johnson's
  ``neural-style`` and of PyTorch's own style-transfer tutorial, whose torchvision-VGG results are the reference for
  the default ratio ``alpha=1, beta=1e6`` (alpha/beta = 1e-6): with inputs in torchvision's normalised range, features
  are ~1/58 of Caffe's 0..255 scale, so the paper's 1e-3..1e-4 ratios shift by several orders of magnitude.
* ``"paper"`` -- exactly the paper's ``1/2 sum (F-P)**2`` and ``E_l = sum (G-A)**2 / (4 N**2 M**2)``. These grow with
  image size, so alpha/beta must be chosen per size; kept for faithful reproduction.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from .errors import ConfigError, finite, shown
from .images import DEFAULT_MAX_PIXELS
from .layers import tap_index
from .weight_text import _check_weights, parse_blend

Model = Literal["vgg19", "vgg16"]
Pooling = Literal["avg", "max"]
Init = Literal["content", "noise", "style"]
Optimizer = Literal["adam", "lbfgs"]
LossNorm = Literal["mean", "paper"]
Precision = Literal["auto", "fp32", "bf16"]
PreserveColors = Literal["none", "luminance", "histogram"]
Generator = Literal["pixels", "hrnet"]

PAPER_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
PAPER_CONTENT_LAYER = "conv4_2"

# The optimisers' own step sizes: Adam moves pixels in [0, 1] by about lr per step; L-BFGS takes (near) Newton
# steps where 1.0 is the natural scale.
DEFAULT_LR: dict[str, float] = {"adam": 0.02, "lbfgs": 1.0}
# Adam on a generator's weights (not pixels): Li et al. 2019 train their HRNet with 5e-3.
GENERATOR_LR = 5e-3


def _opt(
    help: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    log: bool = False,
    step: float | None = None,
    flag: str | None = None,
    slider_min: float | None = None,
) -> dict[str, Any]:
    """Field metadata read by the CLI and the dashboard: help text, bounds, log-scale hint, slider step, and for a
    log field whose minimum is 0 (off) the smallest value its slider offers."""
    return {
        "help": help,
        "min": minimum,
        "max": maximum,
        "log": log,
        "step": step,
        "flag": flag,
        "slider_min": slider_min,
    }


def _default_style_layers() -> dict[str, float]:
    return {name: 1.0 for name in PAPER_STYLE_LAYERS}


@dataclass(frozen=True)
class LossWeights:
    """The weights of one variant: everything that may change while a run goes on (besides lr).

    ``content_layers`` and ``style_layers`` map layer names to their weights ``w_l``; a weight of 0 keeps the layer
    available (it can be turned on mid-run) but costs nothing while it is 0.
    """

    alpha: float
    beta: float
    tv: float
    content_layers: Mapping[str, float]
    style_layers: Mapping[str, float]
    # One weight per style image (empty = equal); see StyleConfig.style_blend and blend_weights().
    style_blend: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        for name in ("alpha", "beta", "tv"):
            value = getattr(self, name)
            if not finite(value) or value < 0:
                raise ConfigError(f"{name} must be a finite number >= 0, got {shown(value)}.")
            object.__setattr__(self, name, float(value))
        for name in ("content_layers", "style_layers"):
            object.__setattr__(self, name, _check_weights(name, getattr(self, name)))
        object.__setattr__(self, "style_blend", parse_blend(self.style_blend))

    def layers(self) -> set[str]:
        return set(self.content_layers) | set(self.style_layers)


@dataclass(frozen=True)
class StyleConfig:
    """Every setting of a style-transfer run, with its default. See the module docstring for the loss scale."""

    # Long side of the output. 256 keeps a CPU run interactive; the paper's figures are ~512.
    size: int = field(
        default=256, metadata=_opt("Long side of the output image in pixels.", minimum=16, maximum=4096, step=16)
    )
    # 300 L-BFGS steps take a content-initialised image past the naive baseline's 300-evaluation loss (at step ~140
    # on the sample images); more refines texture.
    steps: int = field(
        default=300, metadata=_opt("Number of optimisation steps (objective evaluations).", minimum=1, maximum=100_000)
    )
    # VGG19 is the paper's network; VGG16 is a little faster with similar results.
    model: Model = field(default="vgg19", metadata=_opt("Feature network."))
    # The paper replaces max pooling by average pooling: "slightly more appealing results".
    pooling: Pooling = field(default="avg", metadata=_opt("Pooling inside VGG: avg (paper) or max."))
    # 'imagenet' = torchvision's pretrained weights; a path loads a local state dict; 'random' works offline.
    weights: str = field(default="imagenet", metadata=_opt("Network weights: imagenet, random, or a .pth path."))
    # conv4_2 is the paper's content layer: deep enough to leave texture free, shallow enough to keep layout.
    content_layers: Mapping[str, float] = field(
        default_factory=lambda: {PAPER_CONTENT_LAYER: 1.0},
        metadata=_opt("Content layers and weights, e.g. conv4_2 or conv4_2:1,conv5_2:0.5."),
    )
    # conv1_1 ... conv5_1 with equal weights, as in the paper (its w_l = 1/5 is folded into beta).
    style_layers: Mapping[str, float] = field(
        default_factory=_default_style_layers, metadata=_opt("Style layers and weights, e.g. conv1_1:1,conv2_1:0.75.")
    )
    # alpha/beta = 1e-6 under the "mean" normalisation: see the module docstring for why this equals the paper's
    # look. Only the ratio matters to Adam and (nearly) to L-BFGS.
    # The sliders span 8 decades below alpha's top and 10 below beta's: the ratio is what matters, and 1e-8..1e-2
    # covers every look from "almost only content" to "almost only style".
    alpha: float = field(
        default=1.0, metadata=_opt("Content weight alpha.", minimum=0.0, maximum=1e4, log=True, slider_min=1e-4)
    )
    beta: float = field(
        default=1e6, metadata=_opt("Style weight beta.", minimum=0.0, maximum=1e10, log=True, slider_min=1.0)
    )
    # Total-variation smoothing is not in the paper; off by default, useful against Adam's high-frequency noise.
    # Useful values start around 1e-6 under the mean normalisation (3.6 % of a step's cost at 1e-3).
    tv: float = field(
        default=0.0,
        metadata=_opt("Total-variation weight (0 = off).", minimum=0.0, maximum=1e4, log=True, slider_min=1e-6),
    )
    # Starting from the content image converges fastest and is what interactive users expect to see first.
    init: Init = field(default="content", metadata=_opt("Start image: content, noise (seeded) or style."))
    # L-BFGS (the paper's choice) reaches a good picture soonest on every machine measured: the naive baseline's
    # loss after 300 evaluations in 0.24x of the baseline's time on a 2-core AVX2 CPU in fp32, 0.10x on an AMX CPU
    # in bf16, where Adam at lr 0.02 had not got there when the baseline finished (AVX2) or took 0.62x (AMX)
    # (benchmarks/results_speed_epyc.md, results_speed.md). Live steering keeps working: a changed weight clears its
    # curvature history (nstcore.lanes). Adam stays one switch away: smoother under constant steering.
    optimizer: Optimizer = field(default="lbfgs", metadata=_opt("Optimiser: lbfgs or adam."))
    # None = the optimiser's own default (DEFAULT_LR), so switching optimiser never carries a wrong scale over.
    lr: float | None = field(
        default=None,
        metadata=_opt(
            "Learning rate (default: lbfgs 1.0, adam 0.02, hrnet generator 0.005).",
            minimum=1e-4,
            maximum=10.0,
            log=True,
        ),
    )
    # A short history is enough for an image-sized problem and keeps memory flat.
    lbfgs_history: int = field(default=20, metadata=_opt("L-BFGS history size.", minimum=1, maximum=200))
    # Coarse-to-fine (off by default, so a run means exactly the paper's): optimise at size/2**(scales-1) first, then
    # upsample and go on at each doubling up to `size`. A coarse step costs a quarter of the next one's and moves the
    # large structures the deep layers ask for sooner, so the full size starts from a stylised image; the steps are
    # split evenly between the scales. Measured effect on time to quality: benchmarks/results_speed.md.
    scales: int = field(
        default=1,
        metadata=_opt(
            "Coarse-to-fine: number of sizes, each half the next, ending at size "
            "(1 = one size); steps are split evenly.",
            minimum=1,
            maximum=4,
        ),
    )
    # What is optimised: the pixels (Gatys et al., the default), or the weights of a high-resolution generator network
    # whose output is the picture (Li et al. 2019, nstcore.hrnet): it keeps the photo's structure and, once trained,
    # stylises other photos in one forward pass. A generator always trains with Adam.
    generator: Generator = field(
        default="pixels",
        metadata=_opt("What is optimised: pixels, or hrnet (a generator network's weights; trains with Adam)."),
    )
    # Seeds the noise init; CPU runs with the same seed and inputs are bit-identical.
    seed: int = field(default=0, metadata=_opt("Random seed (noise init).", minimum=0, maximum=2**31 - 1))
    # An image every 10 steps is enough for a CLI; the dashboard also asks for frames on its own clock.
    preview_every: int = field(
        default=10,
        metadata=_opt("Yield a preview image every N steps (0 = only at the end).", minimum=0, maximum=10_000),
    )
    # 1.0 = style image resized so its long side equals the output's; smaller = larger brush strokes.
    style_scale: float = field(
        default=1.0,
        metadata=_opt(
            "Style image size relative to the output: smaller = larger brush strokes (for every style image).",
            minimum=0.05,
            maximum=4.0,
            step=0.05,
        ),
    )
    loss_norm: LossNorm = field(default="mean", metadata=_opt("Loss normalisation: mean (size-independent) or paper."))
    # Several style images (CLI: STYLE [STYLE ...]): each keeps its own Gram targets and these weights scale its
    # style terms, normalised to sum to 1 so beta keeps its meaning ("Controlling Perceptual Factors in Neural Style
    # Transfer", Gatys et al. 2017; neural-style's -style_blend_weights). Empty = equal shares. Live during a run.
    style_blend: tuple[float, ...] = field(
        default=(),
        metadata=_opt("Weights of the style images, one each, e.g. 0.7,0.3 (default: equal)."),
    )
    # Off by default: the paper's method transfers the painting's colours too. "luminance" keeps the photo's colours
    # exactly (style on luminance only), "histogram" recolours the painting to the photo's palette first (Gatys et al.
    # 2016, "Preserving Color in Neural Artistic Style Transfer"; nstcore.colour).
    preserve_colors: PreserveColors = field(
        default="none", metadata=_opt("Keep the content's colours: none, luminance (exact) or histogram.")
    )
    # Decompression-bomb guard, well below Pillow's ~89 MP default: a 40 MP photo is a large camera image.
    max_image_pixels: int = field(
        default=DEFAULT_MAX_PIXELS, metadata=_opt("Refuse input images with more pixels.", minimum=1, flag="max-pixels")
    )
    # bf16 convolutions (Grams and losses stay fp32) run ~2.5x faster where the hardware has bf16 matrix units
    # (CUDA sm80+, CPUs with AMX) and converge as well; "auto" uses them there, fp32 elsewhere
    # (nstcore.device.use_bf16; benchmarks/results_speed.md).
    precision: Precision = field(default="auto", metadata=_opt("Arithmetic of the network: auto, fp32 or bf16."))
    # Resolved at the edge (CLI/app): cuda, then mps, then cpu. The engine itself is always told.
    device: str = field(default="auto", metadata=_opt("Device: auto, cpu, cuda, cuda:N or mps."))

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            value = getattr(self, f.name)
            _check_type(f.name, hints[f.name], value)
            choices = literal_choices(hints[f.name])
            if choices and value not in choices:
                raise ConfigError(f"{f.name} must be one of {', '.join(choices)}, got {shown(value)}.")
            lo, hi = f.metadata.get("min"), f.metadata.get("max")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None:
                if not finite(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
                    bounds = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
                    raise ConfigError(f"{f.name} must be {bounds}, got {shown(value)}.")
        if self.generator == "hrnet" and self.scales > 1:
            raise ConfigError(
                "Coarse to fine (scales) works on pixels; the hrnet generator trains at one size: set scales to 1."
            )
        lw = self.loss_weights()  # validates weights
        for name in lw.layers():
            tap_index(self.model, name)  # raises ConfigError naming valid layers
        if not any(w > 0 for w in lw.content_layers.values()) and not any(w > 0 for w in lw.style_layers.values()):
            raise ConfigError("At least one content or style layer needs a weight above 0.")
        object.__setattr__(self, "content_layers", dict(lw.content_layers))
        object.__setattr__(self, "style_layers", dict(lw.style_layers))
        object.__setattr__(self, "style_blend", lw.style_blend)

    # -- derived values --------------------------------------------------------------------------------------
    @property
    def effective_lr(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return GENERATOR_LR if self.generator == "hrnet" else DEFAULT_LR[self.optimizer]

    @property
    def effective_optimizer(self) -> str:
        """The optimiser that runs: a generator always trains with Adam."""
        return "adam" if self.generator == "hrnet" else self.optimizer

    def scale_plan(self) -> list[tuple[int, int]]:
        """``(long side, steps)`` per coarse-to-fine scale, coarsest first; scales left without steps are dropped."""
        sizes = [max(16, round(self.size / 2**k)) for k in range(self.scales - 1, -1, -1)]
        share, extra = divmod(self.steps, self.scales)
        plan = [(size, share + (extra if i == self.scales - 1 else 0)) for i, size in enumerate(sizes)]
        return [(size, steps) for size, steps in plan if steps > 0]

    def loss_weights(self) -> LossWeights:
        return LossWeights(self.alpha, self.beta, self.tv, self.content_layers, self.style_layers, self.style_blend)

    def replace(self, **changes: Any) -> StyleConfig:
        return dataclasses.replace(self, **changes)

    # -- JSON ------------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StyleConfig:
        if not isinstance(data, Mapping):
            raise ConfigError("A config must be a JSON object with field names as keys.")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            names = ", ".join(shown(str(name), 40) for name in unknown[:5]) + (" …" if len(unknown) > 5 else "")
            raise ConfigError(f"Unknown config field(s): {names}; known fields are {', '.join(sorted(known))}.")
        try:
            return cls(**dict(data))
        except TypeError as exc:  # e.g. a list where a number belongs
            raise ConfigError(f"Config has a value of the wrong type: {exc}.") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> StyleConfig:
        return cls.from_dict(load_json(text))


def _plain(value: Any) -> Any:
    """A field's value as JSON writes it back: layer mappings as dicts, blend weights as lists."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# An exported config is about 1 KB and a comparison's variants file a few KB; anything far larger is not one.
MAX_JSON_BYTES = 256 * 1024


def load_json(text: str | bytes, what: str = "The config") -> Any:
    """Parse a config or variants file, refusing oversized and absurdly nested input with one sentence."""
    if len(text) > MAX_JSON_BYTES:
        raise ConfigError(
            f"{what} is {len(text) / 1024:.0f} KB; a config file is a few KB, so this is not one "
            f"(the limit is {MAX_JSON_BYTES // 1024} KB)."
        )
    try:
        return json.loads(text)
    except RecursionError:
        raise ConfigError(
            f"{what} is nested too deeply to be a config file; export one from the page or the CLI (--save-config)."
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what} is not valid JSON ({shown(str(exc), 80)}).") from None


def _check_type(name: str, hint: Any, value: Any) -> None:
    """Refuse a value of the wrong JSON type with a sentence naming the field (``"steps": 2.5``, ``"seed": "abc"``),
    before anything compares or computes with it."""
    if literal_choices(hint):
        ok = isinstance(value, str)
        want = "one of " + ", ".join(literal_choices(hint))
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        want = "a whole number"
    elif hint is float or [a for a in typing.get_args(hint) if a is not type(None)] == [float]:
        ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) or (
            value is None and type(None) in typing.get_args(hint)
        )
        want = "a number" + (" or null" if type(None) in typing.get_args(hint) else "")
    elif hint is str:
        ok, want = isinstance(value, str), "a string"
    elif typing.get_origin(hint) is tuple:
        ok, want = isinstance(value, (list, tuple, str)), "a list of numbers such as [0.7, 0.3]"
    elif typing.get_origin(hint) in (Mapping, dict):
        ok, want = isinstance(value, (Mapping, str)), 'layer weights such as {"conv1_1": 1.0} or "conv1_1:1"'
    else:  # pragma: no cover - every field's hint is one of the above
        return
    if not ok:
        raise ConfigError(f"{name} must be {want}, got {shown(value)}.")


def literal_choices(hint: Any) -> tuple[Any, ...]:
    """The allowed values of a ``Literal[...]`` type hint, or ``()``."""
    if typing.get_origin(hint) is Literal:
        return typing.get_args(hint)
    return ()


def config_fields() -> list[tuple[dataclasses.Field, Any]]:
    """``(field, resolved type hint)`` for every StyleConfig field, in declaration order."""
    hints = typing.get_type_hints(StyleConfig)
    return [(f, hints[f.name]) for f in fields(StyleConfig)]
