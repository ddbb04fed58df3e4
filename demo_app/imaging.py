"""Small image helpers for the page: preview JPEGs, thumbnails and the downloadable PNG (Pillow, no torch)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image


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


def thumbnail(image: Image.Image, size: int = 160) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((size, size))
    return encode_png(thumb)
