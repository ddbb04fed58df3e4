"""The project's own sample images (assets/, rendered by assets/make_assets.py), so the page works without uploads."""

from __future__ import annotations

import functools
from pathlib import Path

from .imaging import PreparedImage, encode_jpeg, preview_jpeg, thumbnail

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def sample_names(role: str) -> list[str]:
    """File names under assets/content or assets/style, sorted."""
    folder = ASSETS / role
    return sorted(p.name for p in folder.glob("*.png")) if folder.is_dir() else []


def sample_path(role: str, name: str) -> Path:
    path = (ASSETS / role / name).resolve()
    if path.parent != (ASSETS / role).resolve():  # a name from the page is never a path elsewhere
        raise ValueError(f"not a sample: {name}")
    return path


@functools.lru_cache(maxsize=32)
def sample_image(role: str, name: str, max_side: int) -> PreparedImage:
    """A sample decoded, thumbnailed and encoded once per process, not once per page load (every session starts
    with two of them; images are never modified in place, so sessions can share them)."""
    import nstcore

    path = sample_path(role, name)
    image = nstcore.load_image(path, name=name, max_side=max_side)
    return PreparedImage(name, image, thumbnail(image), preview_jpeg(image), nstcore.file_sha256(path.read_bytes()))


DEFAULT_CONTENT = "lake_house.png"
DEFAULT_STYLE = "swirls.png"

# One-click examples: sample pairs that show different looks (fine swirls, bold mosaic, painterly brush) on both
# sample photos. Each loads the pair and starts a Quick run.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("lake_house.png", "swirls.png"),
    ("lake_house.png", "mosaic.png"),
    ("still_life.png", "brush.png"),
    ("still_life.png", "swirls.png"),
)


@functools.lru_cache(maxsize=16)
def example_thumb(content: str, style: str, side: int = 112) -> bytes:
    """The content photo with the style image inset in its corner, as a JPEG (once per process)."""
    import numpy as np
    from PIL import Image

    photo = sample_image("content", content, side * 2).image.copy()
    photo.thumbnail((side, side))
    painting = sample_image("style", style, side * 2).image.copy()
    painting.thumbnail((side // 2, side // 2))
    canvas = Image.new("RGB", photo.size, "white")
    canvas.paste(photo, (0, 0))
    canvas.paste(painting, (photo.width - painting.width, photo.height - painting.height))
    return encode_jpeg(np.asarray(canvas), quality=80)


def example_caption(content: str, style: str) -> str:
    return f"{content.removesuffix('.png').replace('_', ' ')} × {style.removesuffix('.png')}"
