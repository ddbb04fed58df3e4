"""Milliseconds per iteration of nstcore's step vs the naive baseline (benchmarks/baseline.py), same layers.

    python benchmarks/bench_engine.py                 # 128 and 256 px on the CPU, Adam, paper layers
    python benchmarks/bench_engine.py --sizes 512 --device cuda

Prints a table and writes it to benchmarks/results_engine.md (with date, machine and device). Random weights:
the cost of a step does not depend on the weights' values.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from baseline import baseline_step, build_baseline  # noqa: E402

from nstcore import StyleConfig, describe_device, load_network, resolve_device, run  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_nstcore(config: StyleConfig, content, style, device, network, warmup: int, iters: int) -> float:
    gen = run(config.replace(steps=warmup + iters + 1, preview_every=0), content, style, device=device,
              network=network)
    times = []
    last = time.perf_counter()
    for p in gen:
        now = time.perf_counter()
        if p.step > warmup:
            times.append(now - last)
        last = now
        if p.step == warmup + iters:
            break
    gen.close()
    return statistics.median(times) * 1000


def time_baseline(config: StyleConfig, device, network, size_hw, warmup: int, iters: int) -> float:
    h, w = size_hw
    torch.manual_seed(0)
    content = torch.rand(1, 3, h, w, device=device)
    style = torch.rand(1, 3, h, w, device=device)
    net, cl, sl = build_baseline(network.features, content, style, list(config.content_layers),
                                 list(config.style_layers), config.model)
    net.to(device)
    image = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([image], lr=0.02)
    times = []
    for i in range(warmup + iters):
        _sync(device)
        t = time.perf_counter()
        baseline_step(net, cl, sl, image, opt, config.alpha, config.beta)
        _sync(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_engine.md"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    network = load_network("vgg19", "random", device)
    from PIL import Image
    import numpy as np

    rows = []
    for size in args.sizes:
        rng = np.random.default_rng(0)
        content = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        style = Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8))
        config = StyleConfig(size=size, weights="random", precision=args.precision)
        ours = time_nstcore(config, content, style, device, network, args.warmup, args.iters)
        base = time_baseline(config, device, network, (size, size), args.warmup, args.iters)
        rows.append((size, base, ours, base / ours))
        print(f"{size}px: baseline {base:.1f} ms/it, nstcore {ours:.1f} ms/it, speed-up {base / ours:.2f}x",
              flush=True)
    from nstcore.device import use_bf16

    arithmetic = "bf16 autocast, fp32 Grams and losses" if use_bf16(args.precision, device) else "fp32"
    header = (f"# nstcore step vs naive baseline\n\n{dt.date.today()} on {platform.node() or 'this machine'} "
              f"({platform.processor() or platform.machine()}), device {describe_device(device)}, torch "
              f"{torch.__version__}. VGG19 up to conv5_1, content conv4_2, style conv1_1..conv5_1, Adam, "
              f"precision {args.precision} ({arithmetic}; the baseline is fp32), median of {args.iters} steps "
              f"after {args.warmup} warm-up steps. Full table: results_speed.md.\n\n")
    table = "| size | baseline ms/it | nstcore ms/it | speed-up |\n|---:|---:|---:|---:|\n" + "".join(
        f"| {s}x{s} | {b:.1f} | {o:.1f} | {r:.2f}x |\n" for s, b, o, r in rows)
    Path(args.out).write_text(header + table, encoding="utf-8")
    print("\n" + table + f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
