"""The immutable snapshots a run yields.

Following Gatys et al.'s objective, each snapshot reports the *weighted* terms, so that for every variant
``total == content + sum(style.values()) + tv``: what a loss chart shows is what the optimiser minimises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Losses:
    """One variant's weighted loss terms at one step, as plain floats."""

    total: float
    content: float
    style: Mapping[str, float]
    tv: float
    # With several style images: each one's weighted total (its terms over every layer); the per-layer ``style``
    # sums over the images. Empty for a run with one style image.
    styles: tuple[float, ...] = ()
    # The raw terms, unweighted (each layer's own loss; 0 where the weight is 0, since it is not computed):
    # "content:conv4_2", "style:conv1_1" (with several style images "style 1:conv1_1", "style 2:conv1_1", ...), "tv".
    # Empty where they were not reported (hand-made Losses).
    raw: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "style", MappingProxyType(dict(self.style)))
        object.__setattr__(self, "styles", tuple(self.styles))
        object.__setattr__(self, "raw", MappingProxyType(dict(self.raw)))

    def __reduce__(self):  # a read-only mapping does not pickle; snapshots travel to other processes (Dask)
        return (Losses, (self.total, self.content, dict(self.style), self.tv, self.styles, dict(self.raw)))

    def unweighted(self) -> dict[str, float]:
        """The raw terms under :meth:`as_dict`'s names: ``content`` (its layers summed), ``style:<layer>`` (summed
        over the style images), ``style image k`` (its layers summed), ``tv`` and their ``total``; {} where the
        raw terms were not reported."""
        if not self.raw:
            return {}
        out: dict[str, float] = {"content": 0.0}
        images: dict[int, float] = {}
        for key, value in self.raw.items():
            kind, _, layer = key.partition(":")
            if kind == "content":
                out["content"] += value
            elif kind.startswith("style"):
                out[f"style:{layer}"] = out.get(f"style:{layer}", 0.0) + value
                if kind != "style":
                    index = int(kind.split()[1]) - 1
                    images[index] = images.get(index, 0.0) + value
        out.update({style_image_term(k): images[k] for k in sorted(images)})
        out["tv"] = self.raw.get("tv", 0.0)
        out["total"] = out["content"] + sum(v for k, v in out.items() if k.startswith("style:")) + out["tv"]
        return out

    def as_dict(self) -> dict[str, float]:
        """Flat ``{"total": .., "content": .., "style:conv1_1": .., "tv": ..}`` (and ``"style image 1"`` ... with
        several style images), e.g. for JSON logs and charts."""
        out = {"total": self.total, "content": self.content}
        out.update({f"style:{name}": value for name, value in self.style.items()})
        out.update({style_image_term(k): value for k, value in enumerate(self.styles)})
        out["tv"] = self.tv
        return out


def style_image_term(index: int) -> str:
    """The name of style image ``index``'s total in :meth:`Losses.as_dict` (0-based index, 1-based name)."""
    return f"style image {index + 1}"


@dataclass(frozen=True)
class Progress:
    """State after ``step`` objective evaluations (1-based) of ``total_steps``.

    ``images`` is ``None`` except on preview steps, the last step, and steps a consumer asked for through
    ``Controls.request_image``; then it holds one read-only HxWx3 uint8 array per variant (on the CPU).
    """

    step: int
    total_steps: int
    losses: tuple[Losses, ...]
    elapsed: float
    images: tuple[np.ndarray, ...] | None = None
    labels: tuple[str, ...] = ()  # one per variant (a comparison's cell labels)
    notes: tuple[str, ...] = ()  # things the engine decided that a person should know (e.g. batch splitting)
    size: int = 0  # long side (px) of the images optimised at this step: grows at each coarse-to-fine scale
    # The Controls version this step's evaluation used: tells a consumer at which step a change it made took effect
    # (the record of a steered run, replayed exactly by the CLI).
    controls_version: int = 0
    # With generator="hrnet", on every step that carries images (previews, requested frames, the last step): each
    # variant's generator weights after this step's update (CPU tensors, ~0.3 MB each), to save as an instant stylizer
    # (nstcore.generator.generator_bytes); a consumer that stops the run keeps the generator of its last picture.
    # None otherwise.
    trained: tuple[dict[str, Any], ...] | None = None
    # How many jobs (other visitors' runs included) shared this step's forward pass (nstcore.batching); 1 alone.
    shared: int = 1

    @property
    def loss(self) -> Losses:
        """The first (for an ordinary run, the only) variant's losses."""
        return self.losses[0]

    @property
    def image(self) -> np.ndarray | None:
        return self.images[0] if self.images else None

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    @property
    def rate(self) -> float:
        """Steps per second so far."""
        return self.step / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float:
        """Seconds left at the current rate."""
        return (self.total_steps - self.step) / self.rate if self.rate > 0 else float("inf")
