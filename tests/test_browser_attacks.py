"""Resources are assertions: a visitor pressing Run and Stop in turn leaves no thread computing on the server
(a separate process, its CPU time read from /proc, a memory guard that kills it past half the machine)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_run_stop_cycles_leave_no_thread_computing() -> None:
    """Before the gate, three Run/Stop cycles at 512 px left the server busy on 0.73 cores after the last Stop
    (stopped jobs' threads went on in their steps while new ones started); 768 px, six cycles: 1.91 cores, +1.6 GB."""
    from bench_attacks import run_stop

    root = Path(__file__).resolve().parents[1]
    result = run_stop(root, size=512, cycles=2, quiet_seconds=4, settle=1)
    assert not result["guard"]
    assert result["cores_after_stop"] < 0.3, result
    assert result["stuck"] == 0, result
