"""The optimisation of Gatys, Ecker & Bethge (2015, "A Neural Algorithm of Artistic Style"), as a generator.

``run()`` minimises ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV`` over the pixels of B images at once
(B "variants": same content, style and size; their own weights and layers) and yields an immutable
:class:`~nstcore.progress.Progress` after every objective evaluation. The consumer stops a run by closing the
generator. The loop never prints, writes files or picks a device: those belong to the CLI and the dashboard.

Per step it does one forward pass through a frozen VGG truncated at the deepest layer in use, one backward pass to
the image, one optimiser step, and one device-to-host copy of the loss terms (a single ``tolist()``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .config import LossWeights, StyleConfig
from .controls import Controls
from .device import tune_backends, use_bf16
from .errors import ConfigError, ImageError
from .features import Network, VGGFeatures, load_network, min_image_side
from .images import ImageSource, check_survives_pooling, load_image, resize_long_side
from .layers import sort_layers
from .losses import content_loss, gram, style_loss, tv_loss
from .progress import Losses, Progress
from .variants import Variant, as_variant, check_count


def image_to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(img, dtype=np.uint8)
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()
    return tensor.to(device=device, dtype=torch.float32) / 255.0


def tensor_to_arrays(batch: Tensor) -> tuple[np.ndarray, ...]:
    """(B, 3, H, W) in [0, 1] -> B read-only HxWx3 uint8 arrays on the CPU."""
    data = batch.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    arrays = []
    for array in data:
        array = np.ascontiguousarray(array)
        array.flags.writeable = False
        arrays.append(array)
    return tuple(arrays)


@dataclass(frozen=True)
class PreparedImages:
    """Content and style after loading, RGB conversion and resizing, ready for the network."""

    content: Image.Image
    style: Image.Image


def prepare_images(
    config: StyleConfig, content: ImageSource, style: ImageSource, layers: Sequence[str] | None = None
) -> PreparedImages:
    """Load both images and resize them: content's long side = ``size``; style's = ``size * style_scale``.

    Images that would vanish in VGG's pooling before the deepest layer (a 4000x8 strip) are refused with an
    :class:`~nstcore.errors.ImageError`; a tiny image (1x1) is simply upscaled to the requested size.
    """
    return prepare_scales(config, content, style, layers)[-1]


def prepare_scales(
    config: StyleConfig, content: ImageSource, style: ImageSource, layers: Sequence[str] | None = None
) -> list[PreparedImages]:
    """:func:`prepare_images` for every size of ``config.scale_plan()`` (coarsest first), each resized from the
    originals rather than from the previous scale."""
    content_src = load_image(content, max_pixels=config.max_image_pixels, name=_name(content, "content"))
    style_src = load_image(style, max_pixels=config.max_image_pixels, name=_name(style, "style"))
    names = list(layers) if layers is not None else list(config.loss_weights().layers())
    need = min_image_side(config.model, names)
    out = []
    for size, _ in config.scale_plan():
        content_img = resize_long_side(content_src, size)
        style_img = resize_long_side(style_src, max(1, round(size * config.style_scale)))
        try:
            check_survives_pooling(content_img.size, need, "content")
            check_survives_pooling(style_img.size, need, "style")
        except ImageError as exc:
            if size == config.size:
                raise
            raise ImageError(
                f"With {config.scales} scales the coarsest is {size} px, too small for the chosen "
                f"layers (they need {need} px on the short side); use fewer scales or a larger "
                "size."
            ) from exc
        out.append(PreparedImages(content_img, style_img))
    return out


def _name(source: object, what: str) -> str | None:
    """Label for error messages: a path names itself; bytes and arrays are called 'the content image'."""
    return None if isinstance(source, (str, os.PathLike)) else f"the {what} image"


class Objective:
    """The batched objective with its targets (content responses, style Grams) computed once, without grad.

    Targets are computed when a layer first gets a weight, not up front: the dashboard offers every conv layer at
    weight 0 so it can be switched on mid-run, and holding all sixteen content responses at 1024 px would cost
    gigabytes for nothing. ``set_weights`` turns one :class:`LossWeights` per variant into a (B, T) weight matrix;
    ``__call__`` returns the scalar to minimise (the sum over variants, whose gradients do not interact) and the
    (B, T) weighted terms in the column order ``content_names + style_names + ["tv"]``.
    """

    def __init__(
        self,
        extractor: VGGFeatures,
        content: Tensor,
        style: Tensor,
        content_names: Sequence[str],
        style_names: Sequence[str],
        norm: str = "mean",
    ) -> None:
        self.extractor = extractor
        self.norm = norm
        self.content_names = sort_layers(extractor.model, list(content_names))
        self.style_names = sort_layers(extractor.model, list(style_names))
        self._content, self._style = content, style
        self.content_targets: dict[str, Tensor] = {}
        self.style_targets: dict[str, Tensor] = {}
        self.weights: Tensor | None = None
        self._active_content: list[int] = []
        self._active_style: list[int] = []
        self._use_tv = False

    @property
    def columns(self) -> list[str]:
        return [*self.content_names, *self.style_names, "tv"]

    def set_weights(self, variants: Sequence[LossWeights], device: torch.device) -> None:
        rows = []
        for v in variants:
            rows.append(
                [v.alpha * v.content_layers.get(n, 0.0) for n in self.content_names]
                + [v.beta * v.style_layers.get(n, 0.0) for n in self.style_names]
                + [v.tv]
            )
        self.weights = torch.tensor(rows, dtype=torch.float32, device=device)
        used = [any(row[j] != 0 for row in rows) for j in range(len(rows[0]))]  # from the host copy: no device sync
        nc, ns = len(self.content_names), len(self.style_names)
        self._active_content = [i for i in range(nc) if used[i]]
        self._active_style = [i for i in range(ns) if used[nc + i]]
        self._use_tv = bool(used[-1])
        self._compute_targets()

    def _compute_targets(self) -> None:
        """Targets of the layers that are active now and were never needed before (one pass per image)."""
        content = [
            self.content_names[i] for i in self._active_content if self.content_names[i] not in self.content_targets
        ]
        style = [self.style_names[i] for i in self._active_style if self.style_names[i] not in self.style_targets]
        with torch.no_grad():
            if content:
                responses = self.extractor(self._content, content)
                self.content_targets.update({name: responses[name].detach() for name in content})
            if style:
                responses = self.extractor(self._style, style)
                self.style_targets.update({name: gram(responses[name]).detach() for name in style})

    def __call__(self, image: Tensor) -> tuple[Tensor, Tensor]:
        assert self.weights is not None, "call set_weights first"
        needed = [self.content_names[i] for i in self._active_content] + [
            self.style_names[i] for i in self._active_style
        ]
        responses = self.extractor(image, needed)
        batch = image.shape[0]
        zero = image.new_zeros(batch)
        terms: list[Tensor] = []
        active_c, active_s = set(self._active_content), set(self._active_style)
        for i, name in enumerate(self.content_names):
            terms.append(
                content_loss(responses[name], self.content_targets[name], self.norm) if i in active_c else zero
            )
        for i, name in enumerate(self.style_names):
            terms.append(style_loss(responses[name], self.style_targets[name], self.norm) if i in active_s else zero)
        terms.append(tv_loss(image, self.norm) if self._use_tv else zero)
        weighted = torch.stack(terms, dim=1) * self.weights
        return weighted.sum(), weighted.detach()


def _initial_image(
    config: StyleConfig, content: Tensor, style_img: Image.Image, batch: int, device: torch.device
) -> Tensor:
    if config.init == "content":
        start = content.clone()
    elif config.init == "style":
        height, width = content.shape[-2:]
        start = image_to_tensor(style_img.resize((width, height), Image.Resampling.LANCZOS), device)
    else:
        generator = torch.Generator(device="cpu").manual_seed(config.seed)
        start = torch.rand(content.shape, generator=generator).to(device)
    # Every variant starts from the same pixels, so differences in the grid come from the settings alone.
    return start.expand(batch, -1, -1, -1).contiguous()


def _losses_from_row(row: list[float], content_names: list[str], style_names: list[str]) -> Losses:
    nc, ns = len(content_names), len(style_names)
    content = sum(row[:nc])
    style = dict(zip(style_names, row[nc : nc + ns]))
    tv = row[-1]
    return Losses(total=content + sum(style.values()) + tv, content=content, style=style, tv=tv)


def run(
    config: StyleConfig,
    content: ImageSource,
    style: ImageSource,
    *,
    device: torch.device | str = "cpu",
    network: Network | None = None,
    controls: Controls | None = None,
    variants: Sequence[Variant | LossWeights] | None = None,
    max_batch: int | None = None,
    progress: bool = False,
) -> Generator[Progress, None, None]:
    """Optimise and yield a :class:`Progress` after each of ``config.steps`` objective evaluations.

    ``variants`` (or the variants of ``controls``) define the batch; by default one variant from ``config``.
    ``controls`` is read at every step: change it from any thread to steer the run. ``device`` must already be
    resolved (see :func:`nstcore.device.resolve_device`). ``network`` defaults to the process-wide cached
    ``load_network(config.model, config.weights, device)``; ``progress`` is passed to a first-time download.
    ``max_batch`` caps how many variants share one forward pass; without it, variants that do not fit the device's
    memory are split into the largest batches that do (found at the first step), and the snapshots say so.

    Raises :class:`~nstcore.errors.ImageError` / :class:`~nstcore.errors.ConfigError` before the first step for bad
    input, so callers can report it at once.
    """
    device = torch.device(device)
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"run() needs a concrete device such as cpu or cuda, got {device}.")
    if variants:
        items = [as_variant(v, i) for i, v in enumerate(variants)]
    elif controls is not None:
        items = [Variant(f"variant {i + 1}", w) for i, w in enumerate(controls.read().variants)]
    else:
        items = [Variant("", config.loss_weights())]
    check_count(items)
    if controls is None:
        controls = Controls([v.weights for v in items], lr=config.effective_lr)
    if len(controls) != len(items):
        raise ConfigError(f"controls hold {len(controls)} variants but {len(items)} were given.")
    if max_batch is not None and max_batch < 1:
        raise ConfigError(f"max_batch must be at least 1, got {max_batch}.")
    state = controls.read()
    content_names = sorted({n for v in state.variants for n in v.content_layers})
    style_names = sorted({n for v in state.variants for n in v.style_layers})
    prepared = prepare_scales(config, content, style, [*content_names, *style_names])
    if network is None:
        network = load_network(config.model, config.weights, device, progress=progress)
    if network.model != config.model:
        raise ConfigError(f"The network is {network.model} but the config asks for {config.model}.")
    poolings = [v.pooling or config.pooling for v in items]
    return _optimise(
        config,
        prepared,
        network,
        controls,
        content_names,
        style_names,
        poolings,
        tuple(v.label for v in items),
        max_batch,
    )


# Measured (benchmarks/results_batch.md, 2 cores, bf16 channels-last): on the CPU a batch of variants is 1.27-1.46x
# faster than separate passes at 128x128, but 0.59-0.90x at 256x256, where one image already keeps every core busy
# and a batch only adds memory traffic. Above this many pixels the CPU path steps variants one per
# pass (still one run, one snapshot per step).
CPU_BATCH_PIXELS = 160 * 160


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the RuntimeError MPS and older CUDA builds raise."""
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


class _Lane:
    """A slice of the variants that shares one forward/backward pass, with its own image and optimiser."""

    def __init__(
        self,
        indices: list[int],
        config: StyleConfig,
        network: Network,
        content: Tensor,
        style: Tensor,
        start: Tensor,
        content_names: list[str],
        style_names: list[str],
        poolings: list[str],
        lr: float,
        bf16: bool,
    ) -> None:
        self.indices = indices
        self.device_type = network.device.type
        self.bf16 = bf16
        lane_pools = [poolings[i] for i in indices]
        extractor = VGGFeatures(
            network, [*content_names, *style_names], lane_pools if len(set(lane_pools)) > 1 else lane_pools[0]
        )
        if extractor.mixed:  # targets differ with the pooling: one per variant
            content, style = (t.expand(len(indices), -1, -1, -1) for t in (content, style))
        self.objective = Objective(extractor, content, style, content_names, style_names, config.loss_norm)
        self.image = start[indices].clone().requires_grad_(True)
        self.lbfgs = config.optimizer == "lbfgs"
        if not self.lbfgs:
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam([self.image], lr=lr)
        else:
            # max_iter=1: every .step() is exactly one objective evaluation, so a "step" means the same for both
            # optimisers; the curvature history lives in the optimiser state across calls. Tolerances 0: the step
            # budget (or the person watching) decides when to stop; torch's absolute defaults (gradient 1e-7,
            # change 1e-9) froze a 256 px image after ~90 steps while every later step still paid for an evaluation.
            self.optimizer = torch.optim.LBFGS(
                [self.image],
                lr=lr,
                max_iter=1,
                history_size=config.lbfgs_history,
                tolerance_grad=0.0,
                tolerance_change=0.0,
            )
        # L-BFGS sees the loss times the number of pixel values: the "mean" losses give per-pixel gradients of
        # ~1e-7, where torch's fixed threshold for keeping a curvature pair (y.s > 1e-10) drops most pairs and the
        # method degrades to plain gradient steps. (Adam is scale-free; it sees the loss as it is.)
        self.loss_scale = float(self.image[0].numel()) if self.lbfgs else 1.0
        self._accepted: tuple[float, Tensor, Tensor] | None = None  # L-BFGS: last point that was no blow-up
        self._undone = 0  # L-BFGS steps undone in a row

    def autocast(self) -> torch.autocast:
        """bf16 convolutions where enabled; Gram matrices and losses upcast to fp32 in nstcore.losses."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def set_controls(self, variants: Sequence[LossWeights], lr: float) -> None:
        with self.autocast():  # new targets in the same arithmetic as the image's features (content loss 0 at init)
            self.objective.set_weights([variants[i] for i in self.indices], self.image.device)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.lbfgs:  # a new objective: old curvature pairs and the old loss level no longer describe it
            self.optimizer.state.clear()
            self._accepted = None

    def step(self) -> Tensor:
        """One objective evaluation and update; returns the (b, T) weighted terms at the evaluated image."""
        holder: dict[str, Tensor] = {}

        def closure() -> Tensor:
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast():
                total, terms = self.objective(self.image)
            (total * self.loss_scale if self.lbfgs else total).backward()
            holder["terms"] = terms
            return total

        evaluated = self.image.detach().clone() if self.lbfgs else None
        self.optimizer.step(closure)  # type: ignore[arg-type]  # torch's stub says float; L-BFGS takes a Tensor
        with torch.no_grad():
            self.image.clamp_(0.0, 1.0)
            if evaluated is not None:
                return self._guard(holder["terms"], evaluated)
        return holder["terms"]

    def _guard(self, terms: Tensor, evaluated: Tensor) -> Tensor:
        """Undo an L-BFGS step that blew up; returns the terms that belong to the image the lane now holds.

        Without a line search (one evaluation per step) and with clamping to [0, 1], L-BFGS now and then steps far
        past the minimum along its direction: at 256 px the loss jumped up to 1000x every ~50 steps and took dozens
        of steps to come back. When an evaluation comes out above twice the last good one, the image goes back to
        that point. The curvature pair that the bad step produced stays in the history (it is what makes the next
        direction shorter), and ``d`` is zeroed so the jump back is not learnt as a step; after three undone steps
        in a row the history starts afresh. Such a step reports the losses of the point it went back to (which is also
        the image it yields), not those of the blow-up. Measured: benchmarks/results_ablation.md.
        """
        loss = float(terms.sum())
        if self._accepted is None or loss <= 2.0 * self._accepted[0]:
            self._accepted = (loss, evaluated, terms)
            self._undone = 0
            return terms
        _, image, good_terms = self._accepted
        self.image.copy_(image)
        self._undone += 1
        state = self.optimizer.state[self.image]
        if self._undone >= 3 or "d" not in state:
            self.optimizer.state.clear()
            self._undone = 0
        else:
            state["d"].zero_()  # the next curvature pair has s = 0 and is skipped
        return good_terms


def _build_lanes(
    config: StyleConfig,
    network: Network,
    content: Tensor,
    style: Tensor,
    start_image: Tensor,
    content_names: list[str],
    style_names: list[str],
    poolings: list[str],
    state,
    chunk: int,
    bf16: bool,
) -> tuple[list[_Lane], list[Tensor], int]:
    """Lanes of up to ``chunk`` variants and their first step; halves ``chunk`` on out-of-memory until it fits."""
    batch = start_image.shape[0]
    while True:
        lanes = []
        try:
            for first in range(0, batch, chunk):
                lane = _Lane(
                    list(range(first, min(first + chunk, batch))),
                    config,
                    network,
                    content,
                    style,
                    start_image,
                    content_names,
                    style_names,
                    poolings,
                    state.lr,
                    bf16,
                )
                lane.set_controls(state.variants, state.lr)
                lanes.append(lane)
            return lanes, [lane.step() for lane in lanes], chunk
        except Exception as exc:
            if not is_out_of_memory(exc) or chunk == 1:
                raise
            del lanes
            if network.device.type == "cuda":
                torch.cuda.empty_cache()
            chunk = (chunk + 1) // 2


def _upsample(images: Tensor, shape: tuple[int, int]) -> Tensor:
    """The previous scale's result at the next scale's size (bicubic, kept in [0, 1])."""
    return torch.nn.functional.interpolate(images, size=shape, mode="bicubic", align_corners=False).clamp_(0, 1)


def _optimise(
    config: StyleConfig,
    scales: list[PreparedImages],
    network: Network,
    controls: Controls,
    content_names: list[str],
    style_names: list[str],
    poolings: list[str],
    labels: tuple[str, ...],
    max_batch: int | None,
) -> Generator[Progress, None, None]:
    device = network.device
    bf16 = use_bf16(config.precision, device)
    tune_backends(device)
    batch = len(labels)
    plan = config.scale_plan()
    steps = config.steps
    notes: tuple[str, ...] = ()
    if len(plan) > 1:
        notes = (
            "Coarse to fine: "
            + " → ".join(f"{size} px" for size, _ in plan)
            + f", {' + '.join(str(n) for _, n in plan)} steps.",
        )
    state = controls.read()
    seen_version = state.version
    chunk = min(max_batch or batch, batch)
    start = time.perf_counter()
    step = 0
    lanes: list[_Lane] = []
    for index, (prepared, (size, scale_steps)) in enumerate(zip(scales, plan)):
        content = image_to_tensor(prepared.content, device)
        style = image_to_tensor(prepared.style, device)
        if index == 0:
            start_image = _initial_image(config, content, prepared.style, batch, device)
        else:
            with torch.no_grad():
                previous = lanes[0].image if len(lanes) == 1 else torch.cat([lane.image for lane in lanes])
                start_image = _upsample(previous.detach(), (content.shape[-2], content.shape[-1]))
        del lanes
        auto = max_batch is None and device.type == "cpu" and content.shape[-1] * content.shape[-2] > CPU_BATCH_PIXELS
        lanes, terms, chunk = _build_lanes(
            config,
            network,
            content,
            style,
            start_image,
            content_names,
            style_names,
            poolings,
            state,
            1 if auto else chunk,
            bf16,
        )
        if auto:
            chunk = min(max_batch or batch, batch)  # a coarser scale's split does not bind the next one
        del start_image, content, style
        lane_size = max(len(lane.indices) for lane in lanes)
        split: tuple[str, ...] = ()
        if lane_size < batch:
            if auto and lane_size == 1:
                why = "(on the CPU, images this large run faster one per pass; see benchmarks/results_batch.md)"
            elif max_batch and lane_size == max_batch:
                why = "to stay within max_batch"
            else:
                why = "to fit in the device's memory"
            split = (f"{batch} variants run as {len(lanes)} batches of up to {lane_size} {why}.",)
        names_c, names_s = lanes[0].objective.content_names, lanes[0].objective.style_names
        for scale_step in range(1, scale_steps + 1):
            step += 1
            if scale_step > 1:
                state = controls.read()
                if state.version != seen_version:
                    if len(state.variants) != batch:
                        raise ConfigError("The number of variants cannot change during a run.")
                    for lane in lanes:
                        lane.set_controls(state.variants, state.lr)
                    seen_version = state.version
                terms = [lane.step() for lane in lanes]
            rows = (terms[0] if len(terms) == 1 else torch.cat(terms)).tolist()  # the one device->host sync
            want_image = (
                step == steps
                or scale_step == scale_steps
                or (config.preview_every > 0 and step % config.preview_every == 0)
                or controls.take_image_request()
            )
            images = None
            if want_image:
                images = tensor_to_arrays(
                    lanes[0].image if len(lanes) == 1 else torch.cat([lane.image for lane in lanes])
                )
            yield Progress(
                step=step,
                total_steps=steps,
                losses=tuple(_losses_from_row(row, names_c, names_s) for row in rows),
                elapsed=time.perf_counter() - start,
                images=images,
                labels=labels,
                notes=notes + split,
                size=size,
            )
        # A new scale reads the controls afresh (they may have moved during the last step of this one).
        state = controls.read()
        seen_version = state.version
