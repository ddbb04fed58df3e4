"""The high-resolution generator (Li et al. 2019) as the paper describes it: the shapes of every fused branch, the
parameter count of its layers, sides that are not multiples of 4, and its residual start (an untrained generator
returns its input)."""

from __future__ import annotations

import pytest
import torch

from nstcore.hrnet import HRNet, pad_to_multiple, parameter_count


def test_every_branch_has_the_papers_shape() -> None:
    x = torch.rand(2, 3, 32, 48)
    with torch.no_grad():
        maps = HRNet().branches(x)
    expected = {
        "layer1": (16, 32, 48),
        "layer2_full": (32, 32, 48),
        "layer2_half": (32, 16, 24),
        "layer3_full": (64, 32, 48),  # bottleneck(32->32) of full ‖ the 1/2 branch upsampled
        "layer3_half": (64, 16, 24),  # stride-2 conv of full ‖ bottleneck of 1/2
        "layer3_quarter": (64, 8, 12),  # stride-4 conv of full ‖ stride-2 conv of 1/2
        "layer4": (192, 32, 48),  # bottleneck(64->64) of full ‖ 1/2 and 1/4 upsampled
        "head": (16, 32, 48),  # 192 -> 64 -> 32 -> 16
        "out": (3, 32, 48),
    }
    assert {name: tuple(t.shape[1:]) for name, t in maps.items()} == expected
    assert all(t.shape[0] == 2 for t in maps.values())
    assert 0 <= float(maps["out"].min()) and float(maps["out"].max()) <= 1


def _bottleneck(cin: int, cout: int) -> int:
    mid = max(cout // 4, 4)
    body = cin * mid + 2 * mid + 9 * mid * mid + 2 * mid + mid * cout + 2 * cout
    return body + (0 if cin == cout else cin * cout + 2 * cout)


def _down(cin: int, cout: int) -> int:
    return 9 * cin * cout + 2 * cout


def test_the_parameter_count_is_the_sum_of_the_described_layers() -> None:
    expected = (
        _bottleneck(3, 16)
        + _bottleneck(16, 32)
        + _down(16, 32)
        + _bottleneck(32, 32)
        + _down(32, 32)  # full -> 1/2
        + _bottleneck(32, 32)
        + _down(32, 32)  # full -> 1/4
        + _down(32, 32)  # 1/2 -> 1/4
        + _bottleneck(64, 64)
        + _bottleneck(192, 64)
        + _bottleneck(64, 32)
        + _bottleneck(32, 16)
        + 9 * 16 * 3
        + 3
    )
    assert parameter_count(HRNet()) == expected
    assert 50_000 < expected < 200_000  # a small network: one file of well under a megabyte


def test_sides_not_divisible_by_4_are_refused_or_padded() -> None:
    with pytest.raises(ValueError, match="divisible by 4"):
        HRNet()(torch.rand(1, 3, 30, 48))
    padded, (height, width) = pad_to_multiple(torch.rand(1, 3, 30, 47))
    assert padded.shape[-2:] == (32, 48) and (height, width) == (30, 47)
    assert torch.equal(padded[..., :30, :47], padded[..., :30, :47])
    tiny, _ = pad_to_multiple(torch.rand(1, 3, 1, 2))  # too small to reflect: replicated
    assert tiny.shape[-2:] == (4, 4)


def test_a_residual_generator_starts_as_its_input() -> None:
    torch.manual_seed(0)
    x = torch.rand(1, 3, 16, 16) * 0.9 + 0.05
    assert torch.allclose(HRNet(residual=True)(x), x, atol=1e-5)
    assert not torch.allclose(HRNet(residual=False)(x), x, atol=0.05)
