"""Speed table of the engine: ms per iteration, peak memory, and time to the usual implementation's loss.

    python benchmarks/bench_speed.py                    # CPU: 128 and 256 px, Adam and L-BFGS, fp32 and bf16
    python benchmarks/bench_speed.py --device cuda --sizes 256 512

Every cell runs in its own subprocess, so "peak memory" is that run's own peak (max RSS on the CPU, the CUDA
allocator's peak on a GPU). "Time to baseline loss": the naive implementation (benchmarks/baseline.py) runs 300
L-BFGS objective evaluations at the largest size (the PyTorch-tutorial recipe: LBFGS with 20 evaluations per
.step()); each of ours runs until its loss -- re-evaluated in fp32, on the same images, layers and weights, with the
same normalisation -- is at or below the best loss the baseline reached in those evaluations (its L-BFGS
oscillates and can blow up late, so its last value would flatter us). Random VGG weights (none can be downloaded here),
the project's sample images. Writes benchmarks/results_speed.md with the date, machine and device.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import CONTENT, STYLE, sample_objective, write_results  # noqa: E402


def _peak_mb(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fp32_objective(config, device, network):
    """Our objective in fp32 ("mean" normalisation = the baseline's formulas), for checking a reached loss."""
    import torch

    objective, _ = sample_objective(config, device, network)
    objective.set_weights([config.loss_weights()], device)

    def loss(image_array) -> float:
        with torch.no_grad():
            tensor = torch.from_numpy(image_array.copy()).permute(2, 0, 1)[None].float().div(255).to(device)
            return objective(tensor)[0].item()

    return loss


def one(spec: dict) -> dict:
    """Measure one cell (runs inside a subprocess)."""
    import torch

    from nstcore import StyleConfig, load_network, resolve_device, run

    device = resolve_device(spec["device"])
    network = load_network("vgg19", "random", device)
    if spec["kind"] == "baseline":
        return _baseline(spec, device, network)
    config = StyleConfig(
        size=spec["size"],
        weights="random",
        optimizer=spec["optimizer"],
        precision=spec["precision"],
        steps=spec["steps"],
        preview_every=0,
        scales=spec.get("scales", 1),
    )
    target = spec.get("target")
    check = _fp32_objective(config, device, network) if target is not None else None
    times, reached, last = [], None, time.perf_counter()
    t0 = last
    controls = None
    from nstcore import Controls

    controls = Controls(config.loss_weights(), lr=config.effective_lr)
    for p in run(config, CONTENT, STYLE, device=device, network=network, controls=controls):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if target is not None and p.size == config.size:  # coarse-to-fine: only the full size counts
            if p.images is not None and check(p.images[0]) <= target:
                reached = (now - t0, p.step)
                break
            if p.loss.total <= target * 1.02:
                controls.request_image()  # near the target: check the next images in fp32
            if now - t0 > spec["give_up_s"]:
                break
    steady = times[3:] or times
    return {
        "ms": statistics.median(steady) * 1000,
        "peak_mb": _peak_mb(device),
        "reached": reached,
        "steps": len(times),
    }


def _baseline(spec: dict, device, network) -> dict:
    import torch
    from baseline import build_baseline

    from nstcore import StyleConfig, prepare_images
    from nstcore.tensors import image_to_tensor

    config = StyleConfig(size=spec["size"], weights="random")
    prepared = prepare_images(config, CONTENT, STYLE)
    content = image_to_tensor(prepared.content, device)
    style = image_to_tensor(prepared.style, device)
    net, cl, sl = build_baseline(
        network.features, content, style, list(config.content_layers), list(config.style_layers)
    )
    net.to(device)
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([image])  # the tutorial: lr 1, max_iter 20, history 100
    evaluations, times, losses = [0], [], []
    t0 = time.perf_counter()

    def closure():
        t = time.perf_counter()
        with torch.no_grad():
            image.clamp_(0, 1)
        optimizer.zero_grad()
        net(image)
        loss = config.alpha * sum(m.loss for m in cl) + config.beta * sum(m.loss for m in sl)
        loss.backward()
        evaluations[0] += 1
        losses.append(loss.item())
        times.append(time.perf_counter() - t)
        return loss

    while evaluations[0] < spec["steps"]:
        optimizer.step(closure)
    with torch.no_grad():
        image.clamp_(0, 1)
    wall = time.perf_counter() - t0
    # The best loss it reached: L-BFGS with clamping oscillates and can blow up late, so its last value would
    # flatter us. Same formulas as ours ("mean" normalisation), so the numbers compare directly.
    return {
        "ms": statistics.median(times[3:]) * 1000,
        "peak_mb": _peak_mb(device),
        "loss": min(losses),
        "wall": wall,
        "steps": evaluations[0],
    }


def measure(spec: dict) -> dict:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(spec)], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=12, help="Steps per ms/iteration cell.")
    parser.add_argument("--baseline-steps", type=int, default=300)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=None,
        help="fp32 and/or bf16 (default: both where bf16 units exist, else fp32). Under ONEDNN_MAX_CPU_ISA=AVX2 the "
        "AMX check still says yes: pass fp32 there.",
    )
    parser.add_argument("--cells-only", action="store_true", help="Only the ms/iteration table (minutes, not tens).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_speed.md"))
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return

    from nstcore import describe_device, resolve_device
    from nstcore.device import has_fast_bf16

    device = resolve_device(args.device)
    precisions = args.precisions or (["fp32", "bf16"] if has_fast_bf16(device) else ["fp32"])
    rows = []
    for size in args.sizes:
        base = measure({"kind": "baseline", "device": args.device, "size": size, "steps": args.steps})
        rows.append((size, "baseline L-BFGS (naive)", base["ms"], base["peak_mb"], "-"))
        print(rows[-1], flush=True)
        for optimizer in ("adam", "lbfgs"):
            for precision in precisions:
                cell = measure(
                    {
                        "kind": "ours",
                        "device": args.device,
                        "size": size,
                        "optimizer": optimizer,
                        "precision": precision,
                        "steps": args.steps,
                    }
                )
                rows.append(
                    (
                        size,
                        f"nstcore {optimizer} {precision}",
                        cell["ms"],
                        cell["peak_mb"],
                        f"{base['ms'] / cell['ms']:.2f}x",
                    )
                )
                print(rows[-1], flush=True)
    table = (
        "| size | implementation | ms / iteration | peak memory (MB) | speed-up vs baseline |\n"
        "|---:|---|---:|---:|---:|\n"
        + "".join(f"| {s} px | {name} | {ms:.0f} | {mb:.0f} | {r} |\n" for s, name, ms, mb, r in rows)
    )
    mem = "max RSS of the process" if device.type == "cpu" else "CUDA allocator peak"
    setup = (
        f"device {describe_device(device)}. VGG19 to conv5_1 (random weights), content conv4_2, style "
        "conv1_1..conv5_1, alpha 1, beta 1e6, lake_house x swirls. ms/iteration = median of steady steps; "
        f"peak memory = {mem}."
    )
    if args.cells_only:
        write_results(args.out, "Engine speed (ms per iteration)", setup, table)
        return
    size = max(args.sizes)
    base = measure({"kind": "baseline", "device": args.device, "size": size, "steps": args.baseline_steps})
    quality = [(f"baseline, {base['steps']} L-BFGS evaluations", base["wall"], base["steps"], "1.00")]
    print(quality[-1], flush=True)
    for optimizer in ("lbfgs", "adam"):
        for precision in precisions:
            cell = measure(
                {
                    "kind": "ours",
                    "device": args.device,
                    "size": size,
                    "optimizer": optimizer,
                    "precision": precision,
                    "steps": 3 * args.baseline_steps,
                    "target": base["loss"],
                    "give_up_s": base["wall"],
                }
            )
            if cell["reached"]:
                wall, steps = cell["reached"]
                quality.append((f"nstcore {optimizer} {precision}", wall, steps, f"{wall / base['wall']:.2f}"))
            else:
                quality.append(
                    (
                        f"nstcore {optimizer} {precision}",
                        float("nan"),
                        cell["steps"],
                        "not reached within the baseline's time",
                    )
                )
            print(quality[-1], flush=True)
    best = precisions[-1]  # what precision=auto picks on this device
    cell = measure(
        {
            "kind": "ours",
            "device": args.device,
            "size": size,
            "optimizer": "lbfgs",
            "precision": best,
            "steps": args.baseline_steps,
            "scales": 2,
            "target": base["loss"],
            "give_up_s": base["wall"],
        }
    )
    label = f"nstcore lbfgs {best}, coarse to fine {size // 2} → {size} px ({args.baseline_steps} steps split evenly)"
    if cell["reached"]:
        wall, steps = cell["reached"]
        quality.append((label, wall, steps, f"{wall / base['wall']:.2f}"))
    else:
        quality.append((label, float("nan"), cell["steps"], "not reached"))
    print(quality[-1], flush=True)
    table += (
        f"\nTime to the baseline's loss ({base['loss']:.4g}, its best in {base['steps']} L-BFGS evaluations at "
        f"{size} px):\n\n| run | wall time (s) | steps | time / baseline's |\n|---|---:|---:|---:|\n"
        + "".join(f"| {name} | {wall:.1f} | {steps} | {r} |\n" for name, wall, steps, r in quality)
    )
    write_results(args.out, "Engine speed", setup, table)


if __name__ == "__main__":
    main()
