"""Cost per step of several style images and of masks (guided Grams), against one style, at the same size.

    python benchmarks/bench_styles.py [--device cpu] [--size 256] [--steps 12] [--rounds 2]

Target (issue 14): each extra style costs at most 15 % of a one-style step. Without masks the generated image's
Gram per layer is shared by every style (an extra style adds a C x C difference per layer); with masks each style
needs its own guided Gram per layer. Cells run interleaved, ``--rounds`` times, and the median step time of each cell
is reported with its ratio to one style measured in the same run (absolute times only compare on one machine).
Random VGG weights, the project's sample images (assets/), default settings otherwise. Writes
benchmarks/results_styles.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import CONTENT, STYLE, write_results  # noqa: E402

STYLES = [STYLE, ROOT / "assets" / "style" / "mosaic.png", ROOT / "assets" / "style" / "brush.png"]


def stripes_masks(count: int, size: tuple[int, int]):
    """``count`` vertical bands covering the content image, one mask each."""
    import numpy as np
    from PIL import Image

    width, height = size
    masks = []
    for k in range(count):
        array = np.zeros((height, width), np.uint8)
        array[:, k * width // count : (k + 1) * width // count] = 255
        masks.append(Image.fromarray(array))
    return masks


def step_times(config, device, network, styles, masks, warmup: int, steps: int) -> list[float]:
    from nstcore import run

    times, previous = [], 0.0
    for snapshot in run(config, CONTENT, styles, masks=masks, device=device, network=network):
        if snapshot.step > warmup:
            times.append(snapshot.elapsed - previous)
        previous = snapshot.elapsed
        if snapshot.step >= warmup + steps:
            break
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12, help="Timed steps per cell and round (after 3 warm-up).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_styles.md"))
    args = parser.parse_args()

    from PIL import Image

    from nstcore import StyleConfig, describe_device, load_network, resolve_device
    from nstcore.device import use_bf16

    device = resolve_device(args.device)
    config = StyleConfig(size=args.size, steps=10_000, weights="random", preview_every=0)
    network = load_network(config.model, "random", device)
    content_size = Image.open(CONTENT).size
    cells = [
        ("1 style", 1, False),
        ("2 styles", 2, False),
        ("3 styles", 3, False),
        ("1 style, 1 mask", 1, True),
        ("2 styles, masks", 2, True),
        ("3 styles, masks", 3, True),
    ]
    times: dict[str, list[float]] = {name: [] for name, _, _ in cells}
    for _ in range(args.rounds):
        for name, count, masked in cells:
            masks = stripes_masks(count, content_size) if masked else None
            times[name] += step_times(config, device, network, STYLES[:count], masks, 3, args.steps)
            print(f"{name}: {statistics.median(times[name]) * 1000:.0f} ms/step so far", file=sys.stderr)
    base = statistics.median(times["1 style"])
    rows = ["| cell | ms/step (median) | vs 1 style | per extra style |", "|---|---|---|---|"]
    for name, count, _ in cells:
        median = statistics.median(times[name])
        extra = f"{(median / base - 1) / (count - 1) * 100:+.1f} %" if count > 1 else "—"
        rows.append(f"| {name} | {median * 1000:.0f} | {median / base:.3f}× | {extra} |")
    precision = "bf16" if use_bf16(config.precision, device) else "fp32"
    setup = (
        f"{describe_device(device)}, {args.size} px, {config.optimizer} ({precision}), random VGG19 weights, "
        f"{args.steps} timed steps x {args.rounds} rounds per cell after 3 warm-up, cells interleaved; masks are "
        "equal vertical bands"
    )
    write_results(args.out, "Several style images and masks: cost per step", setup, "\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
