"""The GPU check: one command, no arguments, about four minutes on one GPU.

    python benchmarks/gpu_check.py              # on a machine with a GPU: writes benchmarks/results_gpu.md
    python benchmarks/gpu_check.py --dry-run    # anywhere: the same code paths on the CPU at tiny sizes

(a) runs the tests marked ``gpu`` (tests/test_gpu.py: the engine on the device in fp32 and bf16, channels-last,
against the CPU; batched jobs each with their own result; out of memory ends a job with a sentence; memory released
after a job); (b) measures ms per step at 256 and 512 px in fp32 and bf16, with N = 1, 4 and 8 jobs stepping together
(nstcore.batching); (c) runs a room on the server's own backend and scheduler (``--batch-jobs 8``): sessions submit
their jobs as pages do, in waves of 1, 4, 8 and 16, with the jobs/minute of each wave and, while the 16 run, the
echo of a steered weight (from the change to the first step that used it). A GPU box has no browser (nothing but
torch is installed there), so the room's pages are the sessions' jobs; ``benchmarks/bench_load.py --room`` is the
same room with real pages on a CPU. (e) measures each kind of job's peak allocated device memory against the
admission gate's estimate (``bench_memory.py --device``; the rule: peak <= estimate <= 2 x peak). (d) writes
benchmarks/results_gpu.md with the device's name and every figure.
``--dry-run`` (CI runs it through tests/test_benchmarks.py) does all of it on the CPU at 32 px with two sessions and
writes its table to a temporary file unless ``--out`` says where.

Every phase has its own time limit, so the whole check ends within ``--budget`` seconds (240) even when one hangs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

from common import write_results  # noqa: E402

# What each kind of run measures: the real check on a GPU, and the dry run on the CPU at tiny sizes.
PLANS = {
    "gpu": {
        "device": "cuda",
        "test_size": "64",
        "sizes": (256, 512),
        "counts": (1, 4, 8),
        "steps": 10,
        "warmup": 3,
        "waves": (1, 4, 8, 16),
        "room_size": 256,
        "room_steps": 100,
        "batch_jobs": 8,
        "precisions": ("fp32", "bf16"),
        "memory_sizes": (256, 512),
    },
    "dry": {
        "device": "cpu",
        "test_size": "32",
        "sizes": (32,),
        "counts": (1, 2),
        "steps": 3,
        "warmup": 1,
        "waves": (1, 2),
        "room_size": 32,
        "room_steps": 8,
        "batch_jobs": 2,
        "precisions": ("fp32",),  # bf16 on the CPU: tests/test_gpu.py runs it; its speed here means nothing
        "memory_sizes": (32,),
    },
}


def gpu_tests(plan: dict, limit: float) -> str:
    """(a) pytest -m gpu on the plan's device; its summary line."""
    env = {**os.environ, "NST_TEST_DEVICE": plan["device"], "NST_TEST_SIZE": plan["test_size"]}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "gpu", "tests/test_gpu.py"]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return f"did not finish within {limit:.0f} s"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    if done.returncode != 0:
        print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", file=sys.stderr)
    return (lines[-1] if lines else done.stderr.strip()[-200:]).strip("= ")


def ms_per_step(network, size: int, precision: str, jobs: int, steps: int, warmup: int) -> float:
    """(b) ``jobs`` runs of the same shape stepping together; ms per step of each (the median over the jobs)."""
    from conftest import make_image

    import nstcore

    config = nstcore.every_layer(
        nstcore.StyleConfig(size=size, steps=warmup + steps, weights="random", precision=precision, preview_every=0)
    )
    content, style = make_image(size, size * 3 // 4, 1), make_image(size, size, 2)
    batch = nstcore.Batch(window=1.0)
    times: list[float] = []

    def one(seed: int) -> None:
        clock: dict[int, float] = {}
        try:
            with batch.joined():
                for progress in nstcore.run(config.replace(seed=seed), content, style, network=network):
                    clock[progress.step] = time.perf_counter()  # its losses reached the host: the step is over
        except Exception as exc:  # noqa: BLE001 - a cell that fails (out of memory, say) is reported, not fatal
            print(f"gpu_check: {jobs} x {size} px {precision}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return
        times.append((clock[warmup + steps] - clock[warmup]) / steps)

    threads = [threading.Thread(target=one, args=(seed,)) for seed in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return 1000 * statistics.median(times) if len(times) == jobs else float("nan")


def speed(plan: dict, limit: float) -> list[str]:
    import nstcore

    network = nstcore.load_network("vgg19", "random", plan["device"])
    rows, deadline = [], time.monotonic() + limit
    for precision in plan["precisions"]:
        for size in plan["sizes"]:
            single = None
            for jobs in plan["counts"]:
                if time.monotonic() > deadline:
                    rows.append(f"| {size} px | {precision} | {jobs} | not measured: out of time | | |\n")
                    continue
                ms = ms_per_step(network, size, precision, jobs, plan["steps"], plan["warmup"])
                single = ms if jobs == 1 else single
                gain = f"{jobs * single / ms:.2f}x" if single else ""
                rows.append(f"| {size} px | {precision} | {jobs} | {ms:.1f} | {1000 * jobs / ms:.1f} | {gain} |\n")
                print(rows[-1], end="", flush=True)
    return rows


def memory(plan: dict, limit: float) -> list[str]:
    """(e) each kind of job's peak device memory against the gate's estimate (bench_memory.py; issue 39)."""
    import bench_memory

    rows, deadline = [], time.monotonic() + limit
    for size in plan["memory_sizes"]:
        for kind in bench_memory.DEVICE_KINDS:
            if time.monotonic() > deadline:
                rows.append(f"| {kind} | {size} | not measured: out of time | | |\n")
                continue
            rows.append(bench_memory.table_row(bench_memory.measure(kind, size, device=plan["device"])) + "\n")
            print(rows[-1], end="", flush=True)
    return rows


def scheduler_room(plan: dict, limit: float) -> list[str]:
    """(c) sessions submit their jobs through the server's scheduler, as pages do (no browser: see the module); the
    echo is the time from a steered weight to the first step that used it."""
    from conftest import make_image

    import nstcore
    from demo_app.jobs.backend import Backend
    from demo_app.jobs.job import Job

    backend = Backend(weights="random", device_name=plan["device"], batch_jobs=plan["batch_jobs"])
    size, steps = plan["room_size"], plan["room_steps"]
    config = nstcore.every_layer(nstcore.StyleConfig(size=size, steps=steps, weights="random", scales=1))
    request = nstcore.RunRequest(config, make_image(size, size * 3 // 4, 1), (make_image(size, size, 2),))
    rows, deadline = [], time.monotonic() + limit
    for wave in plan["waves"]:
        if time.monotonic() > deadline:
            rows.append(f"| sessions | {wave} | not measured: out of time | | |\n")
            continue
        controls = [nstcore.Controls(config.loss_weights(), lr=config.effective_lr) for _ in range(wave)]
        key = backend.batch_key(request)
        jobs = [
            Job(f"s{i}", backend.runner(request, c), steps=steps, pixels=size * size, batch_key=key)
            for i, c in enumerate(controls)
        ]
        started = time.perf_counter()
        for job in jobs:
            backend.scheduler.submit(job)
        echoes = []
        while not all(job.ended for job in jobs) and time.monotonic() < deadline:
            job, steer = jobs[0], controls[0]
            if wave == max(plan["waves"]) and job.state == "running" and job.latest is not None:
                t0 = time.perf_counter()
                version = steer.update(alpha=1.0 + 0.1 * (len(echoes) % 2))
                while not job.ended and (job.latest is None or job.latest.controls_version < version):
                    time.sleep(0.001)
                if not job.ended:
                    echoes.append(time.perf_counter() - t0)
            time.sleep(0.02)
        took = time.perf_counter() - started
        rows.append(_room_row("sessions", wave, took, echoes, max(job.most_shared for job in jobs)))
        print(rows[-1], end="", flush=True)
    backend.scheduler.shutdown()
    return rows


def _room_row(kind: str, wave: int, took: float, echoes: list[float], shared: int) -> str:
    echo = f"{1000 * statistics.median(echoes):.0f} / {1000 * max(echoes):.0f}" if echoes else ""
    return f"| {kind} | {wave} | {took:.1f} | {60 * wave / took:.1f} | {shared} | {echo} |\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="The same code paths on the CPU at tiny sizes.")
    parser.add_argument("--out", default=None, help="Results file (default: benchmarks/results_gpu.md).")
    parser.add_argument("--budget", type=float, default=240.0, help="Seconds the whole check may take.")
    args = parser.parse_args(argv)
    import torch

    if not args.dry_run and not torch.cuda.is_available():
        print("gpu_check: torch sees no GPU here; run it on the GPU machine, or with --dry-run.", file=sys.stderr)
        return 2
    plan = PLANS["dry" if args.dry_run else "gpu"]
    out = args.out or str(
        Path(tempfile.mkdtemp()) / "results_gpu_dry.md" if args.dry_run else ROOT / "benchmarks" / "results_gpu.md"
    )
    start = time.monotonic()

    def left(share: float) -> float:  # this phase's limit: a share of the budget, never past its end
        return max(5.0, min(share * args.budget, args.budget - (time.monotonic() - start) - 5.0))

    import nstcore

    device = nstcore.describe_device(nstcore.resolve_device(plan["device"]))
    tests = gpu_tests(plan, left(0.3))
    print(f"gpu_check: tests: {tests} ({time.monotonic() - start:.0f} s)", flush=True)
    speed_rows = speed(plan, left(0.3))
    print(f"gpu_check: speed measured ({time.monotonic() - start:.0f} s)", flush=True)
    memory_rows = memory(plan, left(0.15))
    print(f"gpu_check: memory measured ({time.monotonic() - start:.0f} s)", flush=True)
    rooms = scheduler_room(plan, left(0.5))
    took = time.monotonic() - start
    table = (
        f"Tests marked gpu: **{tests}**\n\n"
        "| size | precision | jobs stepping together | ms per step | job-steps per second | against one job |\n"
        "|---:|---|---:|---:|---:|---:|\n" + "".join(speed_rows) + "\n"
        "| room of | at once | all done after (s) | jobs per minute | most jobs per pass | echo median / max (ms) |\n"
        "|---|---:|---:|---:|---:|---|\n" + "".join(rooms) + "\n"
        "| kind of job | size (px) | peak allocated (MiB) | gate's estimate (MiB) | estimate ÷ peak |\n"
        "|---|---:|---:|---:|---:|\n" + "".join(memory_rows) + f"\nThe whole check took {took:.0f} s.\n"
    )
    write_results(
        out,
        "GPU check" + (" (dry run on the CPU)" if args.dry_run else ""),
        f"device {device}; random VGG19 weights, L-BFGS, every conv layer listed (as the page runs), fp32 or bf16 "
        f"as named; speed: {plan['warmup']} warm-up steps then {plan['steps']} timed, jobs of one shape stepping "
        f"together (nstcore.batching); room: {plan['room_size']} px, {plan['room_steps']} steps per job, "
        f"--batch-jobs {plan['batch_jobs']}, waves of {', '.join(map(str, plan['waves']))}. "
        "Written by `python benchmarks/gpu_check.py`" + (" --dry-run" if args.dry_run else ""),
        table,
    )
    print(f"gpu_check: wrote {out} in {took:.0f} s", flush=True)
    passed = " passed" in f" {tests}" and "failed" not in tests and "error" not in tests
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
