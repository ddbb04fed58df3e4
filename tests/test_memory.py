"""The admission gate's memory estimate holds for every kind of job (issue 39): measured peak <= estimate <= 2 x
measured peak, each kind measured in a process of its own at 192 px (benchmarks/bench_memory.py, which also writes
the figures at 512 px to benchmarks/results_memory.md)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import bench_memory  # noqa: E402


@pytest.mark.parametrize("kind", bench_memory.KINDS)
def test_the_gates_estimate_holds_the_measured_peak(kind) -> None:
    result = bench_memory.measure_apart(kind, 192, history=5)  # a short history fills in 10 steps
    peak, estimate = result["peak"], result["estimate"]
    assert peak <= estimate <= 2 * peak, f"{kind}: peak {peak / 2**20:.0f} MiB, estimate {estimate / 2**20:.0f} MiB"
