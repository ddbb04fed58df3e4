"""Weights that may change while a run goes on.

The engine reads a :class:`Controls` object once per step, so a dashboard slider (alpha, beta, a style layer's
weight, TV, learning rate) moved during a run takes effect on the next step, without restarting the optimisation.
Reads and writes are guarded by a lock because the writer is usually another thread (the server's event loop).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .config import LossWeights
from .errors import ConfigError, shown


@dataclass(frozen=True)
class ControlsState:
    """An immutable reading of :class:`Controls`; ``version`` grows with every change."""

    version: int
    variants: tuple[LossWeights, ...]
    lr: float


class Controls:
    """Thread-safe, mutable holder of one :class:`LossWeights` per variant plus the shared learning rate."""

    def __init__(self, variants: Sequence[LossWeights] | LossWeights, lr: float) -> None:
        if isinstance(variants, LossWeights):
            variants = (variants,)
        if not variants:
            raise ConfigError("A run needs at least one variant.")
        self._lock = threading.Lock()
        self._variants = tuple(variants)
        self._lr = self._check_lr(lr)
        self._version = 0
        self._image_requested = False

    @staticmethod
    def _check_lr(lr: float) -> float:
        if not isinstance(lr, (int, float)) or not lr > 0 or lr != lr:
            raise ConfigError(f"The learning rate must be a number above 0, got {shown(lr)}.")
        return float(lr)

    def __len__(self) -> int:
        return len(self._variants)

    def read(self) -> ControlsState:
        with self._lock:
            return ControlsState(self._version, self._variants, self._lr)

    def update(self, variant: int | None = None, **changes: Any) -> int:
        """Change fields of one variant (or of all, with ``variant=None``), e.g. ``update(beta=1e5)`` or
        ``update(0, style_layers={"conv1_1": 0.5})``. Layer mappings are merged into the current ones. Returns the
        new version (``Progress.controls_version`` of the first step that uses it)."""
        return self._change(variant, changes, keep_layers=True)

    def replace(self, variant: int | None = None, **changes: Any) -> int:
        """Like :meth:`update`, but a layer mapping replaces the current one: a layer it leaves out is switched off
        (weight 0) and stays available to the run, so it can be switched on again later. Returns the new version."""
        return self._change(variant, changes, keep_layers=False)

    def _change(self, variant: int | None, changes: dict[str, Any], keep_layers: bool) -> int:
        with self._lock:
            indices = range(len(self._variants)) if variant is None else (variant,)
            variants = list(self._variants)
            for i in indices:
                current = variants[i]
                merged = dict(changes)
                for key in ("content_layers", "style_layers"):
                    if key in merged and isinstance(merged[key], Mapping):
                        base = getattr(current, key) if keep_layers else dict.fromkeys(getattr(current, key), 0.0)
                        merged[key] = {**base, **merged[key]}
                variants[i] = dataclasses.replace(current, **merged)
            self._variants = tuple(variants)
            self._version += 1
            return self._version

    def set_lr(self, lr: float) -> int:
        with self._lock:
            self._lr = self._check_lr(lr)
            self._version += 1
            return self._version

    def request_image(self) -> None:
        """Ask the engine to attach the current image to its next snapshot (a consumer's own frame clock)."""
        with self._lock:
            self._image_requested = True

    def take_image_request(self) -> bool:
        with self._lock:
            requested, self._image_requested = self._image_requested, False
            return requested
