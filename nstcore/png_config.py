"""Results that explain themselves: a run's settings inside the PNG it wrote.

Every PNG the CLI or the page writes carries a text chunk named ``nst-config`` holding the same JSON as the config
export, so any result can be loaded back as a config (``--config result.png``, the page's Load config). The chunk
is an iTXt (UTF-8, uncompressed) written before the image data, so reading it back never decodes a pixel.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
from PIL import Image, PngImagePlugin

from .config import MAX_JSON_BYTES, StyleConfig
from .errors import ConfigError
from .records import record_from_json

CHUNK = "nst-config"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_with_config(image: Image.Image | np.ndarray, config_json: str | None) -> bytes:
    """The image as PNG bytes, with ``config_json`` in its ``nst-config`` chunk when given."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    info = None
    if config_json is not None:
        info = PngImagePlugin.PngInfo()
        info.add_itxt(CHUNK, config_json)
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def is_png(data: bytes) -> bool:
    return data[:8] == PNG_SIGNATURE


def config_text_from_png(data: bytes, what: str = "The PNG") -> str:
    """The ``nst-config`` JSON of a PNG written by this project. Raises ConfigError with one sentence when the file
    is not a PNG or carries no such chunk (e.g. an image from elsewhere, or one a program re-saved)."""
    try:
        with Image.open(io.BytesIO(data), formats=["PNG"]) as img:
            text: Any = img.info.get(CHUNK)  # chunks before the image data: read without decoding pixels
    except (OSError, ValueError, Image.DecompressionBombError):
        raise ConfigError(f"{what} is not a readable PNG; load a config file or a PNG written by this tool.") from None
    if not isinstance(text, str) or not text:
        raise ConfigError(
            f"{what} holds no settings (no {CHUNK} chunk); only PNGs written by this tool carry them, "
            "and image editors may strip them."
        )
    if len(text) > MAX_JSON_BYTES:
        raise ConfigError(f"{what} carries settings far larger than a config; it was not written by this tool.")
    return text


def record_from_bytes(data: bytes, what: str = "The config") -> tuple[StyleConfig, dict[str, Any]]:
    """``(config, run record)`` from a config or record JSON file's bytes, or from a result PNG's ``nst-config``
    chunk; the run record is empty for a plain config (see :mod:`nstcore.records`)."""
    if is_png(data):
        return record_from_json(config_text_from_png(data, what), what)
    body = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if body and body[:1] not in (b"{", b"["):  # a JPEG, a GIF, a text file ...
        raise ConfigError(
            f"{what} is neither a config JSON nor a result PNG written by this tool; "
            "export one with “Download config” or --save-config."
        )
    return record_from_json(data, what)


def config_from_bytes(data: bytes, what: str = "The config") -> StyleConfig:
    """A config from a config file's bytes or from a result PNG's (its ``nst-config`` chunk)."""
    return record_from_bytes(data, what)[0]
