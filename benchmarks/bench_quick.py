"""How soon a newcomer sees a picture: the page's "Quick" run length vs "Full" (the config's defaults).

    python benchmarks/bench_quick.py [--device cpu]

Runs the Quick settings (nstcore.presets.QUICK_RUN) to the end on the sample images and measures the time to the
first preview frame and to the finished picture, the picture's size, and how far the style loss has fallen (as a
share of the fall a Full run reaches). The same for the Quick of before issue 23 (80 steps at 128 px) and one
256-px pass of Quick's length, so the coarse-to-fine choice is measured against both; and Bigger (Quick's picture
continued at twice the size), its style loss against a fresh start's at that size. Full: its time per step on the
same machine, extrapolated to its step count, and the style loss after those steps is measured by running it (with
--full-steps, default all of them; pass fewer to save time).
Random VGG weights (none can be downloaded here), so "recognisable" is measured as the loss, not by eye. Writes
benchmarks/results_quick.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import CONTENT, STYLE, write_results  # noqa: E402


def measure(config, device, network, steps: int | None = None, start=None) -> dict:
    """Wall time to the first image and to the end (or ``steps``), and the style/content terms at both ends."""
    from nstcore import run

    t0 = time.perf_counter()
    first_image = None
    first = last = None
    for p in run(config.replace(preview_every=10), CONTENT, STYLE, device=device, network=network, start=start):
        if first is None:
            first = p
        if first_image is None and p.image is not None:
            first_image = time.perf_counter() - t0
        last = p
        if steps is not None and p.step >= steps:
            break
    assert first is not None and last is not None
    wall = time.perf_counter() - t0
    return {
        "first_image": first_image,
        "wall": wall,
        "steps": last.step,
        "per_step": wall / last.step,
        "picture": "" if last.image is None else f"{last.image.shape[1]} × {last.image.shape[0]}",
        "style0": sum(first.loss.style.values()),
        "style": sum(last.loss.style.values()),
        "image": last.image,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--full-steps", type=int, default=None, help="Steps of the Full run to measure (default all).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_quick.md"))
    args = parser.parse_args()

    import nstcore
    from nstcore import StyleConfig, describe_device, load_network, resolve_device, run_lengths

    device = resolve_device(args.device)
    network = load_network("vgg19", "random", device)
    lengths = run_lengths()
    quick_config = StyleConfig(weights="random", **lengths["quick"])  # type: ignore[arg-type]
    full_config = StyleConfig(weights="random", **lengths["full"])  # type: ignore[arg-type]
    quick = measure(quick_config, device, network)
    before = measure(StyleConfig(weights="random", size=128, steps=80, optimizer="lbfgs"), device, network)
    one_pass_config = quick_config.replace(scales=1)
    one_pass = measure(one_pass_config, device, network)
    bigger_config = nstcore.bigger_config(quick_config, 2 * quick_config.size)
    bigger = measure(bigger_config, device, network, start=quick["image"])
    fresh = measure(quick_config.replace(size=bigger_config.size, scales=1), device, network, steps=1)
    full = measure(full_config, device, network, args.full_steps)
    full_total = full["per_step"] * full_config.steps
    fell_quick = 1 - quick["style"] / quick["style0"]
    fell_full = 1 - full["style"] / full["style0"]
    plan = " + ".join(f"{n} at {size}" for size, n in quick_config.scale_plan())
    rows = [
        (f"Quick: {plan} px ({quick_config.optimizer})", quick, f"{100 * fell_quick:.1f} %"),
        (
            "Quick before issue 23: 80 at 128 px (lbfgs)",
            before,
            f"{100 * (1 - before['style'] / before['style0']):.1f} %",
        ),
        (
            f"one pass: {quick_config.steps} at {quick_config.size} px (lbfgs)",
            one_pass,
            f"{100 * (1 - one_pass['style'] / one_pass['style0']):.1f} %",
        ),
        (
            f"Bigger: Quick's picture continued at {bigger_config.size} px, {bigger_config.steps} steps",
            bigger,
            f"{100 * (1 - bigger['style'] / fresh['style0']):.1f} % of a fresh {bigger_config.size}-px start's",
        ),
        (
            f"Full: {full_config.steps} {full_config.optimizer} steps at {full_config.size} px"
            + (f" (measured {full['steps']}, time extrapolated)" if full["steps"] < full_config.steps else ""),
            {**full, "wall": full_total},
            f"{100 * fell_full:.1f} % after {full['steps']} steps",
        ),
    ]
    table = (
        "| run | first preview (s) | finished picture (s) | picture (px) | style loss fallen |\n"
        "|---|---:|---:|---:|---:|\n"
        + "".join(
            f"| {name} | {m['first_image']:.1f} | {m['wall']:.1f} | {m['picture']} | {c} |\n" for name, m, c in rows
        )
        + f"\nQuick finishes in {quick['wall'] / before['wall']:.2f}x the time of the 128-px Quick before it, "
        f"one 256-px pass of the same length in {one_pass['wall'] / before['wall']:.2f}x, "
        f"and Quick in {quick['wall'] / full_total:.2f}x the time of Full.\n"
    )
    write_results(
        args.out,
        "Quick vs Full",
        f"device {describe_device(device)}. Random VGG19 weights, lake_house x swirls, a preview every 10 steps, "
        "the network loaded before timing (as on a running server).",
        table,
    )


if __name__ == "__main__":
    main()
