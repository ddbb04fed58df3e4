"""Five browser sessions at once against one CPU server (the scenario of benchmarks/bench_load.py, which runs eight:
five prove the same things here in 2/3 of the time; the suite keeps to its 8 minutes)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from bench_load import ECHO_TIMEOUT, run_load  # noqa: E402

pytestmark = pytest.mark.browser


def test_five_sessions_all_finish_with_their_own_images(tmp_path) -> None:
    result = run_load(sessions=5, steps=8, slider_moves=6, workdir=tmp_path)
    assert result["all_done"], result
    assert all(result["own_images"]), result["own_images"]
    assert result["hostile_errors_shown"] == 5  # every page said what was wrong with its hostile file
    assert result["queued_seen"] >= 1, result["statuses"]  # with one job at a time, the others saw their queue position
    assert len(result["latencies"]) == 6 and max(result["latencies"]) < ECHO_TIMEOUT  # every slider move was echoed
