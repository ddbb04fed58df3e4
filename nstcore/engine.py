"""The optimisation of Gatys, Ecker & Bethge (2015, "A Neural Algorithm of Artistic Style"), as a generator.

``run()`` minimises ``alpha * L_content + beta * sum_l w_l E_l + tv * L_TV`` over the pixels of B images at once
(B "variants": same content, style and size; their own weights and layers) and yields an immutable
:class:`~nstcore.progress.Progress` after every objective evaluation. The consumer stops a run by closing the
generator. The loop never prints, writes files or picks a device: those belong to the CLI and the dashboard.

Per step it does one forward pass through a frozen VGG truncated at the deepest layer in use, one backward pass to
the image, one optimiser step, and one device-to-host copy of the loss terms (a single ``tolist()``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
from PIL import Image
from torch import Tensor

from .colour import luminance_image, match_colours, recolour
from .config import LossWeights, StyleConfig
from .controls import Controls
from .device import tune_backends, use_bf16
from .errors import ConfigError, ImageError
from .features import Network, load_network, min_image_side
from .generator import GeneratorLane, build_generator_lanes
from .images import ImageSource, check_survives_pooling, load_image, resize_long_side
from .lanes import CPU_BATCH_PIXELS, Lane, build_lanes, split_note
from .masks import load_masks, mask_tensors
from .objective import losses_from_row
from .progress import Progress
from .stepping import ControlsReader, wants_image
from .tensors import image_to_tensor, tensor_to_arrays
from .variants import Variant, as_variant, check_count
from .weight_text import MAX_STYLES, blend_weights


@dataclass(frozen=True)
class PreparedImages:
    """Content and style images after loading, RGB conversion and resizing, ready for the network. ``colour`` is
    the content image in colour when the run works on luminance only (``preserve_colors="luminance"``): its results
    get their chroma back from it. ``masks`` are the style masks at the content's size (greyscale), if any."""

    content: Image.Image
    styles: tuple[Image.Image, ...]
    colour: Image.Image | None = None
    masks: tuple[Image.Image, ...] | None = None

    @property
    def style(self) -> Image.Image:
        """The first (for most runs, the only) style image."""
        return self.styles[0]


StyleSources = ImageSource | Sequence[ImageSource]


def style_list(style: StyleSources) -> list[ImageSource]:
    """One style image or several (a list or tuple of them) as a list, checked for count."""
    styles = cast(list[ImageSource], list(style) if isinstance(style, (list, tuple)) else [style])
    if not 1 <= len(styles) <= MAX_STYLES:
        raise ConfigError(f"A run takes 1 to {MAX_STYLES} style images, got {len(styles)}.")
    return styles


def prepare_images(
    config: StyleConfig,
    content: ImageSource,
    style: StyleSources,
    layers: Sequence[str] | None = None,
    masks: Sequence[ImageSource] | None = None,
) -> PreparedImages:
    """Load the images and resize them: content's long side = ``size``; each style's = ``size * style_scale``.

    Images that would vanish in VGG's pooling before the deepest layer (a 4000x8 strip) are refused with an
    :class:`~nstcore.errors.ImageError`; a tiny image (1x1) is simply upscaled to the requested size. Masks (one per
    style, see :mod:`nstcore.masks`) are checked and resized to the content's size.
    """
    return prepare_scales(config, content, style, layers, masks)[-1]


def prepare_scales(
    config: StyleConfig,
    content: ImageSource,
    style: StyleSources,
    layers: Sequence[str] | None = None,
    masks: Sequence[ImageSource] | None = None,
) -> list[PreparedImages]:
    """:func:`prepare_images` for every size of ``config.scale_plan()`` (coarsest first), each resized from the
    originals rather than from the previous scale."""
    sources = style_list(style)
    content_src = load_image(content, max_pixels=config.max_image_pixels, name=_name(content, "content"))
    style_srcs = [
        load_image(
            source,
            max_pixels=config.max_image_pixels,
            name=_name(source, "style" if len(sources) == 1 else f"style {k}"),
        )
        for k, source in enumerate(sources, start=1)
    ]
    mask_srcs = (
        load_masks(masks, len(sources), content_src.size, config.max_image_pixels) if masks is not None else None
    )
    names = list(layers) if layers is not None else list(config.loss_weights().layers())
    need = min_image_side(config.model, names)
    out = []
    for size, _ in config.scale_plan():
        content_img = resize_long_side(content_src, size)
        style_imgs = [resize_long_side(src, max(1, round(size * config.style_scale))) for src in style_srcs]
        try:
            check_survives_pooling(content_img.size, need, "content")
            for k, style_img in enumerate(style_imgs, start=1):
                check_survives_pooling(style_img.size, need, "style" if len(style_imgs) == 1 else f"style {k}")
        except ImageError as exc:
            if size == config.size:
                raise
            raise ImageError(
                f"With {config.scales} scales the coarsest is {size} px, too small for the chosen "
                f"layers (they need {need} px on the short side); use fewer scales or a larger "
                "size."
            ) from exc
        masks_here = (
            tuple(m.resize(content_img.size, Image.Resampling.BILINEAR) for m in mask_srcs) if mask_srcs else None
        )
        out.append(
            preserve_colours(config.preserve_colors, PreparedImages(content_img, tuple(style_imgs), None, masks_here))
        )
    return out


def preserve_colours(mode: str, images: PreparedImages) -> PreparedImages:
    """The images as a run sees them under colour preservation ``mode`` (see :mod:`nstcore.colour`); with several
    style images each is treated alike; masks are kept."""
    content, styles = images.content, images.styles
    if mode == "histogram":
        return dataclasses.replace(images, styles=tuple(match_colours(style, content) for style in styles))
    if mode == "luminance":
        return dataclasses.replace(
            images,
            content=luminance_image(content),
            styles=tuple(luminance_image(style, reference=content) for style in styles),
            colour=content,
        )
    return images


def _name(source: object, what: str) -> str | None:
    """Label for error messages: a path names itself; bytes and arrays are called 'the content image'."""
    return None if isinstance(source, (str, os.PathLike)) else f"the {what} image"


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
    )


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
) -> Generator[Progress, None, None]:
    device = network.device
    bf16 = use_bf16(config.precision, device)
    tune_backends(device)
    batch = len(labels)
    plan = config.scale_plan()
    steps = config.steps
    notes: tuple[str, ...] = ()
    if config.generator == "hrnet":
        notes = ("The picture is a generator network's output: its weights train with Adam (Li et al. 2019).",)
    if len(plan) > 1:
        notes = (
            "Coarse to fine: "
            + " → ".join(f"{size} px" for size, _ in plan)
            + f", {' + '.join(str(n) for _, n in plan)} steps.",
        )
    reader = ControlsReader(controls)
    state = reader.state
    # L-BFGS steps the whole lane as one flat vector: its curvature history, step length and blow-up guard would mix
    # the variants of a batch, so a variant's picture would depend on its neighbours. Under L-BFGS every variant
    # gets a lane of its own (still one run, one snapshot per step); Adam's per-element moments keep a batch
    # independent, so it shares the pass.
    per_variant = config.optimizer == "lbfgs" or config.generator == "hrnet"
    chunk = 1 if per_variant else min(max_batch or batch, batch)
    # Variants that preserve colours differently see different images (grey for luminance, recoloured styles for
    # histogram): each colour mode gets lanes of its own.
    groups: dict[str, list[int]] = {}
    for i, mode in enumerate(colours):
        groups.setdefault(mode, []).append(i)
    start = time.perf_counter()
    step = 0
    lanes: list[Lane] = []  # PixelLanes or GeneratorLanes
    for index, (raw, (size, scale_steps)) in enumerate(zip(scales, plan)):
        previous = None
        if index > 0:
            with torch.no_grad():
                previous = _in_order(lanes, [lane.image for lane in lanes]).detach()
        del lanes
        lanes, terms = [], []
        recolour_from: dict[int, Image.Image] = {}
        auto = max_batch is None and device.type == "cpu" and raw.content.width * raw.content.height > CPU_BATCH_PIXELS
        chunks = []
        for mode, members in groups.items():
            prepared = preserve_colours(mode, raw)
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
                    1 if auto else chunk,
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
        chunk = min(chunks)
        if auto and not per_variant:
            chunk = min(max_batch or batch, batch)  # a coarser scale's split does not bind the next one
        del previous
        split = split_note(batch, lanes, auto, max_batch, per_variant)
        names_c, names_s = lanes[0].objective.content_names, lanes[0].objective.style_names
        for scale_step in range(1, scale_steps + 1):
            step += 1
            if scale_step > 1:
                reader.refresh(lanes, batch)
                terms = [lane.step() for lane in lanes]
            rows = _in_order(lanes, terms).tolist()  # the one device->host sync
            images = None
            if wants_image(step, steps, config.preview_every, controls, end_of_scale=scale_step == scale_steps):
                images = tensor_to_arrays(_in_order(lanes, [lane.image for lane in lanes]))
                if recolour_from:  # luminance only: the content's chroma comes back
                    images = tuple(
                        recolour(image, recolour_from[i]) if i in recolour_from else image
                        for i, image in enumerate(images)
                    )
            trained = None
            if images is not None and config.generator == "hrnet":  # the generators too: a stopped run keeps them
                generators = sorted(lanes, key=lambda lane: lane.indices[0])
                trained = tuple(lane.state_dict() for lane in generators if isinstance(lane, GeneratorLane))
            yield Progress(
                trained=trained,
                step=step,
                total_steps=steps,
                losses=tuple(losses_from_row(row, names_c, names_s, len(prepared.styles)) for row in rows),
                elapsed=time.perf_counter() - start,
                images=images,
                labels=labels,
                notes=notes + split,
                size=size,
                controls_version=reader.version,
            )
        state = reader.restart()
