"""The second way to paint: optimise the weights of a generator network (:class:`~nstcore.hrnet.HRNet`) instead of
the pixels, with the same objective (Gatys et al.'s perceptual losses; Li et al. 2019 for the network), and use a
trained generator again as an instant stylizer.

A :class:`GeneratorLane` is a :class:`~nstcore.lanes.Lane` for the step loops (:mod:`~nstcore.stepping`), as a
:class:`~nstcore.lanes.PixelLane` is (``step``, ``set_controls``, ``image``, ``indices``, ``objective``), so
snapshots, live weights, previews and stopping work the same. Each variant gets a generator of its own. Files:
:func:`generator_bytes` and :func:`load_generator` (tensors and plain values only, read with
``torch.load(weights_only=True)``; anything else is refused with a sentence).
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from .config import LossWeights, StyleConfig
from .controls import ControlsState
from .errors import ConfigError
from .hrnet import HRNet, pad_to_multiple
from .images import resize_long_side
from .lanes import Targets

FORMAT = "nstcore-hrnet-1"
# A generator file holds 65 k float32 parameters (~0.3 MB); anything far larger is not one.
MAX_GENERATOR_BYTES = 64 * 2**20


class GeneratorLane:
    """One variant whose picture is ``HRNet(content)``; Adam on the generator's weights."""

    def __init__(self, index: int, targets: Targets, lr: float) -> None:
        config, network = targets.config, targets.network
        self.indices = [index]
        self.device_type = network.device.type
        self.bf16 = targets.bf16
        self.objective = targets.objective(self.indices)
        # Seeded: the same config gives the same generator, so a CPU fp32 run is reproducible like a pixel run.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.generator = HRNet(residual=config.init == "content").to(network.device)
        self.input, (self.height, self.width) = pad_to_multiple(targets.content)
        self.optimizer = torch.optim.Adam(self.generator.parameters(), lr=lr)
        with torch.no_grad():
            self.image = self._render()

    def set_input(self, content: Tensor) -> None:
        """Train on another content image from the next step on (nstcore.training: a new crop per step)."""
        self.objective.set_content(content)
        self.input, (self.height, self.width) = pad_to_multiple(content)

    def _render(self) -> Tensor:
        return self.generator(self.input)[..., : self.height, : self.width]

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def set_controls(self, variants: Sequence[LossWeights], lr: float) -> None:
        with self.autocast():
            self.objective.set_weights([variants[i] for i in self.indices], self.input.device)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def step(self) -> Tensor:
        """One objective evaluation of the generator's current picture and one Adam step on its weights; returns the
        (1, 2T) weighted then raw terms of the picture it evaluated (which is also the one ``image`` shows)."""
        self.optimizer.zero_grad(set_to_none=True)
        image = self._render()
        with self.autocast():
            total, weighted, raw = self.objective.evaluate(image)
        total.backward()
        self.optimizer.step()
        self.image = image.detach()
        return torch.cat([weighted, raw], dim=1)

    def state_dict(self) -> dict[str, Tensor]:
        """The trained weights on the CPU (what a snapshot hands over)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.generator.state_dict().items()}


def build_generator_lanes(
    targets: Targets, state: ControlsState, indices: Sequence[int]
) -> tuple[list[GeneratorLane], list[Tensor]]:
    lanes = []
    for i in indices:
        lane = GeneratorLane(i, targets, state.lr)
        lane.set_controls(state.variants, state.lr)
        lanes.append(lane)
    return lanes, [lane.step() for lane in lanes]


# -- files -----------------------------------------------------------------------------------------------------------
def generator_bytes(weights: Mapping[str, Tensor], config: StyleConfig) -> bytes:
    """A trained generator and the config it was trained with, as a file's bytes (torch's zip format, tensors and
    plain values only)."""
    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "config": config.to_json(), "weights": dict(weights)}, buffer)
    return buffer.getvalue()


def load_generator(data: bytes, name: str = "The generator file") -> tuple[HRNet, StyleConfig]:
    """A generator saved by :func:`generator_bytes`. Loading uses ``weights_only=True`` (no code in the file can
    run); anything that is not such a file is refused with a ConfigError sentence naming ``name``."""
    if len(data) > MAX_GENERATOR_BYTES:
        raise ConfigError(
            f"{name} is {len(data) / 2**20:.0f} MB; a generator file is well under 1 MB, so this is not one."
        )
    try:
        payload: Any = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - pickles with code, truncated zips, text: all "not a generator file"
        raise ConfigError(
            f"{name} is not a generator file this tool wrote (it could not be read as plain tensors); "
            "save one with --save-generator."
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or not isinstance(payload.get("weights"), dict):
        raise ConfigError(f"{name} is not a generator file this tool wrote; save one with --save-generator.")
    config = StyleConfig.from_json(str(payload.get("config") or "{}"))
    model = HRNet(residual=config.init == "content")
    try:
        model.load_state_dict(payload["weights"])
    except (RuntimeError, TypeError, KeyError):
        raise ConfigError(f"{name} holds weights that do not fit this tool's generator network.") from None
    return model.eval(), config


def generator_from_weights(weights: Mapping[str, Tensor], config: StyleConfig) -> HRNet:
    """The generator a run trained (its last snapshot's ``trained`` weights), ready to apply."""
    model = HRNet(residual=config.init == "content")
    model.load_state_dict(dict(weights))
    return model.eval()


@torch.no_grad()
def apply_generator(model: HRNet, image: Tensor) -> Tensor:
    """One forward pass: ``image`` (1, 3, H, W) in [0, 1], any sides, stylised (sides padded to 4 and cropped)."""
    padded, (height, width) = pad_to_multiple(image)
    return model(padded)[..., :height, :width]


def stylise(model: HRNet, image: Image.Image, size: int | None = None) -> np.ndarray:
    """A picture through a trained generator, on the generator's device: its long side resized to ``size`` first
    (None: as it is); an HxWx3 uint8 array back. What ``nstcore apply`` and the page's instant styles both do."""
    from .tensors import image_to_tensor, tensor_to_arrays

    if size is not None:
        image = resize_long_side(image, size)
    device = next(model.parameters()).device
    return tensor_to_arrays(apply_generator(model, image_to_tensor(image, device)))[0]
