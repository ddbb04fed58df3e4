"""The benchmark scripts still run (tiny sizes, a few steps): a GPU session should not find them broken."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_speed  # noqa: E402
from baseline import build_baseline  # noqa: E402


def test_speed_cells_run_for_the_baseline_and_the_engine() -> None:
    base = bench_speed.one({"kind": "baseline", "device": "cpu", "size": 48, "steps": 6})
    assert base["steps"] >= 6 and base["ms"] > 0 and base["loss"] > 0
    ours = bench_speed.one({"kind": "ours", "device": "cpu", "size": 48, "optimizer": "lbfgs", "precision": "fp32",
                            "steps": 6, "scales": 2})
    assert ours["steps"] == 6 and ours["ms"] > 0 and ours["reached"] is None and ours["peak_mb"] > 0


def test_baseline_moves_with_its_module(network) -> None:
    """Its normalisation constants are buffers, so ``.to(device)`` carries them (a CUDA run needs that)."""
    net, _, _ = build_baseline(network.features, torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), ["conv4_2"],
                               ["conv1_1"])
    net.to(torch.float64)
    assert net.normalize.mean.dtype == torch.float64
    assert net.features_0.weight.is_contiguous()  # the tutorial's NCHW, not the engine's channels-last
