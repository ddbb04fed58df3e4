"""The project's own sample images (assets/, rendered by assets/make_assets.py), so the page works without uploads."""

from __future__ import annotations

import functools
from pathlib import Path

from .imaging import PreparedImage, preview_jpeg, thumbnail

ASSETS = Path(__file__).resolve().parents[1] / "assets"


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

    image = nstcore.load_image(sample_path(role, name), name=name, max_side=max_side)
    return PreparedImage(name, image, thumbnail(image), preview_jpeg(image))


DEFAULT_CONTENT = "lake_house.png"
DEFAULT_STYLE = "swirls.png"
