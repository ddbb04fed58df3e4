"""The optimisation of Gatys, Ecker & Bethge (2015, "A Neural Algorithm of Artistic Style"), as a generator.

``run()`` minimises ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV`` over the pixels of B images at once
(B "variants": same content, style and size; their own weights and layers) and yields an immutable
:class:`~nstcore.progress.Progress` after every objective evaluation. The consumer stops a run by closing the
generator. The loop never prints, writes files or picks a device: those belong to the CLI and the dashboard.

Per step it does one forward pass through a frozen VGG truncated at the deepest layer in use, one backward pass to
the image, one optimiser step, and one device-to-host copy of the loss terms (a single ``tolist()``).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .colour import recolour
from .config import LossWeights, StyleConfig
from .controls import Controls, ControlsState
from .device import tune_backends, use_bf16
from .errors import ConfigError
from .features import Network, load_network
from .generator import GeneratorLane, build_generator_lanes
from .images import ImageSource, load_image
from .lanes import CPU_BATCH_PIXELS, Lane, build_lanes, sharing, split_note, step_lanes
from .masks import mask_tensors
from .objective import losses_from_row
from .preparation import PreparedImages, StyleSources, prepare_images, prepare_scales, preserve_colours, style_list
from .progress import Progress
from .stepping import ControlsReader, wants_image
from .tensors import image_to_tensor, tensor_to_arrays
from .variants import Variant, as_variant, check_count
from .weight_text import blend_weights

__all__ = ["PreparedImages", "StyleSources", "prepare_images", "prepare_scales", "run", "style_list"]


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


def run(
    config: StyleConfig,
    content: ImageSource,
    style: StyleSources,
    *,
    masks: Sequence[ImageSource] | None = None,
    device: torch.device | str = "cpu",
    network: Network | None = None,
    controls: Controls | None = None,
    variants: Sequence[Variant | LossWeights] | None = None,
    max_batch: int | None = None,
    progress: bool = False,
    start: ImageSource | None = None,
) -> Generator[Progress, None, None]:
    """Optimise and yield a :class:`Progress` after each of ``config.steps`` objective evaluations.

    ``style`` is one style image or a list of them (blended by each variant's ``style_blend``); ``masks``, one per
    style image in the content image's frame, confine each style to its region (:mod:`nstcore.masks`).
    ``variants`` (or the variants of ``controls``) define the batch; by default one variant from ``config``.
    ``controls`` is read at every step: change it from any thread to steer the run. ``device`` must already be
    resolved (see :func:`nstcore.device.resolve_device`). ``network`` defaults to the process-wide cached
    ``load_network(config.model, config.weights, device)``; ``progress`` is passed to a first-time download.
    ``max_batch`` caps how many variants share one forward pass; without it, variants that do not fit the device's
    memory are split into the largest batches that do (found at the first step), and the snapshots say so.
    ``start``, a picture (e.g. an earlier result), replaces ``config.init``: every variant starts from it, resized
    (bicubic) to the first scale's size, so a result can be continued at a larger size.

    Raises :class:`~nstcore.errors.ImageError` / :class:`~nstcore.errors.ConfigError` before the first step for bad
    input, so callers can report it at once.
    """
    device = torch.device(device)
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"run() needs a concrete device such as cpu or cuda, got {device}.")
    items, controls = _batch(config, variants, controls)
    if max_batch is not None and max_batch < 1:
        raise ConfigError(f"max_batch must be at least 1, got {max_batch}.")
    state = controls.read()
    styles = style_list(style)
    for weights in state.variants:
        blend_weights(weights.style_blend, len(styles))  # a blend that does not fit the images: one sentence now
    content_names = sorted({n for v in state.variants for n in v.content_layers})
    style_names = sorted({n for v in state.variants for n in v.style_layers})
    # Colours are preserved per variant (a comparison may set none / luminance / histogram side by side), so the
    # images are prepared plain here and each colour mode's lanes get their own version of them.
    prepared = prepare_scales(
        config.replace(preserve_colors="none"), content, styles, [*content_names, *style_names], masks
    )
    if network is None:
        network = load_network(config.model, config.weights, device, progress=progress)
    if network.model != config.model:
        raise ConfigError(f"The network is {network.model} but the config asks for {config.model}.")
    if start is not None and config.generator == "hrnet":
        raise ConfigError("A generator's picture is its own output: it cannot start from a picture; leave start out.")
    first = None if start is None else image_to_tensor(load_image(start, name="start picture"), network.device)
    poolings = [v.pooling or config.pooling for v in items]
    colours = [v.preserve_colors or config.preserve_colors for v in items]
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
        colours,
        first,
    )


def _batch(
    config: StyleConfig, variants: Sequence[Variant | LossWeights] | None, controls: Controls | None
) -> tuple[list[Variant], Controls]:
    """The run's variants (given, or those of ``controls``, or one from ``config``) and the controls that steer
    them (made from the variants when not given)."""
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
    return items, controls


# Measured (benchmarks/results_batch.md, 2 cores, bf16 channels-last): on the CPU a batch of variants is 1.27-1.46x
# faster than separate passes at 128x128, but 0.59-0.90x at 256x256, where one image already keeps every core busy
# and a batch only adds memory traffic. Above this many pixels the CPU path steps variants one per
# pass (still one run, one snapshot per step).
def _in_order(lanes: Sequence[Lane], parts: Sequence[Tensor]) -> Tensor:
    """One tensor per lane (images or loss rows) joined in variant order (lanes of different colour modes may hold
    variants that are not neighbours)."""
    joined = parts[0] if len(parts) == 1 else torch.cat(list(parts))
    order = [i for lane in lanes for i in lane.indices]
    if order == sorted(order):
        return joined
    return joined[torch.tensor(sorted(range(len(order)), key=order.__getitem__), device=joined.device)]


def _upsample(images: Tensor, shape: tuple[int, int]) -> Tensor:
    """The previous scale's result at the next scale's size (bicubic, kept in [0, 1])."""
    return torch.nn.functional.interpolate(images, size=shape, mode="bicubic", align_corners=False).clamp_(0, 1)


@dataclass
class _Scale:
    """One scale's lanes, ready to step: their first terms, the colours to put back, the batch they managed."""

    lanes: list[Lane]
    terms: list[Tensor]
    recolour_from: dict[int, Image.Image]
    chunk: int
    style_count: int


def _colour_groups(colours: list[str]) -> dict[str, list[int]]:
    """Variants that preserve colours differently see different images (grey for luminance, recoloured styles for
    histogram): each colour mode gets lanes of its own. Mode -> its variants' indices."""
    groups: dict[str, list[int]] = {}
    for i, mode in enumerate(colours):
        groups.setdefault(mode, []).append(i)
    return groups


def _notes(config: StyleConfig, plan: list[tuple[int, int]]) -> tuple[str, ...]:
    """What every snapshot of the run says besides its numbers."""
    notes: tuple[str, ...] = ()
    if config.generator == "hrnet":
        notes = ("The picture is a generator network's output: its weights train with Adam (Li et al. 2019).",)
    if len(plan) > 1:
        notes = (
            "Coarse to fine: "
            + " → ".join(f"{size} px" for size, _ in plan)
            + f", {' + '.join(str(n) for _, n in plan)} steps.",
        )
    return notes


def _build_scale(
    config: StyleConfig,
    raw: PreparedImages,
    network: Network,
    previous: Tensor | None,
    groups: dict[str, list[int]],
    names: tuple[list[str], list[str], list[str]],
    state: ControlsState,
    chunk: int,
    bf16: bool,
    batch: int,
) -> _Scale:
    """The lanes of one scale, one colour mode after the other (each mode sees its own images), starting from the
    previous scale's picture (``previous``, upsampled) or the configured initial image."""
    device = network.device
    content_names, style_names, poolings = names
    lanes: list[Lane] = []
    terms: list[Tensor] = []
    recolour_from: dict[int, Image.Image] = {}
    chunks = []
    style_count = 0
    for mode, members in groups.items():
        prepared = preserve_colours(mode, raw)
        style_count = len(prepared.styles)
        content = image_to_tensor(prepared.content, device)
        styles = [image_to_tensor(style, device) for style in prepared.styles]
        masks = mask_tensors(prepared.masks, prepared.content.size, device) if prepared.masks else None
        group_lanes: Sequence[Any]
        if config.generator == "hrnet":  # its picture starts as the network's own output: no start pixels
            group_lanes, group_terms = build_generator_lanes(
                config, network, content, styles, content_names, style_names, poolings, state, bf16, masks, members
            )
            used = 1
        else:
            if previous is None:
                start_image = _initial_image(config, content, prepared.style, batch, device)
            else:
                start_image = _upsample(previous, (content.shape[-2], content.shape[-1]))
            group_lanes, group_terms, used = build_lanes(
                config,
                network,
                content,
                styles,
                start_image,
                content_names,
                style_names,
                poolings,
                state,
                chunk,
                bf16,
                masks,
                members,
            )
            del start_image
        lanes += group_lanes
        terms += group_terms
        chunks.append(used)
        if prepared.colour is not None:
            recolour_from.update(dict.fromkeys(members, prepared.colour))
        del content, styles, masks
    return _Scale(lanes, terms, recolour_from, min(chunks), style_count)


def _pictures(config: StyleConfig, scale: _Scale) -> tuple[tuple[np.ndarray, ...], tuple[dict[str, Any], ...] | None]:
    """The batch's pictures in variant order (luminance-only variants get the content's chroma back), and with a
    generator its weights too (a stopped run keeps them)."""
    images = tensor_to_arrays(_in_order(scale.lanes, [lane.image for lane in scale.lanes]))
    if scale.recolour_from:
        images = tuple(
            recolour(image, scale.recolour_from[i]) if i in scale.recolour_from else image
            for i, image in enumerate(images)
        )
    trained = None
    if config.generator == "hrnet":
        generators = sorted(scale.lanes, key=lambda lane: lane.indices[0])
        trained = tuple(lane.state_dict() for lane in generators if isinstance(lane, GeneratorLane))
    return images, trained


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
    colours: list[str],
    first: Tensor | None = None,
) -> Generator[Progress, None, None]:
    device = network.device
    bf16 = use_bf16(config.precision, device)
    tune_backends(device)
    batch = len(labels)
    plan = config.scale_plan()
    steps = config.steps
    notes = _notes(config, plan)
    reader = ControlsReader(controls)
    state = reader.state
    # L-BFGS steps the whole lane as one flat vector: its curvature history, step length and blow-up guard would mix
    # the variants of a batch, so a variant's picture would depend on its neighbours. Under L-BFGS every variant
    # gets a lane of its own (still one run, one snapshot per step); Adam's per-element moments keep a batch
    # independent, so it shares the pass.
    per_variant = config.optimizer == "lbfgs" or config.generator == "hrnet"
    chunk = 1 if per_variant else min(max_batch or batch, batch)
    groups = _colour_groups(colours)
    start = time.perf_counter()
    step = 0
    scale: _Scale | None = None
    for index, (raw, (size, scale_steps)) in enumerate(zip(scales, plan)):
        previous = first.expand(batch, -1, -1, -1) if index == 0 and first is not None else None
        if index > 0 and scale is not None:
            with torch.no_grad():
                previous = _in_order(scale.lanes, [lane.image for lane in scale.lanes]).detach()
        scale = None  # the last scale's lanes go before this scale's are built
        auto = max_batch is None and device.type == "cpu" and raw.content.width * raw.content.height > CPU_BATCH_PIXELS
        names = (content_names, style_names, poolings)
        scale = _build_scale(config, raw, network, previous, groups, names, state, 1 if auto else chunk, bf16, batch)
        chunk = scale.chunk
        if auto and not per_variant:
            chunk = min(max_batch or batch, batch)  # a coarser scale's split does not bind the next one
        del previous
        split = split_note(batch, scale.lanes, auto, max_batch, per_variant)
        names_c, names_s = scale.lanes[0].objective.content_names, scale.lanes[0].objective.style_names
        for scale_step in range(1, scale_steps + 1):
            step += 1
            if scale_step > 1:
                reader.refresh(scale.lanes, batch)
                scale.terms = step_lanes(scale.lanes)
            rows = _in_order(scale.lanes, scale.terms).tolist()  # the one device->host sync
            images, trained = None, None
            if wants_image(step, steps, config.preview_every, controls, end_of_scale=scale_step == scale_steps):
                images, trained = _pictures(config, scale)
            yield Progress(
                trained=trained,
                step=step,
                total_steps=steps,
                losses=tuple(losses_from_row(row, names_c, names_s, scale.style_count) for row in rows),
                elapsed=time.perf_counter() - start,
                images=images,
                labels=labels,
                notes=notes + split,
                size=size,
                controls_version=reader.version,
                shared=sharing(),
            )
        state = reader.restart()
