"""The benchmark scripts still run (tiny sizes, a few steps): a GPU session should not find them broken."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_speed  # noqa: E402
from baseline import build_baseline  # noqa: E402


def test_speed_cells_run_for_the_baseline_and_the_engine() -> None:
    base = bench_speed.one({"kind": "baseline", "device": "cpu", "size": 48, "steps": 6})
    assert base["steps"] >= 6 and base["ms"] > 0 and base["loss"] > 0
    ours = bench_speed.one(
        {
            "kind": "ours",
            "device": "cpu",
            "size": 48,
            "optimizer": "lbfgs",
            "precision": "fp32",
            "steps": 6,
            "scales": 2,
        }
    )
    assert ours["steps"] == 6 and ours["ms"] > 0 and ours["reached"] is None and ours["peak_mb"] > 0


def test_baseline_moves_with_its_module(network) -> None:
    """Its normalisation constants are buffers, so ``.to(device)`` carries them (a CUDA run needs that)."""
    net, _, _ = build_baseline(
        network.features, torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), ["conv4_2"], ["conv1_1"]
    )
    net.to(torch.float64)
    assert net.normalize.mean.dtype == torch.float64
    assert net.features_0.weight.is_contiguous()  # the tutorial's NCHW, not the engine's channels-last


@pytest.mark.browser
def test_hostile_benchmark_cell_runs_against_a_separate_server() -> None:
    """A short cell of bench_hostile: the server process survives hostile uploads and a reloading client, the job
    keeps running, and every /liveness probe is answered (figures are the benchmark's business, not this test's)."""
    from bench_hostile import measure

    result = measure(seconds=4, reloaders=1)
    assert result["job_kept_running"] and result["uploads"] >= 3 and result["page_loads"] >= 1
    assert result["probes"] >= 5 and result["max"] < 10_000  # 10 s = a probe that got no answer


def test_isa_cells_run() -> None:
    """bench_isa's cells (here on this CPU's own kernels; the script also runs them limited to AVX2)."""
    import bench_isa

    cells = bench_isa.cells(48, 5)
    assert cells["capability"] and all(
        cells[key] > 0
        for key in ("Adam fp32, NCHW", "Adam fp32, channels-last (engine)", "L-BFGS fp32, channels-last (engine)")
    )


def test_styles_cells_run(network) -> None:
    """bench_styles' cell: step times of a run with two styles and masks (the bands cover the content image)."""
    import bench_styles
    from PIL import Image

    from nstcore import StyleConfig

    masks = bench_styles.stripes_masks(2, Image.open(bench_styles.CONTENT).size)
    assert all(mask.getextrema() == (0, 255) for mask in masks)
    config = StyleConfig(size=48, steps=100, weights="random", preview_every=0, precision="fp32")
    times = bench_styles.step_times(config, "cpu", network, bench_styles.STYLES[:2], masks, warmup=1, steps=3)
    assert len(times) == 3 and all(t > 0 for t in times)


def test_the_gpu_check_runs_dry_on_the_cpu(tmp_path) -> None:
    """``benchmarks/gpu_check.py --dry-run`` (its main, in this process): its tests (test_gpu.py on the CPU, in a
    pytest of their own), speed cells, a room of scheduler sessions, memory per kind of job, and its results file,
    as on a lent GPU."""
    import gpu_check

    out = tmp_path / "results_gpu_dry.md"
    assert gpu_check.main(["--dry-run", "--out", str(out)]) == 0
    text = out.read_text()
    assert "GPU check (dry run on the CPU)" in text and "device cpu" in text
    assert "Tests marked gpu: **5 passed" in text
    assert text.count("| 32 px | fp32 |") == 2 and text.count("| sessions |") == 2
    import bench_memory

    assert all(f"| {kind} | 32 |" in text for kind in bench_memory.DEVICE_KINDS)  # memory per kind of job
    assert "not measured" not in text


def test_the_sweep_benchmark_measures_one_cell_size() -> None:
    import bench_sweep

    result = bench_sweep.measure("sweep", size=32, steps=1, optimizer="lbfgs", device="cpu")
    assert result["cells"] == 20 and result["seconds"] > 0 and result["estimate"] > 0


def test_churn_cell_runs_and_counts_waits() -> None:
    """A short cell of bench_churn (a third member that stops once beside the two steady jobs): it runs, counts its
    rounds' waits, and leaves nstcore unpatched."""
    import bench_churn

    from nstcore import batching
    from nstcore.objective import Objective

    before = (Objective.evaluate, batching._Request.__init__, batching.Batch._run)
    result = bench_churn._child("stops", steps=5, cycles=1)
    assert result["seconds"] > 0 and result["median_pass_s"] > 0 and result["waited_s"] >= 0
    assert result["most_shared"] >= 2
    assert (Objective.evaluate, batching._Request.__init__, batching.Batch._run) == before
