"""One generator for every photo: train Li et al.'s HRNet (2019, :mod:`nstcore.hrnet`) on many content images, so it
stylises photos it never saw in one forward pass.

A run with ``generator="hrnet"`` (:mod:`nstcore.generator`) fits the network to one photo. :func:`train` fits it to
several: each step takes a random ``size`` x ``size`` crop of one of them (the photos in a fresh random order every
round, each resized so its short side is ``CROP_ROOM`` x ``size``, half of the crops mirrored) and takes one Adam step
on the same perceptual objective (Gatys et al.'s content and style terms; the content targets are the crop's own).
That is the feed-forward idea of Johnson et al. (2016, "Perceptual Losses for Real-Time Style Transfer") with the
photorealistic network of Li et al. The crops are drawn from the seed, so a CPU fp32 training is reproducible.

It yields the same :class:`~nstcore.progress.Progress` snapshots as a run (live weights included): the losses are
the current crop's, and the picture is the first photo through the generator as it stands after the step, so the
last snapshot's picture is exactly what applying the saved generator to that photo gives.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .config import StyleConfig
from .controls import Controls
from .device import tune_backends, use_bf16
from .engine import StyleSources, style_list
from .errors import ConfigError
from .features import Network, VGGFeatures, load_network, min_image_side
from .generator import GeneratorLane, apply_generator
from .images import ImageSource, check_survives_pooling, load_image, resize_long_side
from .lanes import Targets
from .objective import Objective, losses_from_row
from .progress import Losses, Progress
from .stepping import ControlsReader, Loop, snapshots
from .tensors import image_to_tensor, tensor_to_arrays
from .weight_text import blend_weights

# Photos are resized so their short side is this much larger than the crop: consecutive crops of one photo then
# frame it differently (a crop covers 80 % of the short side), while each still shows most of the scene, so the
# style's brush strokes keep the scale they have in a run of the same size.
CROP_ROOM = 1.25
# A host's folder of sample photos is tens of images; each is kept on the device at ~1.25 x size.
MAX_PHOTOS = 200


class Crop(NamedTuple):
    """Which part of which photo one training step sees."""

    photo: int
    top: int
    left: int
    flip: bool


def crop_plan(shapes: Sequence[tuple[int, int]], side: int, steps: int, seed: int) -> list[Crop]:
    """``steps`` crops of ``side`` x ``side`` from photos of ``shapes`` ((height, width) each, both >= side): every
    photo once per round in a seeded random order, at a random place, mirrored half of the time."""
    generator = torch.Generator(device="cpu").manual_seed(seed)
    plan: list[Crop] = []
    while len(plan) < steps:
        for index in torch.randperm(len(shapes), generator=generator).tolist():
            height, width = shapes[index]
            top = int(torch.randint(height - side + 1, (1,), generator=generator))
            left = int(torch.randint(width - side + 1, (1,), generator=generator))
            flip = bool(torch.randint(2, (1,), generator=generator))
            plan.append(Crop(index, top, left, flip))
    return plan[:steps]


def _resize_short_side(img: Image.Image, short_side: int) -> Image.Image:
    scale = short_side / min(img.size)
    size = (max(short_side, round(img.width * scale)), max(short_side, round(img.height * scale)))
    return img if size == img.size else img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _cut(photo: Tensor, crop: Crop, side: int) -> Tensor:
    part = photo[..., crop.top : crop.top + side, crop.left : crop.left + side]
    return part.flip(-1) if crop.flip else part


def train(
    config: StyleConfig,
    photos: Sequence[ImageSource],
    style: StyleSources,
    *,
    device: torch.device | str = "cpu",
    network: Network | None = None,
    controls: Controls | None = None,
    progress: bool = False,
) -> Generator[Progress, None, None]:
    """Train one generator (``config.generator`` must be ``"hrnet"``) on ``photos`` for ``config.steps`` steps of
    ``config.size`` px crops; yield a :class:`Progress` after each. Every one with a picture (previews, requested
    frames, the last step) also carries the weights that made it (``trained``), ready for
    :func:`~nstcore.generator.generator_bytes`: a consumer that stops early keeps the generator of its last picture.

    ``style`` is one style image or several (blended by ``style_blend``), each resized to ``size * style_scale``.
    ``controls`` (one variant) is read at every step. Bad input raises a ConfigError/ImageError sentence before the
    first step; a photo is named by its path, or as "photo k".
    """
    _check_training(config, len(photos))
    device = torch.device(device)
    if controls is None:
        controls = Controls([config.loss_weights()], lr=config.effective_lr)
    state = controls.read()
    if len(state.variants) != 1:
        raise ConfigError("Training makes one generator: give one set of weights, not a comparison.")
    weights = state.variants[0]
    style_sources = style_list(style)
    blend_weights(weights.style_blend, len(style_sources))  # a blend that does not fit the images: a sentence now
    content_names = sorted(weights.content_layers)
    style_names = sorted(weights.style_layers)
    side = config.size
    check_survives_pooling((side, side), min_image_side(config.model, [*content_names, *style_names]), "crop")
    loaded = [
        load_image(photo, max_pixels=config.max_image_pixels, name=_name(photo, f"photo {k}"))
        for k, photo in enumerate(photos, start=1)
    ]
    styles = [
        load_image(s, max_pixels=config.max_image_pixels, name=_name(s, f"style {k}"))
        for k, s in enumerate(style_sources, start=1)
    ]
    if network is None:
        network = load_network(config.model, config.weights, device, progress=progress)
    if network.model != config.model:
        raise ConfigError(f"The network is {network.model} but the config asks for {config.model}.")
    short = round(side * CROP_ROOM)
    tensors = [image_to_tensor(_resize_short_side(img, short), device) for img in loaded]
    preview = image_to_tensor(resize_long_side(loaded[0], side), device)
    style_tensors = [
        image_to_tensor(resize_long_side(s, max(1, round(side * config.style_scale))), device) for s in styles
    ]
    del loaded, styles
    plan = crop_plan([(t.shape[-2], t.shape[-1]) for t in tensors], side, config.steps, config.seed)
    return _train(config, tensors, preview, style_tensors, plan, network, controls, content_names, style_names)


def _check_training(config: StyleConfig, photos: int) -> None:
    """Refuse, with a sentence, settings a training cannot use."""
    if config.generator != "hrnet":
        raise ConfigError("Training on several photos trains a generator: set generator to hrnet.")
    if config.preserve_colors != "none":
        raise ConfigError(
            "Keeping the photo's colours works on one photo at a time; train with preserve_colors none, or run "
            "each photo with --generator hrnet --preserve-colors."
        )
    if not 1 <= photos <= MAX_PHOTOS:
        raise ConfigError(f"Training takes 1 to {MAX_PHOTOS} photos, got {photos}.")


def _train(
    config: StyleConfig,
    photos: list[Tensor],
    preview: Tensor,
    styles: list[Tensor],
    plan: list[Crop],
    network: Network,
    controls: Controls,
    content_names: list[str],
    style_names: list[str],
) -> Generator[Progress, None, None]:
    device = network.device
    bf16 = use_bf16(config.precision, device)
    tune_backends(device)
    side, steps = config.size, config.steps
    reader = ControlsReader(controls)
    state = reader.state
    first = _cut(photos[plan[0].photo], plan[0], side)
    targets = Targets(config, network, first, styles, content_names, style_names, [config.pooling], bf16)
    lane = GeneratorLane(0, targets, state.lr)
    lane.set_controls(state.variants, state.lr)
    notes = (
        f"One generator for {len(photos)} photo{'s' if len(photos) != 1 else ''}: each step trains on a random "
        f"{side} px crop of one; the picture is photo 1 through the generator as it is now.",
    )

    def next_crop(step: int) -> None:
        if step > 1:
            crop = plan[step - 1]
            lane.set_input(_cut(photos[crop.photo], crop, side))

    def pictures() -> tuple[tuple[np.ndarray, ...], tuple[dict[str, Tensor], ...]]:
        # a stopped training keeps its generator: the weights come with every picture
        return tensor_to_arrays(apply_generator(lane.generator, preview)), (lane.state_dict(),)

    loop = Loop(controls, reader, steps, config.preview_every, (), notes)
    yield from snapshots(
        loop, [lane], range(1, len(plan) + 1), size=side, style_count=len(styles), pictures=pictures, before=next_crop
    )


@torch.no_grad()
def score(config: StyleConfig, image: Tensor, content: Tensor, styles: Sequence[Tensor], network: Network) -> Losses:
    """Gatys et al.'s weighted loss terms of ``image`` as a stylisation of ``content`` with ``styles`` at
    ``config``'s weights: how a generator's output for a photo it never saw compares with a run on that photo."""
    weights = config.loss_weights()
    content_names, style_names = sorted(weights.content_layers), sorted(weights.style_layers)
    extractor = VGGFeatures(network, [*content_names, *style_names], config.pooling)
    objective = Objective(extractor, content, list(styles), content_names, style_names, config.loss_norm)
    objective.set_weights([weights], image.device)
    with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=use_bf16(config.precision, image.device)):
        _, terms = objective(image)
    return losses_from_row(terms[0].tolist(), objective.content_names, objective.style_names, len(styles))


def _name(source: object, what: str) -> str | None:
    """A path names itself in error sentences; bytes and arrays are called by what they are."""
    return None if isinstance(source, (str, os.PathLike)) else f"the {what} image"
