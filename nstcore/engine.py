"""The optimisation of Gatys, Ecker & Bethge (2015, "A Neural Algorithm of Artistic Style"), as a generator.

``run()`` minimises ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV`` over the pixels of B images at once
(B "variants": same content, style and size; their own weights and layers) and yields an immutable
:class:`~nstcore.progress.Progress` after every objective evaluation. The consumer stops a run by closing the
generator. The loop never prints, writes files or picks a device: those belong to the CLI and the dashboard.

Per step it does one forward pass through a frozen VGG truncated at the deepest layer in use, one backward pass to
the image, one optimiser step, and one device-to-host copy of the loss terms (a single ``tolist()``).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from functools import partial
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
from .lanes import CPU_BATCH_PIXELS, Lane, Targets, build_lanes, in_order, split_note
from .masks import mask_tensors
from .preparation import PreparedImages, StyleSources, prepare_images, prepare_scales, preserve_colours, style_list
from .progress import Progress
from .stepping import ControlsReader, Loop, snapshots
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
    if max_batch is not None and max_batch < 1:
        raise ConfigError(f"max_batch must be at least 1, got {max_batch}.")
    items, controls = _batch(config, variants, controls)
    styles = style_list(style)
    content_names, style_names = _layers(controls.read(), len(styles))
    # Colours are preserved per variant (a comparison may set none / luminance / histogram side by side), so the
    # images are prepared plain here and each colour mode's lanes get their own version of them.
    prepared = prepare_scales(
        config.replace(preserve_colors="none"), content, styles, [*content_names, *style_names], masks
    )
    network = _network(config, network, device, progress)
    first = _first_picture(config, start, network)
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


def _layers(state: ControlsState, styles: int) -> tuple[list[str], list[str]]:
    """The content and style layers any variant uses (sorted); a style blend that does not fit the number of style
    images is refused now, with one sentence, not at the first step."""
    for weights in state.variants:
        blend_weights(weights.style_blend, styles)
    content_names = sorted({n for v in state.variants for n in v.content_layers})
    style_names = sorted({n for v in state.variants for n in v.style_layers})
    return content_names, style_names


def _network(config: StyleConfig, network: Network | None, device: torch.device, progress: bool) -> Network:
    """The given network (it must be the config's model) or the process-wide cached one."""
    if network is None:
        network = load_network(config.model, config.weights, device, progress=progress)
    if network.model != config.model:
        raise ConfigError(f"The network is {network.model} but the config asks for {config.model}.")
    return network


def _first_picture(config: StyleConfig, start: ImageSource | None, network: Network) -> Tensor | None:
    """``start`` on the network's device (None: the config's init decides)."""
    if start is None:
        return None
    if config.generator == "hrnet":
        raise ConfigError("A generator's picture is its own output: it cannot start from a picture; leave start out.")
    return image_to_tensor(load_image(start, name="start picture"), network.device)


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
        targets = Targets(config, network, content, styles, *names, bf16, masks)
        group_lanes: Sequence[Any]
        if config.generator == "hrnet":  # its picture starts as the network's own output: no start pixels
            group_lanes, group_terms = build_generator_lanes(targets, state, members)
            used = 1
        else:
            if previous is None:
                start_image = _initial_image(config, content, prepared.style, batch, device)
            else:
                start_image = _upsample(previous, (content.shape[-2], content.shape[-1]))
            group_lanes, group_terms, used = build_lanes(targets, start_image, state, chunk, members)
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
    images = tensor_to_arrays(in_order(scale.lanes, [lane.image for lane in scale.lanes]))
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
    reader = ControlsReader(controls)
    loop = Loop(controls, reader, config.steps, config.preview_every, labels, _notes(config, plan))
    state = reader.state
    # L-BFGS steps the whole lane as one flat vector: its curvature history, step length and blow-up guard would mix
    # the variants of a batch, so a variant's picture would depend on its neighbours. Under L-BFGS every variant
    # gets a lane of its own (still one run, one snapshot per step); Adam's per-element moments keep a batch
    # independent, so it shares the pass.
    per_variant = config.optimizer == "lbfgs" or config.generator == "hrnet"
    chunk = 1 if per_variant else min(max_batch or batch, batch)
    groups = _colour_groups(colours)
    step = 0
    scale: _Scale | None = None
    for index, (raw, (size, scale_steps)) in enumerate(zip(scales, plan)):
        previous = first.expand(batch, -1, -1, -1) if index == 0 and first is not None else None
        if index > 0 and scale is not None:
            with torch.no_grad():
                previous = in_order(scale.lanes, [lane.image for lane in scale.lanes]).detach()
        scale = None  # the last scale's lanes go before this scale's are built
        auto = max_batch is None and device.type == "cpu" and raw.content.width * raw.content.height > CPU_BATCH_PIXELS
        names = (content_names, style_names, poolings)
        scale = _build_scale(config, raw, network, previous, groups, names, state, 1 if auto else chunk, bf16, batch)
        chunk = scale.chunk
        if auto and not per_variant:
            chunk = min(max_batch or batch, batch)  # a coarser scale's split does not bind the next one
        del previous
        split = split_note(batch, scale.lanes, auto, max_batch, per_variant)
        yield from snapshots(
            loop.with_notes(split),
            scale.lanes,
            range(step + 1, step + scale_steps + 1),
            size=size,
            style_count=scale.style_count,
            pictures=partial(_pictures, config, scale),
            taken=scale.terms,
        )
        step += scale_steps
        state = reader.restart()
