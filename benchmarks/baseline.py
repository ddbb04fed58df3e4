"""The "usual" implementation, written here only to be measured against (not used by the product).

It is the PyTorch-tutorial pattern: a copy of the *whole* ``vgg19().features`` turned into a new ``nn.Sequential``
with loss modules inserted after the chosen layers, out-of-place ReLU, weights left trainable (so backward also
computes every weight gradient), normalisation as a module, and every loss read with ``.item()``.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from nstcore.layers import tap_index


class _ContentLoss(nn.Module):
    def __init__(self, target: torch.Tensor) -> None:
        super().__init__()
        self.target = target.detach()
        self.loss = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = nn.functional.mse_loss(x, self.target)
        return x


def _gram(x: torch.Tensor) -> torch.Tensor:
    b, c, h, w = x.shape
    f = x.view(b * c, h * w)
    return f @ f.t() / (b * c * h * w)


class _StyleLoss(nn.Module):
    def __init__(self, target_feature: torch.Tensor) -> None:
        super().__init__()
        self.target = _gram(target_feature).detach()
        self.loss = torch.tensor(0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.loss = nn.functional.mse_loss(_gram(x), self.target)
        return x


class _Normalize(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        # Buffers, so .to(device) moves them (plain tensor attributes stayed on the CPU and broke a CUDA run).
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def build_baseline(
    features: nn.Sequential,
    content: torch.Tensor,
    style: torch.Tensor,
    content_layers: list[str],
    style_layers: list[str],
    model: str = "vgg19",
):
    """Return (model, content_losses, style_losses) the tutorial way (whole network kept)."""
    # NCHW like the tutorial (the engine's shared network is stored channels-last on CPU/CUDA).
    features = copy.deepcopy(features).to(memory_format=torch.contiguous_format).requires_grad_(True)
    taps = {tap_index(model, n): ("c", n) for n in content_layers}
    taps.update({tap_index(model, n): ("s", n) for n in style_layers})
    net = nn.Sequential()
    net.add_module("normalize", _Normalize().to(content.device))  # targets are computed while building
    content_losses, style_losses = [], []
    for i, layer in enumerate(features):
        if isinstance(layer, nn.ReLU):
            layer = nn.ReLU(inplace=False)
        elif isinstance(layer, nn.MaxPool2d):
            layer = nn.AvgPool2d(2, 2)
        net.add_module(f"features_{i}", layer)
        if i in taps:
            kind, name = taps[i]
            with torch.no_grad():
                target = net(content if kind == "c" else style)
            module = _ContentLoss(target) if kind == "c" else _StyleLoss(target)
            net.add_module(f"loss_{name}", module)
            (content_losses if kind == "c" else style_losses).append(module)
    return net, content_losses, style_losses


def baseline_step(net, content_losses, style_losses, image, optimizer, alpha: float, beta: float) -> float:
    optimizer.zero_grad()
    net(image)
    loss = alpha * sum(m.loss for m in content_losses) + beta * sum(m.loss for m in style_losses)
    loss.backward()
    for m in [*content_losses, *style_losses]:  # the usual per-term logging
        m.loss.item()
    return loss.item()
