"""What one server process shares between sessions: the device and the loaded feature networks.

The network is loaded once per process (nstcore caches it), not per session. If the pretrained weights cannot be
fetched, the app still starts on random weights and every page shows a banner that says so, why, and how to fix it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import nstcore

log = logging.getLogger("demo_app")


@dataclass
class Backend:
    """Device and network access for every session of this process."""

    weights: str = "imagenet"
    device_name: str = "auto"
    banner: str | None = None
    _device: object = field(default=None, repr=False)
    _effective: dict[str, str] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def device(self):
        if self._device is None:
            self._device = nstcore.resolve_device(self.device_name)
        return self._device

    @property
    def device_label(self) -> str:
        return nstcore.describe_device(self.device)

    def network(self, model: str) -> nstcore.Network:
        """The shared network for ``model``; falls back to random weights (once, with a banner) if needed."""
        with self._lock:
            weights = self._effective.get(model, self.weights)
            try:
                network = nstcore.load_network(model, weights, self.device, progress=True)
            except nstcore.WeightsError as exc:
                if weights == "random":
                    raise
                log.warning("falling back to random weights: %s", exc)
                self.banner = (
                    f"Running with RANDOM network weights, so results will not look like paintings. {exc}"
                )
                weights = "random"
                network = nstcore.load_network(model, weights, self.device)
            self._effective[model] = weights
            return network

    def effective_weights(self, model: str) -> str:
        return self._effective.get(model, self.weights)

    def warm_up(self, model: str = "vgg19") -> None:
        """Load the default network at start-up so the first visitor does not wait for it."""
        self.network(model)
