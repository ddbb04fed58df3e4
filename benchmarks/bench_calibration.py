"""Sizes and estimates from the device's measured speed (issue 36), on this machine:

    python benchmarks/bench_calibration.py [--sessions 5] [--out FILE]

1. **Calibration**: what ``python -m demo_app`` measures at start (nstcore.calibrate on VGG19), and how long it took.
2. **Quick and Full**: the sizes the calibration gives them (time targets 10 s and 60 s), each run to the end on the
   sample images (lake_house x swirls, 512x384) through the engine as a page's job runs, its time against the
   calibration's prediction.
3. **A fresh server's first estimates**: N pages press the same example (Quick) at about the same time on a server
   that calibrated at start; each queued job's first estimate of its wait against the real wait, per queue position
   (benchmarks/results_queue.md has the same on a server that knew nothing yet).
4. **What other devices would get** from the same model: computed, not measured (no GPU has been lent yet): the run
   lengths for a step at 256 px of a given time, a step's time growing with pixels ** 0.85 (as measured here).

Writes benchmarks/results_calibration.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from common import CONTENT, STYLE, write_results  # noqa: E402


def run_lengths_measured() -> tuple[object, list[dict]]:
    import torch
    from PIL import Image

    import nstcore
    from nstcore.calibration import FULL_PLAN, QUICK_PLAN, calibrate, plan_of, run_lengths

    network = nstcore.load_network("vgg19", "random", torch.device("cpu"))
    calibration = calibrate(network)
    content, style = Image.open(CONTENT).convert("RGB"), Image.open(STYLE).convert("RGB")
    rows = []
    for key, settings in run_lengths(calibration).items():
        config = nstcore.StyleConfig(weights="random", **settings)
        request = nstcore.RunRequest(config, content, (style,))
        began = time.perf_counter()
        progress = list(request.snapshots(device=network.device, network=network))
        seconds = time.perf_counter() - began
        last = progress[-1]
        plan = plan_of(int(settings["size"]), QUICK_PLAN if key == "quick" else FULL_PLAN)
        assert last.images is not None
        height, width = last.images[0].shape[:2]
        rows.append(
            {
                "key": key,
                "size": settings["size"],
                "picture": f"{width} × {height}",
                "steps": settings["steps"],
                "scales": settings["scales"],
                "seconds": seconds,
                "predicted": calibration.plan_seconds(plan),
            }
        )
    return calibration, rows


def computed_rows() -> list[str]:
    from test_calibration import fake_device

    from nstcore.calibration import FULL_PLAN, QUICK_PLAN, calibrate, plan_of, run_lengths

    cpu = type("Net", (), {"device": __import__("torch").device("cpu")})()
    lines = []
    for step in (0.4, 0.2, 0.05, 0.02, 0.005):
        calibration = calibrate(cpu, measure=fake_device(step), batch=False)
        lengths = run_lengths(calibration)
        quick, full = lengths["quick"]["size"], lengths["full"]["size"]
        q_s = calibration.plan_seconds(plan_of(quick, QUICK_PLAN))
        f_s = calibration.plan_seconds(plan_of(full, FULL_PLAN))
        lines.append(f"| {step * 1000:g} ms | {quick} px, {q_s:.0f} s | {full} px, {f_s:.0f} s |\n")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_calibration.md"))
    args = parser.parse_args()
    from bench_load import run_queue

    calibration, lengths = run_lengths_measured()
    queue = run_queue(args.sessions, calibrated=True)
    table = "## Calibration\n\n" + "\n".join(f"- {line}" for line in calibration.lines()) + "\n\n"  # type: ignore[attr-defined]
    table += (
        "## Quick and Full from the calibration (targets 10 s and 60 s)\n\n"
        "| run length | long side | picture | steps (scales) | finished in (s) | predicted (s) | error |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {r['key']} | {r['size']} | {r['picture']} | {r['steps']} ({r['scales']}) | {r['seconds']:.1f} | "
            f"{r['predicted']:.1f} | {100 * (r['predicted'] - r['seconds']) / r['seconds']:+.0f} % |\n"
            for r in lengths
        )
    )
    table += (
        f"\n## A fresh, calibrated server's first estimates ({args.sessions} pages press the same example)\n\n"
        "| queue position | real wait (s) | first estimate (s) | its error |\n|---:|---:|---:|---:|\n"
        + "".join(
            f"| {n} | {r['wait']:.1f} | {r['first']:.1f} | {100 * (r['first'] - r['wait']) / r['wait']:+.0f} % |\n"
            for n, r in enumerate(queue, start=2)
        )
    )
    table += (
        "\n## What other devices would get (computed from the model, not measured)\n\n"
        "| a step at 256 px takes | Quick | Full |\n|---:|---:|---:|\n" + "".join(computed_rows())
    )
    write_results(
        args.out,
        "Sizes and estimates from the device's measured speed",
        "device cpu, random VGG19 weights (the same speed as the pretrained ones), max_concurrent=1.",
        table,
    )


if __name__ == "__main__":
    main()
