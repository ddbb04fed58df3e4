"""Gatys et al.'s Figure 3 as one two-way sweep (style layers down, α/β across: 20 cells) against the same 20 cells
run one after another, and the gate's memory estimate of the sweep against its measured peak.

    python benchmarks/bench_sweep.py [--size 128] [--steps 30] [--device cpu]

Each measurement runs in a process of its own (peak RSS growth over the process after loading the network: what the
job adds), on random weights and the bundled sample images. Writes benchmarks/results_sweep.md.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402


def measure(kind: str, size: int, steps: int, optimizer: str, device: str) -> dict:
    """In this process: the sweep as one job (``kind`` "sweep") or its 20 cells as 20 runs ("singles")."""
    import nstcore
    from demo_app.jobs.memory import memory_estimate
    from demo_app.session.samples import sample_path

    dev = nstcore.resolve_device(device)
    network = nstcore.load_network("vgg19", "random", dev)
    content = nstcore.load_image(sample_path("content", "lake_house.png"))
    style = nstcore.load_image(sample_path("style", "swirls.png"))
    base = nstcore.StyleConfig(size=size, steps=steps, optimizer=optimizer, weights="random", preview_every=0)
    sweep = nstcore.expand_sweep("style_layers", "ratio", base)
    request = nstcore.RunRequest(base, content, (style,), variants=sweep.variants)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    started = time.perf_counter()
    if kind == "sweep":
        for _ in request.snapshots(device=dev, network=network):
            pass
    else:
        for variant in sweep.variants:
            for _ in nstcore.run(variant.config(base), content, style, device=dev, network=network):
                pass
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    return {"seconds": seconds, "cells": len(sweep.variants), "peak": peak, "estimate": memory_estimate(request)}


def child(kind: str, args: argparse.Namespace) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--size", str(args.size), "--steps", str(args.steps)]
    command += ["--optimizer", args.optimizer, "--device", args.device]
    out = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--optimizer", default="lbfgs")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--child", choices=["sweep", "singles"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_sweep.md"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.size, args.steps, args.optimizer, args.device)))
        return
    sweep, singles = child("sweep", args), child("singles", args)
    mib = 2**20
    rows = [
        "| how | cells | total (s) | per cell (s) | peak RSS growth (MiB) | gate's estimate (MiB) |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in (("one 5 × 4 sweep (one job)", sweep), ("20 single runs, one after another", singles)):
        rows.append(
            f"| {name} | {r['cells']} | {r['seconds']:.1f} | {r['seconds'] / r['cells']:.2f} | {r['peak'] / mib:.0f} | "
            + (f"{r['estimate'] / mib:.0f} |" if name.startswith("one") else "— |")
        )
    ratio = singles["seconds"] / sweep["seconds"]
    table = "\n".join(rows) + (
        f"\n\nThe sweep takes {sweep['seconds'] / sweep['cells']:.2f} s a cell, {ratio:.2f}× the speed of the same "
        f"cells run one by one; the gate's estimate is {sweep['estimate'] / max(sweep['peak'], 1):.1f}× the "
        "measured peak"
        " (the gate refuses a job whose estimate passes --max-job-gb, so the estimate must not be below the peak).\n"
    )
    write_results(
        args.out,
        "Figure 3 as a two-way sweep (bench_sweep.py)",
        f"`--sweep style_layers ratio`, {args.size} px, {args.steps} {args.optimizer} steps, random weights, "
        f"{args.device}, each row in a process of its own",
        table,
    )


if __name__ == "__main__":
    main()
