"""Server-side limits on what a session may upload and run (a workshop server is shared by many people)."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Every limit is enforced on the server; the page only mirrors them."""

    # A phone photo is 3-12 MB; 20 MB leaves room for PNGs without letting one upload fill memory.
    max_upload_mb: float = 20.0
    # Decompression-bomb guard for uploads (same meaning as StyleConfig.max_image_pixels).
    max_pixels: int = 40_000_000
    # Output long side; VGG19 memory grows with the square of it.
    max_size: int = 1024
    max_steps: int = 5000
    # A comparison grid beyond 8 cells is hard to read and multiplies memory per job.
    max_variants: int = 8

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Limits:
        """Defaults <- NST_MAX_UPLOAD_MB / _PIXELS / _SIZE / _STEPS / _VARIANTS <- explicit overrides."""
        values: dict[str, float | int] = {}
        for name, kind in (("max_upload_mb", float), ("max_pixels", int), ("max_size", int), ("max_steps", int),
                           ("max_variants", int)):
            env = os.environ.get(f"NST_{name.upper()}")
            if env:
                values[name] = kind(env)
            if overrides.get(name) is not None:
                values[name] = kind(overrides[name])  # type: ignore[arg-type]
        return cls(**values)
