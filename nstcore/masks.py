"""Where each style goes: one mask per style image, in the content image's frame (white = this style here).

Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer") confine a style to a region by
guided Gram matrices: the region's mask is downsampled to each layer's resolution and the style's Gram is taken over
that region only (:func:`nstcore.losses.guided_gram`, used by :class:`nstcore.objective.Objective`). This module
loads and checks the masks: one per style, the content image's shape, not empty. A mask's grey levels are weights
(soft edges blend the styles); transparent parts count as black.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .errors import ConfigError, ImageError
from .images import DEFAULT_MAX_PIXELS, ImageSource, load_image

# A mask is painted over the content image or made for it; a different shape means it was made for another picture.
# 2 % absorbs the rounding of a browser canvas or an export at another size.
ASPECT_TOLERANCE = 0.02
# A mask whose brightest pixel is below this is black everywhere (JPEG noise stays well under it).
EMPTY_LEVEL = 0.1


def load_masks(
    sources: Sequence[ImageSource], styles: int, content_size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS
) -> list[Image.Image]:
    """The masks as greyscale ("L") images, checked against the number of styles and the content's (w, h).

    Raises ConfigError (count) or ImageError (shape, empty, unreadable) with one sentence naming the mask.
    """
    if len(sources) != styles:
        said = "style image" if styles == 1 else "style images"
        raise ConfigError(
            f"{len(sources)} {'mask was' if len(sources) == 1 else 'masks were'} given for {styles} {said}; "
            "give one mask per style image, in the same order."
        )
    return [load_mask(source, k, content_size, max_pixels) for k, source in enumerate(sources, start=1)]


def load_mask(
    source: ImageSource, number: int, content_size: tuple[int, int], max_pixels: int = DEFAULT_MAX_PIXELS
) -> Image.Image:
    """Mask ``number`` (1-based, for the sentences) as a greyscale image, checked against the content's (w, h)."""
    width, height = content_size
    mask = load_image(source, max_pixels=max_pixels, name=f"Mask {number}", background=0).convert("L")
    if abs((mask.width / mask.height) / (width / height) - 1) > ASPECT_TOLERANCE:
        raise ImageError(
            f"Mask {number} is {mask.width}x{mask.height} but the content image is {width}x{height}; a mask must "
            "have the content image's shape (paint it over the content image)."
        )
    if np.asarray(mask).max() < EMPTY_LEVEL * 255:
        raise ImageError(
            f"Mask {number} is black everywhere, so style {number} would go nowhere; paint where it goes in white."
        )
    return mask


def mask_tensors(masks: Sequence[Image.Image], size: tuple[int, int], device: torch.device) -> list[Tensor]:
    """Each mask at the content's run size (w, h) as a (1, 1, H, W) float tensor in [0, 1]."""
    out = []
    for mask in masks:
        resized = mask.resize(size, Image.Resampling.BILINEAR) if mask.size != size else mask
        array = np.asarray(resized, dtype=np.float32) / 255.0
        out.append(torch.from_numpy(array.copy())[None, None].to(device))
    return out
