"""What batching variants buys: N variants in one batch vs the same N runs one after another.

    python benchmarks/bench_batch.py [--sizes 128 256] [--counts 2 4 8] [--device cpu]

Measures ms per step (median after warm-up) of one batched run of N variants (the ratio preset's weights, cycled),
and of the N single runs; the ratio sequential/batched is the speed-up. Writes benchmarks/results_batch.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402

from nstcore import StyleConfig, describe_device, expand_preset, load_network, resolve_device, run  # noqa: E402


def ms_per_step(
    config, content, style, device, network, variants, warmup: int, iters: int, max_batch: int | None = None
) -> float:
    gen = run(
        config.replace(steps=warmup + iters, preview_every=0),
        content,
        style,
        device=device,
        network=network,
        variants=variants,
        max_batch=max_batch,
    )
    times, last = [], time.perf_counter()
    for p in gen:
        now = time.perf_counter()
        if p.step > warmup:
            times.append(now - last)
        last = now
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=4)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_batch.md"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    network = load_network("vgg19", "random", device)
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        content = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        style = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        config = StyleConfig(size=size, weights="random")
        _, preset = expand_preset("ratio", config)
        single = ms_per_step(config, content, style, device, network, [preset[0]], args.warmup, args.iters)
        for n in args.counts:
            variants = [preset[i % len(preset)] for i in range(n)]
            forced = ms_per_step(
                config, content, style, device, network, variants, args.warmup, args.iters, max_batch=n
            )
            engine = ms_per_step(config, content, style, device, network, variants, args.warmup, args.iters)
            sequential = n * single  # every single run costs the same per step
            rows.append((size, n, sequential, forced, engine))
            print(
                f"{size}px N={n}: one after another {sequential:.0f} ms/step, one batch {forced:.0f}, "
                f"engine's choice {engine:.0f} ({sequential / engine:.2f}x)",
                flush=True,
            )
    table = (
        "| size | N | one after another, ms/step for all N | one forced batch | speed-up | engine's default "
        "| speed-up |\n|---:|---:|---:|---:|---:|---:|---:|\n"
        + "".join(
            f"| {s} px | {n} | {q:.0f} | {b:.0f} | {q / b:.2f}x | {e:.0f} | {q / e:.2f}x |\n" for s, n, q, b, e in rows
        )
    )
    write_results(
        args.out,
        "Batched variants vs one after another",
        f"device {describe_device(device)}. VGG19 to conv5_1, Adam, median of {args.iters} steps after "
        f"{args.warmup} warm-up. 'One after another' = N x the ms/step of a single run; 'one forced batch' "
        "= all N in one forward/backward (max_batch=N); 'engine's default' = what run() picks (on the CPU: "
        "one batch up to 160x160 px, one variant per pass above).",
        table,
    )


if __name__ == "__main__":
    main()
