"""The project's own sample images (assets/, rendered by assets/make_assets.py), so the page works without uploads."""

from __future__ import annotations

from pathlib import Path

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


DEFAULT_CONTENT = "lake_house.png"
DEFAULT_STYLE = "swirls.png"
