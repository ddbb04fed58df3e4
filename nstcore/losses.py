"""The loss terms of Gatys, Ecker & Bethge (2015), batched over variants.

With ``F`` the (N channels x M positions) response of the generated image at a layer, ``P`` that of the content image
and ``A`` the Gram matrix of the style image:

* content ``L = 1/2 sum (F - P)**2`` (paper) or ``mean((F - P)**2)`` (``"mean"``);
* Gram ``G = F F^T``; style ``E_l = sum (G - A)**2 / (4 N**2 M**2)`` (paper) or, with ``G/(N M)``,
  ``mean((G - A)**2)`` (``"mean"``, equal to ``4 E_l / N**2``);
* total variation (not in the paper): squared differences of neighbouring pixels, mean or sum.

Every function returns one value per batch element (variant), so variants are optimised independently in one
backward pass. Grams are kept in float32 even when features are lower precision.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor


def _at_least_fp32(x: Tensor) -> Tensor:
    """Upcast half/bfloat16 (autocast) to float32; leave float32/float64 alone (the gradient test uses float64)."""
    return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x


class _Gram(torch.autograd.Function):
    """``X^T X * scale`` for X (B, M, N); its backward is one matmul, ``X (g + g^T) * scale``.

    Autograd's own backward of ``X^T @ X`` treats the two operands as unrelated and runs two (M x N x N) matmuls;
    with the same tensor on both sides they collapse into one. Measured: 11-14 % off a whole VGG19 step at 256 px
    (benchmarks/results_ablation.md).
    """

    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(x)
        ctx.scale = scale
        return torch.matmul(x.transpose(1, 2), x).mul_(scale)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        (x,) = ctx.saved_tensors
        return torch.matmul(x, (grad + grad.transpose(1, 2)).mul_(ctx.scale)), None


def positions_by_channels(features: Tensor) -> Tensor:
    """(B, N, H, W) -> (B, M, N) with M = H W: a view, not a copy, for channels-last and for contiguous input."""
    b, n, h, w = features.shape
    if features.is_contiguous(memory_format=torch.channels_last) and not features.is_contiguous():
        return features.permute(0, 2, 3, 1).reshape(b, h * w, n)
    return features.reshape(b, n, h * w).transpose(1, 2)


def gram(features: Tensor) -> Tensor:
    """``F F^T / M`` for features (B, N, H, W) -> (B, N, N), in float32.

    Dividing by M here (instead of at the end) keeps values O(activation**2) whatever the image size; the loss
    functions put the paper's constants back.
    """
    h, w = features.shape[-2:]
    x = _at_least_fp32(positions_by_channels(features))
    with _no_autocast(features.device.type):  # autocast would run the matmul in bf16 again
        return _Gram.apply(x, 1.0 / (h * w))


def _no_autocast(device_type: str) -> contextlib.AbstractContextManager:
    """autocast switched off; nothing for device types without autocast (the tests' shape-only "meta" device)."""
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return contextlib.nullcontext()


def content_loss(features: Tensor, target: Tensor, norm: str = "mean") -> Tensor:
    """Per-variant content loss; ``target`` (1 or B, N, H, W) broadcasts over the batch."""
    diff = (_at_least_fp32(features) - _at_least_fp32(target)).pow(2)
    if norm == "paper":
        return 0.5 * diff.sum(dim=(1, 2, 3))
    return diff.mean(dim=(1, 2, 3))


def guided_gram(features: Tensor, mask: Tensor, weight: float) -> Tensor:
    """The Gram matrix over one region (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
    Transfer", guided Gram matrices): ``(F m)(F m)^T / sum(m**2)`` with ``mask`` (1, 1, H, W) in [0, 1] at the
    layer's resolution and ``weight = sum(mask**2)`` (computed once by the caller: reading it back from the device
    every step would be a sync). Dividing by the region's weight instead of by M keeps it comparable with the style
    image's whole-image :func:`gram`, so a style's target is the same whether it covers all of the picture or half."""
    h, w = features.shape[-2:]
    return gram(features * mask.to(features.dtype)) * (h * w / max(weight, 1e-8))


def style_loss(features: Tensor, target_gram: Tensor, norm: str = "mean", own_gram: Tensor | None = None) -> Tensor:
    """Per-variant style loss against ``target_gram = gram(style_features)`` (1 or B, N, N); ``own_gram`` is the
    generated image's Gram when the caller has it already (shared by several styles, or a :func:`guided_gram`)."""
    n = features.shape[1]
    sq = ((gram(features) if own_gram is None else own_gram) - target_gram).pow(2).sum(dim=(1, 2))
    if norm == "paper":
        return sq / (4.0 * n * n)  # = sum (G - A)**2 / (4 N**2 M**2) with unnormalised G, A
    return sq / float(n) ** 4  # = mean over N**2 entries of (G/(N M) - A/(N M))**2


def tv_loss(image: Tensor, norm: str = "mean") -> Tensor:
    """Per-variant squared total variation of ``image`` (B, C, H, W)."""
    dx = (image[..., :, 1:] - image[..., :, :-1]).pow(2)
    dy = (image[..., 1:, :] - image[..., :-1, :]).pow(2)
    if norm == "paper":
        return dx.sum(dim=(1, 2, 3)) + dy.sum(dim=(1, 2, 3))
    zero = image.new_zeros(image.shape[0])
    mx = dx.mean(dim=(1, 2, 3)) if dx.numel() else zero
    my = dy.mean(dim=(1, 2, 3)) if dy.numel() else zero
    return mx + my
