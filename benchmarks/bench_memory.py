"""Memory per kind of job, measured, against the admission gate's estimate of it (issue 39).

    python benchmarks/bench_memory.py [--sizes 256 512] [--kinds lbfgs adam ...] [--device cuda]

Each kind runs in a process of its own: the network (random weights) and the inputs are loaded first, then a thread
samples the process's RSS every 2 ms while the job runs; the figure is the peak over the RSS just before it (what the
job adds). Kinds: ``lbfgs`` and ``adam`` (a pixel run), ``bigger`` (a 20-step continuation from a picture),
``compare_lbfgs`` and ``compare_adam`` (four α/β variants), ``training`` (HRNet on two photos), ``apply`` (an instant
style: one generator pass) and ``timelapse`` (a GIF of the 240 JPEG frames a page keeps, decoded by the job as the
page does). The gate's estimates (``demo_app/jobs/memory.py``) must hold each: measured peak <= estimate <= 2 x
measured peak (tests/test_memory.py checks it at 192 px). Writes benchmarks/results_memory.md.

``--device cuda``: the same kinds (but the time-lapse, which is CPU work anywhere) on a GPU, peak allocated device
memory over what was allocated before (torch's own count: all kinds in one process); ``gpu_check.py`` runs it.
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = ("lbfgs", "adam", "bigger", "compare_lbfgs", "compare_adam", "training", "apply", "timelapse")
DEVICE_KINDS = KINDS[:-1]  # a time-lapse is made on the CPU wherever the jobs run
HISTORY = 20  # L-BFGS pairs (StyleConfig's default); its runs take HISTORY + 5 steps, so the history is full
ADAM_STEPS = 4


class PeakDevice:
    """A GPU's peak allocated memory while inside the ``with`` block, over what was allocated at the start (torch's
    own count of live tensors: the caching allocator's reserve is not in it, so kinds measure in one process)."""

    def __init__(self, device) -> None:
        self.device = device

    def __enter__(self) -> PeakDevice:
        import torch

        gc.collect()
        torch.cuda.synchronize(self.device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(self.device)
        self.start = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.cuda.synchronize(self.device)
        self.peak = torch.cuda.max_memory_allocated(self.device)

    @property
    def growth(self) -> int:
        return self.peak - self.start


class PeakRSS:
    """The process's peak RSS while inside the ``with`` block, sampled every 2 ms, over its RSS at the start."""

    def __enter__(self) -> PeakRSS:
        import psutil

        gc.collect()
        self._process = psutil.Process()
        self.start = self.peak = self._process.memory_info().rss
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.002):
            self.peak = max(self.peak, self._process.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self.peak = max(self.peak, self._process.memory_info().rss)
        self._done.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def _job(kind: str, size: int, history: int = HISTORY, device: str = "cpu"):
    """``(work, estimate)`` for ``kind`` at ``size`` px on ``device``: the work to measure and the gate's estimate."""
    import numpy as np

    import nstcore
    from demo_app.jobs import memory
    from demo_app.session.imaging import encode_jpeg, timelapse_from_jpegs
    from demo_app.session.samples import sample_path
    from nstcore import generator
    from nstcore.hrnet import HRNet
    from nstcore.timelapse import MAX_FRAMES

    network = nstcore.load_network("vgg19", "random", device)
    content = nstcore.load_image(sample_path("content", "lake_house.png"))
    style = nstcore.load_image(sample_path("style", "swirls.png"))
    optimizer = "adam" if kind.endswith("adam") else "lbfgs"
    steps = ADAM_STEPS if optimizer == "adam" else history + 5
    config = nstcore.StyleConfig(
        size=size, steps=steps, optimizer=optimizer, lbfgs_history=history, weights="random", preview_every=0
    )
    request = nstcore.RunRequest(config, content, (style,))
    if kind.startswith("compare"):
        _, variants = nstcore.expand_preset("ratio", config)
        request = request.replace(variants=tuple(variants))
    elif kind == "bigger":
        start = nstcore.resize_long_side(content, size // 2)
        request = request.replace(config=nstcore.bigger_config(config, size).replace(steps=steps), start=start)
    elif kind == "training":
        config = config.replace(generator="hrnet", steps=2)
        request = nstcore.RunRequest(config, content, (style,), photos=(content, style))
    if kind == "apply":
        model = HRNet().eval().to(device)
        return (lambda: generator.stylise(model, content, size)), memory.apply_estimate(content.size, size)
    if kind == "timelapse":  # as the page makes it: its kept preview frames are JPEGs, decoded by the job
        width, height = nstcore.target_size(*content.size, size)
        picture = np.asarray(content.resize((width, height)))
        jpegs = [encode_jpeg(np.roll(picture, i, axis=1)) for i in range(MAX_FRAMES)]
        estimate = memory.timelapse_estimate(len(jpegs), width, height)
        return (lambda: timelapse_from_jpegs(jpegs, "gif")), estimate

    def work() -> None:
        for _ in request.snapshots(device=device, network=network):
            pass

    return work, memory.memory_estimate(request, "cpu" if device == "cpu" else device.split(":")[0])


def measure(kind: str, size: int, history: int = HISTORY, device: str = "cpu") -> dict:
    """In this process: ``kind`` at ``size`` px, its peak memory growth (RSS on the CPU, allocated memory on a GPU)
    and the gate's estimate (bytes)."""
    work, estimate = _job(kind, size, history, device)
    started = time.perf_counter()
    with PeakRSS() if device == "cpu" else PeakDevice(device) as meter:
        work()
    return {"kind": kind, "size": size, "peak": meter.growth, "estimate": estimate, "s": time.perf_counter() - started}


def table_row(r: dict) -> str:
    """One measurement as a row of the results table: kind, size, peak and estimate (MiB), estimate / peak."""
    mib = 2**20
    ratio = r["estimate"] / max(r["peak"], 1)
    return f"| {r['kind']} | {r['size']} | {r['peak'] / mib:.0f} | {r['estimate'] / mib:.0f} | {ratio:.2f} |"


def measure_apart(kind: str, size: int, history: int = HISTORY) -> dict:
    """:func:`measure` in a fresh process (nothing another kind allocated stays in the figure)."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, "--sizes", str(size), "--history", str(history)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    from common import write_results

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--child", choices=KINDS)
    parser.add_argument(
        "--device", default="cpu", help="cpu (peak RSS, each kind in a process) or cuda (peak allocated, in one)."
    )
    parser.add_argument("--history", type=int, default=HISTORY)
    parser.add_argument("--out", default=None, help="Default: results_memory.md (cpu), results_memory_gpu.md.")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.sizes[0], args.history)))
        return
    rows = [
        "| kind | size (px) | measured peak (MiB) | gate's estimate (MiB) | estimate ÷ peak |",
        "|---|---|---|---|---|",
    ]
    kinds = args.kinds if args.device == "cpu" else [kind for kind in args.kinds if kind in DEVICE_KINDS]
    for kind in kinds:
        for size in args.sizes:
            r = (
                measure_apart(kind, size, args.history)
                if args.device == "cpu"
                else measure(kind, size, device=args.device)
            )
            rows.append(table_row(r))
            print(rows[-1], flush=True)
    write_results(
        args.out or ROOT / "benchmarks" / ("results_memory.md" if args.device == "cpu" else "results_memory_gpu.md"),
        "Memory per kind of job against the gate's estimate (bench_memory.py)",
        ("peak RSS growth in a process of its own" if args.device == "cpu" else "peak allocated device memory")
        + f", L-BFGS {args.history + 5} steps (history {args.history}, full), Adam {ADAM_STEPS}, training 2, random "
        f"weights, the sample images (lake_house 4:3), {args.device}; the rule: peak <= estimate <= 2 x peak",
        "\n".join(rows) + "\n",
    )


if __name__ == "__main__":
    main()
