"""A high-resolution generator network (Li et al. 2019, "High-Resolution Network for Photorealistic Style Transfer",
arXiv 1904.11617): instead of the pixels, the *weights* of this network are optimised with Gatys et al.'s perceptual
losses, and the picture is its output for the content image.

The network keeps the full resolution all the way and fuses it with 1/2 and 1/4 resolution branches, so fine
structure (edges, text, faces) survives and the result stays photographic. Layer by layer, as the paper describes it:

* layer1: bottleneck 3 -> 16 (full resolution)
* layer2: bottleneck 16 -> 32 (full) and a stride-2 conv 16 -> 32 (to 1/2)
* layer3: three fused maps of 64 channels each: full = bottleneck 32 -> 32 of full ‖ 1/2 upsampled; 1/2 = stride-2 conv
  of full ‖ bottleneck 32 -> 32 of 1/2; 1/4 = stride-4 conv of full ‖ stride-2 conv of 1/2
* layer4: bottleneck 64 -> 64 of the full map ‖ the 1/2 and 1/4 maps upsampled (192 channels)
* then bottlenecks 192 -> 64 -> 32 -> 16 and a 3x3 conv 16 -> 3.

Bottlenecks are ResNet's (1x1 -> 3x3 -> 1x1, a 1x1 shortcut when the channels change, ReLU after the sum), with
instance normalisation; 3x3 kernels with zero padding 1; strided convolutions instead of pooling; bilinear upsampling;
no dropout. Image sides must be divisible by 4 (the 1/4 branch): :func:`pad_to_multiple` pads by reflection and the
engine crops the result back. The output goes through a sigmoid, so the picture is always in [0, 1] and every pixel
keeps a gradient (a clamp would cut it).

``residual=True`` (the engine's ``init="content"``, its default) is this project's one addition: the last conv
starts at zero and its output is added to the input's logit, so an untrained generator returns its input and the
first snapshot is the photo, as with pixel optimisation from the content; the paper's network starts from noise-like
grey and spends its first hundreds of steps learning to reproduce the photo.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .interrupt import checkpoint

# Sides the three branches need: 1/2 and 1/4 of the input must be whole.
SIDE_MULTIPLE = 4


def _norm(channels: int) -> nn.InstanceNorm2d:
    return nn.InstanceNorm2d(channels, affine=True)


class Bottleneck(nn.Module):
    """ResNet's bottleneck (1x1 -> 3x3 -> 1x1, width out/4 but at least 4) with instance norm and a 1x1 projection
    shortcut when the channel count changes."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        mid = max(cout // 4, 4)
        self.body = nn.Sequential(
            nn.Conv2d(cin, mid, 1, bias=False),
            _norm(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, mid, 3, padding=1, bias=False),
            _norm(mid),
            nn.ReLU(inplace=True),
            nn.Conv2d(mid, cout, 1, bias=False),
            _norm(cout),
        )
        self.shortcut = (
            nn.Identity() if cin == cout else nn.Sequential(nn.Conv2d(cin, cout, 1, bias=False), _norm(cout))
        )

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.body(x) + self.shortcut(x))
        # A training stopped mid-step leaves here too, forward and backward (nstcore.interrupt): the generator's
        # passes took seconds at 384 px on one busy thread, past the server's 3-s shutdown.
        checkpoint(out)
        return out


def _down(cin: int, cout: int, stride: int) -> nn.Sequential:
    """A strided 3x3 convolution (the network's only way down: no pooling)."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False), _norm(cout), nn.ReLU(True))


def _up(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class HRNet(nn.Module):
    """The generator. ``forward(x)`` takes (B, 3, H, W) in [0, 1] with H, W divisible by 4 and returns the same shape
    in [0, 1]; ``branches(x)`` returns every fused map as well (for the architecture tests)."""

    def __init__(self, residual: bool = False) -> None:
        super().__init__()
        self.residual = residual
        self.layer1 = Bottleneck(3, 16)
        self.layer2_full = Bottleneck(16, 32)
        self.layer2_half = _down(16, 32, 2)
        self.layer3_full = Bottleneck(32, 32)
        self.layer3_full_to_half = _down(32, 32, 2)
        self.layer3_half = Bottleneck(32, 32)
        self.layer3_full_to_quarter = _down(32, 32, 4)
        self.layer3_half_to_quarter = _down(32, 32, 2)
        self.layer4_full = Bottleneck(64, 64)
        self.head = nn.Sequential(Bottleneck(192, 64), Bottleneck(64, 32), Bottleneck(32, 16))
        self.out = nn.Conv2d(16, 3, 3, padding=1)
        if residual:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)  # type: ignore[arg-type]  # the conv has a bias

    def branches(self, x: Tensor) -> dict[str, Tensor]:
        if x.shape[-1] % SIDE_MULTIPLE or x.shape[-2] % SIDE_MULTIPLE:
            raise ValueError(f"HRNet needs sides divisible by {SIDE_MULTIPLE}, got {tuple(x.shape[-2:])}")
        maps: dict[str, Tensor] = {}
        x1 = maps["layer1"] = self.layer1(x)
        full = maps["layer2_full"] = self.layer2_full(x1)
        half = maps["layer2_half"] = self.layer2_half(x1)
        full3 = maps["layer3_full"] = torch.cat([self.layer3_full(full), _up(half, full)], 1)
        half3 = maps["layer3_half"] = torch.cat([self.layer3_full_to_half(full), self.layer3_half(half)], 1)
        quarter3 = maps["layer3_quarter"] = torch.cat(
            [self.layer3_full_to_quarter(full), self.layer3_half_to_quarter(half)], 1
        )
        fused = maps["layer4"] = torch.cat([self.layer4_full(full3), _up(half3, full3), _up(quarter3, full3)], 1)
        maps["head"] = self.head(fused)
        delta = self.out(maps["head"])
        if self.residual:
            delta = delta + torch.logit(x.clamp(1e-3, 1 - 1e-3))
        maps["out"] = torch.sigmoid(delta)
        return maps

    def forward(self, x: Tensor) -> Tensor:
        return self.branches(x)["out"]


def pad_to_multiple(image: Tensor, multiple: int = SIDE_MULTIPLE) -> tuple[Tensor, tuple[int, int]]:
    """``image`` padded by reflection at the bottom and right to sides divisible by ``multiple``; returns the padded
    tensor and the original (H, W) to crop the output back to."""
    height, width = image.shape[-2:]
    pad_h, pad_w = (-height) % multiple, (-width) % multiple
    if pad_h == 0 and pad_w == 0:
        return image, (height, width)
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(image, (0, pad_w, 0, pad_h), mode=mode), (height, width)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
