"""Before/after figures for each speed change the engine kept (or tried and left out).

    python benchmarks/bench_ablation.py [--size 256] [--device cpu] [--skip-compile] [--skip-history]

1. One Adam step (objective forward, backward to the image, update) with the changes switched on one at a time:
   memory layout NCHW -> channels-last, the Gram matrix's backward autograd's two matmuls -> nstcore's one,
   fp32 -> bf16 autocast, and torch.compile of the objective (its compile time and the step count it needs to pay
   that back). Median of steady steps, all cells in this one process, same network and images.
2. L-BFGS as torch ships it vs the engine's three fixes, added one at a time (tolerances 0, the loss scaled by the
   pixel count, the blow-up guard): the loss after 50/100/150/200 steps (fp32, the engine's run()).
3. L-BFGS history sizes: ms per step and the loss after 50/100/150/200 steps.

Random VGG19 weights (none can be downloaded here), the project's sample images, default layers and weights.
Writes benchmarks/results_ablation.md with the date, machine and device.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import CONTENT, STYLE, sample_objective, write_results  # noqa: E402

import nstcore.engine  # noqa: E402
import nstcore.lanes  # noqa: E402
import nstcore.losses  # noqa: E402
from nstcore import StyleConfig, describe_device, load_network, resolve_device, run  # noqa: E402
from nstcore.features import Network  # noqa: E402
from nstcore.weights import load_features  # noqa: E402


class _AutogradGram:
    """What nstcore.losses did before: ``X^T @ X`` left to autograd (two matmuls in backward)."""

    @staticmethod
    def apply(x: torch.Tensor, scale: float) -> torch.Tensor:
        return torch.matmul(x.transpose(1, 2), x) * scale


@contextlib.contextmanager
def gram_impl(name: str) -> Iterator[None]:
    saved = nstcore.losses._Gram
    if name == "autograd":
        nstcore.losses._Gram = _AutogradGram  # type: ignore[assignment]
    try:
        yield
    finally:
        nstcore.losses._Gram = saved


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def step_cell(
    config: StyleConfig,
    network: Network,
    device: torch.device,
    *,
    channels_last: bool,
    gram: str,
    bf16: bool,
    compile_: bool,
    steps: int,
) -> tuple[float, float]:
    """(median ms per Adam step, seconds of the first step) for one combination."""
    objective, content = sample_objective(config, device, network, channels_last=channels_last)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with autocast:
        objective.set_weights([config.loss_weights()], device)
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=config.effective_lr)

    def loss() -> torch.Tensor:
        with autocast:
            return objective(image)[0]

    step_loss: Callable[[], torch.Tensor] = torch.compile(loss) if compile_ else loss
    times = []
    with gram_impl(gram):
        for _ in range(steps):
            start = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            total = step_loss()
            total.backward()
            optimizer.step()
            total.item()
            _sync(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times[3:]) * 1000, times[0]


@contextlib.contextmanager
def lbfgs_fixes(level: int) -> Iterator[None]:
    """Switch off the engine's L-BFGS fixes above ``level`` (0 = torch's L-BFGS as shipped ... 3 = the engine)."""
    lane = nstcore.lanes.PixelLane
    saved_init, saved_guard = lane.__init__, lane._guard

    def init(self, *args, **kwargs) -> None:
        saved_init(self, *args, **kwargs)
        if self.lbfgs and level < 1:
            for group in self.optimizer.param_groups:
                group.update(tolerance_grad=1e-7, tolerance_change=1e-9)  # torch's defaults
        if level < 2:
            self.loss_scale = 1.0

    lane.__init__ = init  # type: ignore[method-assign]
    if level < 3:
        lane._guard = lambda self, terms, evaluated: terms  # type: ignore[method-assign]
    try:
        yield
    finally:
        lane.__init__, lane._guard = saved_init, saved_guard  # type: ignore[method-assign]


def lbfgs_cell(
    config: StyleConfig, network: Network, device: torch.device, level: int, checkpoints: tuple[int, ...]
) -> tuple[dict[int, float], float]:
    """Loss at each checkpoint and the highest loss after step 20 (the size of the blow-ups)."""
    cfg = config.replace(optimizer="lbfgs", precision="fp32", steps=max(checkpoints), preview_every=0)
    losses, worst = {}, 0.0
    with lbfgs_fixes(level):
        for p in run(cfg, CONTENT, STYLE, device=device, network=network):
            if p.step in checkpoints:
                losses[p.step] = p.loss.total
            if p.step > 20:
                worst = max(worst, p.loss.total)
    return losses, worst


def history_cell(
    config: StyleConfig, network: Network, device: torch.device, history: int, checkpoints: tuple[int, ...]
) -> tuple[float, dict[int, float]]:
    cfg = config.replace(
        optimizer="lbfgs", lbfgs_history=history, precision="fp32", steps=max(checkpoints), preview_every=0
    )
    times, losses, last = [], {}, time.perf_counter()
    for p in run(cfg, CONTENT, STYLE, device=device, network=network):
        now = time.perf_counter()
        times.append(now - last)
        last = now
        if p.step in checkpoints:
            losses[p.step] = p.loss.total
    return statistics.median(times[3:]) * 1000, losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10, help="Steps per step-time cell (first 3 not counted).")
    parser.add_argument("--skip-compile", action="store_true", help="Leave out torch.compile (~30 s on 2 cores).")
    parser.add_argument("--skip-lbfgs", action="store_true", help="Leave out the L-BFGS tables (~8 min).")
    parser.add_argument("--histories", type=int, nargs="+", default=[5, 10, 20, 50])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_ablation.md"))
    args = parser.parse_args()
    device = resolve_device(args.device)
    config = StyleConfig(size=args.size, weights="random")
    nchw = Network("vgg19", "random", device, load_features("vgg19", "random").to(device))
    nhwc = load_network("vgg19", "random", device)  # the engine's network: channels-last where preferred

    cells = [  # (label, channels_last, gram, bf16, compile)
        ("NCHW, autograd Gram, fp32", False, "autograd", False, False),
        ("channels-last, autograd Gram, fp32", True, "autograd", False, False),
        ("channels-last, one-matmul Gram, fp32 (engine, fp32)", True, "ours", False, False),
        ("NCHW, autograd Gram, bf16", False, "autograd", True, False),
        ("channels-last, autograd Gram, bf16", True, "autograd", True, False),
        ("channels-last, one-matmul Gram, bf16 (engine, auto)", True, "ours", True, False),
    ]
    if not args.skip_compile:
        # A fresh compile cache, so the first step shows the cold compile a new server process pays.
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="nst-inductor-")
        cells.append(("... + torch.compile of the objective, bf16", True, "ours", True, True))
    rows = []
    reference = None
    for label, channels_last, gram, bf16, compile_ in cells:
        network = nhwc if channels_last else nchw
        ms, first = step_cell(
            config,
            network,
            device,
            channels_last=channels_last,
            gram=gram,
            bf16=bf16,
            compile_=compile_,
            steps=args.steps,
        )
        reference = reference or ms
        rows.append((label, ms, first))
        print(f"{label}: {ms:.0f} ms/step, first step {first:.1f} s", flush=True)
    engine_ms = rows[5][1]
    table = (
        f"## One Adam step at {args.size} px\n\n| change | ms / step | vs first row | first step (s) |\n"
        "|---|---:|---:|---:|\n"
        + "".join(f"| {label} | {ms:.0f} | {reference / ms:.2f}x | {first:.1f} |\n" for label, ms, first in rows)
    )
    if not args.skip_compile:
        label, ms, first = rows[-1]
        saved = engine_ms - ms
        pays = f"after ~{(first - engine_ms / 1000) / (saved / 1000):.0f} steps" if saved > 0 else "never"
        table += (
            f"\ntorch.compile: {first:.1f} s for the first (compiling) step, {saved:.0f} ms saved per step "
            f"after it: it pays back {pays}.\n"
        )
    checkpoints = (50, 100, 150, 200)
    if not args.skip_lbfgs:
        table += (
            f"\n## L-BFGS fixes ({args.size} px, fp32, run(), one objective evaluation per step)\n\n"
            "| L-BFGS | " + " | ".join(f"loss @ {c}" for c in checkpoints) + " | worst loss after step 20 |\n"
            "|---|" + "---:|" * (len(checkpoints) + 1) + "\n"
        )
        for level, label in enumerate(
            [
                "torch's defaults (tolerances 1e-7 / 1e-9)",
                "+ tolerances 0",
                "+ loss x pixel count",
                "+ blow-up guard (engine)",
            ]
        ):
            losses, worst = lbfgs_cell(config, nhwc, device, level, checkpoints)
            line = f"| {label} | " + " | ".join(f"{losses[c]:.4g}" for c in checkpoints) + f" | {worst:.3g} |\n"
            print(line.strip(), flush=True)
            table += line
        table += (
            f"\n## L-BFGS history ({args.size} px, fp32, run() with one objective evaluation per step)\n\n"
            "| history | ms / step | " + " | ".join(f"loss @ {c}" for c in checkpoints) + " |\n"
            "|---:|---:|" + "---:|" * len(checkpoints) + "\n"
        )
        for history in args.histories:
            ms, losses = history_cell(config, nhwc, device, history, checkpoints)
            line = f"| {history} | {ms:.0f} | " + " | ".join(f"{losses[c]:.4g}" for c in checkpoints) + " |\n"
            print(line.strip(), flush=True)
            table += line
    write_results(
        args.out,
        "Speed changes, before and after",
        f"device {describe_device(device)}, torch {torch.__version__}. VGG19 to conv5_1 (random weights), "
        "content conv4_2, style conv1_1..conv5_1, alpha 1, beta 1e6, lake_house x swirls. Reproduce: "
        "`python benchmarks/bench_ablation.py`.",
        table,
    )


if __name__ == "__main__":
    main()
