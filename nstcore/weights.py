"""Where the VGG weights come from: torchvision's pretrained ImageNet weights, a local file, or a seeded init.

Gatys et al. use the 19-layer VGG network of Simonyan & Zisserman trained on ImageNet. ``imagenet`` loads
torchvision's copy through its weights API, which caches the file in the torch hub cache (``$TORCH_HOME/hub/
checkpoints``) and downloads it with a progress bar on first use. A local ``.pth`` state dict in torchvision's key
layout (whole model, ``features.N.weight``, or features only, ``N.weight``) is read through the same loader, and
``random`` gives seeded Kaiming-initialised weights for offline use and tests.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torchvision import models
from torchvision.models import vgg

from .errors import WeightsError, shown
from .layers import MODELS

# A fixed seed for random weights: changing --seed changes the noise init, not the network.
RANDOM_WEIGHTS_SEED = 0

_TORCHVISION = {
    "vgg19": (models.vgg19, models.VGG19_Weights.IMAGENET1K_V1),
    "vgg16": (models.vgg16, models.VGG16_Weights.IMAGENET1K_V1),
}


_CFG = {"vgg16": "D", "vgg19": "E"}  # torchvision's names for the two configurations


def hub_checkpoint_path(model: str) -> Path:
    """Where torch hub keeps (or would keep) the pretrained file for ``model``."""
    weights = _TORCHVISION[model][1]
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def build_features(model: str) -> nn.Sequential:
    """torchvision's ``vgg*().features`` layout with freshly initialised weights (no download).

    Built with torchvision's own ``make_layers`` and VGG's conv init (Kaiming, fan-out), but without the 120 M
    parameter classifier that ``vgg19()`` would allocate and throw away.
    """
    if model not in _TORCHVISION:
        raise WeightsError(f"Unknown model {shown(model)}; choose one of {', '.join(MODELS)}.")
    features = vgg.make_layers(vgg.cfgs[_CFG[model]], batch_norm=False)
    for module in features:
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:  # always set by make_layers; the check is for the type
                nn.init.zeros_(module.bias)
    return features


def load_features(model: str, weights: str = "imagenet", *, progress: bool = True) -> nn.Sequential:
    """Return ``vgg*.features`` on CPU with the requested weights, frozen and in eval mode."""
    if weights == "random":
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_WEIGHTS_SEED)
            features = build_features(model)
    else:
        features = build_features(model)
        if weights == "imagenet":
            state = _download_state_dict(model, progress)
        else:
            state = _read_state_dict(Path(weights))
        _load_into(features, state, model, weights)
    features.requires_grad_(False)
    return features.eval()


def _download_state_dict(model: str, progress: bool) -> dict[str, torch.Tensor]:
    weights = _TORCHVISION[model][1]
    path = hub_checkpoint_path(model)
    try:
        return weights.get_state_dict(progress=progress)
    except Exception as exc:  # noqa: BLE001 - URLError, HTTPError, socket errors, partial files ...
        raise WeightsError(
            f"Could not download the pretrained {model} weights to {path} ({type(exc).__name__}: {exc}). "
            f"Fix: run once with internet access so the file is cached there, or pass --weights PATH to a local "
            f"torchvision state dict (e.g. a copy of {path.name}), or --weights random to run without them."
        ) from None


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise WeightsError(f"Weights file {path} does not exist; pass imagenet, random, or a path to a .pth file.")
    try:
        state: Any = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - pickle, zip and tensor errors of every kind: one sentence
        raise WeightsError(
            f"Could not read weights file {path} ({exc}); it must be a PyTorch state dict (.pth)."
        ) from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError(f"Weights file {path} holds a {type(state).__name__}, not a state dict.")
    return state


def _load_into(features: nn.Sequential, state: dict[str, torch.Tensor], model: str, origin: str) -> None:
    """Accept whole-model keys (``features.0.weight``) or features-only keys (``0.weight``); ignore the classifier."""
    if any(k.startswith("features.") for k in state):
        state = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    expected = features.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise WeightsError(
            f"Weights {origin} do not fit {model}: missing {', '.join(missing[:4])}"
            f"{' ...' if len(missing) > 4 else ''}; use a torchvision {model} state dict."
        )
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise WeightsError(
                f"Weights {origin} do not fit {model}: {key} has shape {tuple(state[key].shape)}, "
                f"expected {tuple(tensor.shape)}; is it a state dict of the other VGG?"
            )
    features.load_state_dict({k: state[k] for k in expected})
