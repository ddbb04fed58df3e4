"""Image input and output: the only place where the engine touches image files and bytes.

Gatys et al. work on RGB photographs; this module turns whatever a user hands in (path, bytes, file object; JPEG,
PNG, WebP, TIFF ... in any Pillow mode, with EXIF orientation) into a clean RGB ``PIL.Image``, refusing with an
:class:`~nstcore.errors.ImageError` anything that is not an image, is empty or truncated, or is a decompression bomb.
"""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from .errors import ImageError, capped, capped_path, shown

ImageSource = str | os.PathLike | bytes | bytearray | BinaryIO | Image.Image | np.ndarray

# Decompression-bomb guard, well below Pillow's ~89 MP default: a 40 MP photo is a large camera image. The one
# place this number lives (StyleConfig.max_image_pixels and the server's Limits default to it).
DEFAULT_MAX_PIXELS = 40_000_000
# The formats people hand in. Pillow would open ~40 (EPS even through Ghostscript, if installed), each one more
# decoder exposed to whatever a stranger uploads; these are the ones the page and the CLI promise.
FORMATS = ("JPEG", "PNG", "WEBP", "BMP", "TIFF", "GIF")
SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif")


def _describe(source: object, name: str | None) -> str:
    """What error sentences call the image: its (capped) name or path."""
    if name:
        return capped(name, 80)
    if isinstance(source, (str, os.PathLike)):
        return capped_path(os.fspath(source), 80)
    return "the image"


def not_an_image(label: str) -> str:
    """The sentence for a file that is not a picture this tool reads (the page's drop areas refuse with it too)."""
    return f"{label} is not an image this tool reads; use a JPEG, PNG, WebP, BMP, TIFF or GIF file."


def load_image(
    source: ImageSource,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    name: str | None = None,
    max_side: int | None = None,
    background: int = 255,
) -> Image.Image:
    """Open ``source`` and return an RGB image with EXIF orientation applied.

    ``name`` is used in error messages (e.g. an upload's file name). With ``max_side``, a larger image is scaled down
    so its long side is at most that, as early as possible (JPEG decodes at a reduced scale; other formats are
    reduced before the colour conversion), so a 40 MP upload costs a fraction of its full-size memory and time.
    Transparency is flattened onto grey level ``background`` (white for pictures; a style mask's unpainted,
    transparent parts are black). Raises :class:`ImageError` with one sentence.
    """
    label = _describe(source, name)
    if isinstance(source, Image.Image):
        return to_rgb(source, label, background)
    if isinstance(source, np.ndarray):
        return to_rgb(_from_array(source, label), label, background)
    data = _read(source, label)
    try:
        with warnings.catch_warnings():
            # We apply our own, lower pixel limit below; Pillow's warning would only be noise.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img: Image.Image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(
                    f"{label} is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the limit of "
                    f"{max_pixels / 1e6:.1f}; scale it down first."
                )
            if max_side and max(width, height) > max_side and img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))  # DCT scaling: decodes at 1/2, 1/4 or 1/8 size
            img.load()
            if max_side and max(img.size) > max_side:
                img = _reduce(img, max_side)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(not_an_image(label)) from None
    except Image.DecompressionBombError:
        raise ImageError(f"{label} declares an enormous pixel count (decompression bomb); it was refused.") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(
            f"{label} is damaged or truncated ({shown(str(exc), 80)}); re-export or re-download it."
        ) from None
    try:
        img = ImageOps.exif_transpose(img)
    except Exception:  # noqa: BLE001 - a broken EXIF block should not cost the user the picture
        pass
    img = to_rgb(img, label, background)
    if max_side and max(img.size) > max_side:  # modes _reduce could not handle before the conversion
        img = resize_long_side(img, max_side)
    return img


def _read(source: ImageSource, label: str) -> bytes:
    """The encoded bytes of a path, bytes or a file object; an ImageError for a missing or empty file."""
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"{label}: no such file; check the path.")
        data = path.read_bytes()
    elif isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        data = source.read()  # type: ignore[union-attr]
    if not data:
        raise ImageError(f"{label} is empty (0 bytes); choose an image file such as a JPEG or PNG.")
    return data


def _reduce(img: Image.Image, max_side: int) -> Image.Image:
    """Scale ``img`` down to a long side of at most ``max_side`` in its own mode, cheaply (box reduction by an
    integer factor, then one resample); modes Pillow cannot resample are left for after the RGB conversion."""
    factor = max(img.size) // max_side
    try:
        if factor >= 2:
            img = img.reduce(factor)
        if max(img.size) > max_side:
            img = img.resize(target_size(img.width, img.height, max_side), Image.Resampling.BILINEAR)
    except (ValueError, OSError):
        pass
    return img


def _from_array(array: np.ndarray, label: str) -> Image.Image:
    if array.ndim == 3 and array.shape[2] in (3, 4) or array.ndim == 2:
        if array.dtype != np.uint8:
            array = np.clip(array * (255.0 if array.dtype.kind == "f" and array.max() <= 1.0 else 1.0), 0, 255)
            array = array.astype(np.uint8)
        return Image.fromarray(array)
    raise ImageError(f"{label}: an array must be HxW, HxWx3 or HxWx4, got shape {array.shape}.")


def to_rgb(img: Image.Image, label: str = "the image", background: int = 255) -> Image.Image:
    """Convert any Pillow mode to RGB: transparency is flattened onto grey level ``background`` (white by default),
    16/32-bit and float are rescaled."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # Pillow's convert("L") clips these at 255 instead of scaling; scale by the real range of the type.
        arr = np.asarray(img.convert("F") if mode != "F" else img, dtype=np.float64)
        if mode.startswith("I;16"):
            top = 65535.0
        elif mode == "I":
            top = float(max(arr.max(), 1.0)) if arr.max() > 255 else 255.0
        else:
            top = 1.0 if arr.max() <= 1.0 else float(arr.max())
        arr = np.clip(arr / top * 255.0, 0, 255).round().astype(np.uint8)
        return Image.fromarray(arr, mode="L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
        mode = img.mode
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        under = Image.new("RGBA", rgba.size, (background, background, background, 255))
        return Image.alpha_composite(under, rgba).convert("RGB")
    try:
        return img.convert("RGB")
    except (ValueError, OSError) as exc:
        raise ImageError(f"{label} uses colour mode {mode}, which cannot be converted to RGB ({exc}).") from None


def target_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """(width, height) scaled so the longer side is ``long_side``, aspect ratio kept, each side at least 1."""
    scale = long_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def resize_long_side(img: Image.Image, long_side: int) -> Image.Image:
    """Resize so the long side is ``long_side`` pixels (Lanczos; upscales too)."""
    size = target_size(img.width, img.height, long_side)
    if size == img.size:
        return img
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def check_survives_pooling(size: tuple[int, int], min_side: int, what: str) -> None:
    """Refuse a (resized) image whose short side would vanish in VGG's pooling before the deepest layer."""
    width, height = size
    if min(width, height) < min_side:
        raise ImageError(
            f"The {what} image becomes {width}x{height} px at this size, too thin for the chosen layers "
            f"(they need at least {min_side} px on the short side); use a larger size or a less elongated image."
        )


def save_image(
    image: Image.Image | np.ndarray, path: str | os.PathLike, png_text: Mapping[str, str] | None = None
) -> None:
    """Write an image (format from the file suffix). Used by the edges, never by the run loop. ``png_text`` goes
    into iTXt chunks when the file is a PNG (the run's settings, see :mod:`nstcore.png_config`)."""
    if isinstance(image, np.ndarray):
        image = Image.fromarray(image)
    info = None
    if png_text and Path(path).suffix.lower() == ".png":
        info = PngImagePlugin.PngInfo()
        for key, text in png_text.items():
            info.add_itxt(key, text)
    try:
        if info is not None:
            image.save(path, pnginfo=info)
        else:
            image.save(path)
    except (OSError, ValueError) as exc:
        raise ImageError(
            f"Could not write {os.fspath(path)} ({exc}); check the folder exists and the suffix "
            "is an image type such as .png or .jpg."
        ) from None
