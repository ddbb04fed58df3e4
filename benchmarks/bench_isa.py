"""Step time by CPU kind: this CPU's own kernels vs the same CPU limited to AVX2 (no AVX-512, no AMX).

    python benchmarks/bench_isa.py [--size 256] [--steps 12]

People run the workbench on laptops and servers without bf16 units, where ``precision=auto`` means fp32 and
oneDNN has only AVX2 kernels. Lacking such a machine, each cell runs in a subprocess with
``ATEN_CPU_CAPABILITY=avx2`` and ``ONEDNN_MAX_CPU_ISA=AVX2``, which make torch's and oneDNN's dispatchers pick
exactly the AVX2 kernels an AVX2-only CPU gets (same clock and caches as this one, so an AVX2 CPU of its own will
differ in absolute times; compare the ratios). Cells: one Adam step at ``--size`` px in fp32, NCHW vs the engine's
channels-last (is channels-last still right without AVX-512?), and one L-BFGS step. Writes
benchmarks/results_isa.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import CONTENT, STYLE, cpu_description, write_results  # noqa: E402

AVX2 = {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


def cells(size: int, steps: int) -> dict:
    """Runs in the subprocess: ms per step for each cell, under whatever ISA the environment allows."""
    import bench_ablation
    import torch

    from nstcore import StyleConfig, load_network, resolve_device, run
    from nstcore.features import Network
    from nstcore.weights import load_features

    device = resolve_device("cpu")
    config = StyleConfig(size=size, weights="random")
    nchw = Network("vgg19", "random", device, load_features("vgg19", "random").to(device))
    nhwc = load_network("vgg19", "random", device)
    out: dict = {"capability": torch.backends.cpu.get_cpu_capability()}
    for label, channels_last in (("Adam fp32, NCHW", False), ("Adam fp32, channels-last (engine)", True)):
        ms, _ = bench_ablation.step_cell(
            config,
            nhwc if channels_last else nchw,
            device,
            channels_last=channels_last,
            gram="ours",
            bf16=False,
            compile_=False,
            steps=steps,
        )
        out[label] = ms
    lbfgs = config.replace(optimizer="lbfgs", precision="fp32", steps=steps, preview_every=0)
    elapsed = [p.elapsed for p in run(lbfgs, CONTENT, STYLE, device=device, network=nhwc)]
    out["L-BFGS fp32, channels-last (engine)"] = 1000 * statistics.median(
        later - earlier for earlier, later in zip(elapsed[2:], elapsed[3:])
    )
    return out


def measure(size: int, steps: int, env: dict[str, str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps({"size": size, "steps": steps})],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_isa.md"))
    args = parser.parse_args()
    if args.one:
        spec = json.loads(args.one)
        print(json.dumps(cells(spec["size"], spec["steps"])))
        return
    native, avx2 = measure(args.size, args.steps, {}), measure(args.size, args.steps, AVX2)
    labels = [key for key in native if key != "capability"]
    table = (
        f"| cell ({args.size} px, ms per step) | {native['capability']} (this CPU) | {avx2['capability']} only | "
        "AVX2 / this CPU |\n|---|---:|---:|---:|\n"
    )
    for label in labels:
        table += f"| {label} | {native[label]:.0f} | {avx2[label]:.0f} | {avx2[label] / native[label]:.2f}x |\n"
    nchw, nhwc = "Adam fp32, NCHW", "Adam fp32, channels-last (engine)"
    table += (
        f"\nChannels-last vs NCHW: {native[nchw] / native[nhwc]:.2f}x faster on this CPU's kernels, "
        f"{avx2[nchw] / avx2[nhwc]:.2f}x with AVX2 only.\n"
    )
    write_results(
        args.out,
        "Step time by CPU kind",
        f"random VGG19 weights, the sample images; AVX2 column: the same CPU ({cpu_description()}) with "
        "ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2, i.e. the kernels an AVX2-only CPU runs.",
        table,
    )


if __name__ == "__main__":
    main()
