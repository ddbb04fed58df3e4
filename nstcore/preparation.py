"""Preparing a run's pictures: loading the content and style images (and masks), converting them to RGB, resizing
them for each scale of a coarse-to-fine run, refusing those the network's pooling would erase, and the colour
preservation a run asks for. The engine (:mod:`nstcore.engine`) then turns them into tensors."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from PIL import Image

from .colour import luminance_image, match_colours
from .config import StyleConfig
from .errors import ConfigError, ImageError
from .features import min_image_side
from .images import ImageSource, check_survives_pooling, load_image, resize_long_side
from .masks import load_masks
from .weight_text import MAX_STYLES


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
