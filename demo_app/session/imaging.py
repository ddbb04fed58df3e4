"""Image work for the page: checking and shrinking uploads, preview JPEGs, thumbnails, PNGs (Pillow, no torch).

Everything here is slow for large images and safe to call from any thread; the page calls it on worker threads
(:mod:`demo_app.views.loop`) so the event loop that every visitor shares never decodes or encodes a picture.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

import nstcore

from .limits import MB, Limits

THUMB_SIDE = 160
PREVIEW_SIDE = 840  # 2x the 420 px preview pane: sharp on high-density screens


@dataclass(frozen=True)
class PreparedImage:
    """An input image as a session keeps it: RGB, no larger than the server ever needs (long side at most twice
    the largest run size), with its thumbnail and preview already encoded. The uploaded bytes are not kept."""

    name: str
    image: Image.Image
    thumb_png: bytes
    preview_jpeg: bytes
    sha256: str = ""  # of the file's bytes as uploaded (a run's record names its inputs by it)


def prepare_image(data: bytes, name: str, limits: Limits) -> PreparedImage:
    """Check an upload against the server's limits, decode it at a reduced size, and encode what the page shows.
    Raises ``nstcore.ImageError`` with one sentence naming the file (``name``, already capped plain text)."""
    limit = limits.max_upload_mb
    if len(data) > limits.max_upload_bytes:
        raise nstcore.ImageError(
            f"{name} is {len(data) / MB:.1f} MB, over the upload limit of {limit:g} MB; use a smaller file."
        )
    image = nstcore.load_image(data, max_pixels=limits.max_pixels, name=name, max_side=limits.upload_side)
    return PreparedImage(name, image, thumbnail(image), preview_jpeg(image), nstcore.file_sha256(data))


@dataclass(frozen=True)
class PreparedMask:
    """A style's region as a session keeps it: greyscale in the content image's frame (white = this style here),
    with a thumbnail of it over the content image."""

    image: Image.Image
    overlay_png: bytes
    sha256: str = ""


def prepare_mask(data: bytes, index: int, content_size: tuple[int, int], limits: Limits) -> PreparedMask:
    """Check a mask upload for style ``index`` (0-based) against the content image's (w, h) and the server's
    limits. Raises ``nstcore.ImageError`` with one sentence."""
    if len(data) > limits.max_upload_bytes:
        raise nstcore.ImageError(
            f"Mask {index + 1} is {len(data) / MB:.1f} MB, over the upload limit of {limits.max_upload_mb:g} MB."
        )
    mask = nstcore.load_mask(data, index + 1, content_size, limits.max_pixels)
    if mask.size != content_size:
        mask = mask.resize(content_size, Image.Resampling.BILINEAR)
    return PreparedMask(mask, mask_thumbnail(mask, index), nstcore.file_sha256(data))


# One colour per style image, as the page's region painter and the overlays draw them.
REGION_COLOURS = ((230, 80, 40), (40, 120, 230), (60, 180, 90), (200, 60, 200), (230, 180, 30))


def mask_thumbnail(mask: Image.Image, index: int, size: int = THUMB_SIDE) -> bytes:
    """The mask as a small picture: the style's colour where it goes, transparent elsewhere."""
    small = mask.copy()
    small.thumbnail((size, size))
    colour = Image.new("RGBA", small.size, (*REGION_COLOURS[index % len(REGION_COLOURS)], 255))
    clear = Image.new("RGBA", small.size, (0, 0, 0, 0))
    buffer = io.BytesIO()
    Image.composite(colour, clear, small.point(lambda v: v * 3 // 4)).save(buffer, format="PNG")
    return buffer.getvalue()


def preview_jpeg(image: Image.Image) -> bytes:
    shown = image.copy()
    shown.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return encode_jpeg(np.asarray(shown))


def encode_jpeg(array: np.ndarray, quality: int = 85) -> bytes:
    """HxWx3 uint8 -> JPEG bytes for the live preview (small, fast to decode in a browser)."""
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def encode_png(image: Image.Image | np.ndarray) -> bytes:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def thumbnail(image: Image.Image, size: int = THUMB_SIDE) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((size, size))
    return encode_png(thumb)


def timelapse_from_jpegs(jpegs: list[bytes], kind: str) -> bytes:
    """A GIF or MP4 of the preview frames a page kept (slow: call it on a worker thread)."""
    frames = [np.asarray(Image.open(io.BytesIO(data)).convert("RGB")) for data in jpegs]
    return nstcore.timelapse_bytes(frames, kind)
