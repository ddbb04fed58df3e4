"""Preview streaming: frames per second and bytes per frame the page receives, and what streaming costs the run.

    python benchmarks/bench_preview.py [--size 256] [--seconds 20] [--device cpu]

Drives a dashboard SessionState exactly as the page's periodic callback does (poll every FRAME_PERIOD_MS, ask the
engine for a frame, JPEG-encode the latest one) without a browser, and compares the engine's steps/s with a run that
yields no images at all. Writes benchmarks/results_preview.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from common import write_results  # noqa: E402

from demo_app.jobs.backend import Backend  # noqa: E402
from demo_app.session.imaging import encode_jpeg  # noqa: E402
from demo_app.session.limits import Limits  # noqa: E402
from demo_app.session.state import SessionState  # noqa: E402
from demo_app.views.dashboard import FRAME_PERIOD_MS  # noqa: E402


def measure(state: SessionState, seconds: float, stream: bool) -> dict[str, float]:
    state.param.update(steps=100_000, preview_every=0)
    assert state.start(), state.error
    frames, sizes = 0, []
    first_step_at = None
    start_step = 0
    t_end = None
    deadline = time.perf_counter() + seconds + 60
    while time.perf_counter() < deadline:
        time.sleep(FRAME_PERIOD_MS / 1000)
        handover = state.poll()
        if handover.latest is not None and first_step_at is None and handover.latest.step >= 3:
            first_step_at, start_step = time.perf_counter(), handover.latest.step  # skip warm-up steps
        if stream and handover.frames is not None and first_step_at is not None:
            sizes.append(len(encode_jpeg(handover.frames[0])))
            frames += 1
        if stream:
            state.request_frame()
        if first_step_at is not None and time.perf_counter() - first_step_at >= seconds:
            t_end = time.perf_counter()
            break
    steps = state.step - start_step
    state.stop()
    while state.has_job:
        state.poll()
        time.sleep(0.05)
    elapsed = (t_end or time.perf_counter()) - first_step_at
    return {"steps_per_s": steps / elapsed, "fps": frames / elapsed, "bytes": statistics.mean(sizes) if sizes else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_preview.md"))
    args = parser.parse_args()
    backend = Backend(weights="random", device_name=args.device)
    state = SessionState(backend, Limits(max_steps=100_000))
    table = (
        "| size | engine steps/s, no preview | engine steps/s, streaming | streaming cost | frames/s to page "
        "| bytes/frame (JPEG q85) |\n|---:|---:|---:|---:|---:|---:|\n"
    )
    for size in args.sizes:
        state.size = size
        quiet = measure(state, args.seconds, stream=False)
        live = measure(state, args.seconds, stream=True)
        cost = 100 * (1 - live["steps_per_s"] / quiet["steps_per_s"])
        table += (
            f"| {size} px | {quiet['steps_per_s']:.2f} | {live['steps_per_s']:.2f} | {cost:+.1f} % | "
            f"{live['fps']:.2f} | {live['bytes'] / 1024:.1f} KiB |\n"
        )
        print(table.splitlines()[-1], flush=True)
    write_results(
        args.out,
        "Preview streaming",
        f"device {backend.device_label}, {args.seconds:.0f} s each, lake_house x swirls (sample images), "
        f"page clock {FRAME_PERIOD_MS} ms. The page gets at most one frame per engine step and per clock "
        f"tick, so frames/s = min(steps/s, {1000 / FRAME_PERIOD_MS:.0f}).",
        table,
    )


if __name__ == "__main__":
    main()
