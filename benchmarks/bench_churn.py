"""A batch member that stops, restarts or fails: what it costs the jobs that share its passes (issue 39).

    python benchmarks/bench_churn.py [--steps 40] [--cycles 5] [--root . --root ../old-checkout]

Two steady jobs (40 L-BFGS steps at 128x96 px, one scale, fp32, random weights) step together in one
:class:`nstcore.Batch` (as ``--batch-jobs`` 4 does on a server); a third member, same shape, with its style image at
``style_scale`` 4 (the most setup a job has: its style targets at 4x the picture's size), either steps all along
(what sharing the passes costs), or starts, steps 3 times and then, ``--cycles`` times over, **stops** (its stop
flag, as the page's Stop sets it) or **fails** (its objective raises in the shared pass, as a broken element would),
and starts again. Measured: the steady jobs' time to their end, alone and beside the third member, and how long the
rounds waited for a member that was not there (a round that forms when its last request arrives waited for nobody;
one that forms later waited its window for an absent member), in seconds and in passes. On a CPU the third member's
own computing (its share of each pass, its setup) shares the two cores, so most of "slower by" is its work, the
same whether it churns or not; the wait is what the batch adds.

Each case runs in its own process with ``--root``'s nstcore (default: this checkout; pass an older checkout to put
the code before a change in the same table). Writes its section of benchmarks/results_batch.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]

WHAT = {
    "throughout": "steps all along",
    "stops": "stops after 3 steps and starts again, {n} times",
    "fails": "fails at its 3rd step and starts again, {n} times",
}
BROKEN_TV = 0.125  # the churning member steers to this TV weight to make its objective raise (the "fails" case)


def _child(case: str, steps: int, cycles: int) -> dict:
    """One case in this process (nstcore from PYTHONPATH): the steady jobs' seconds and how long rounds waited."""
    with _instrumented() as waits:
        seconds, batch = _steady_beside(case, steps, cycles)
    passes = sorted(waits["passes"])
    return {
        "seconds": seconds,
        "waited_s": waits["waited"],
        "median_pass_s": passes[len(passes) // 2],
        "most_shared": batch.most_shared,
    }


def _steady_beside(case: str, steps: int, cycles: int):
    """The two steady jobs, and the third member as ``case`` says: (the steady jobs' seconds, the batch)."""
    import numpy as np

    import nstcore

    network = nstcore.load_network("vgg19", "random", "cpu")
    rng = np.random.default_rng(0)
    content = rng.integers(0, 255, (96, 128, 3), dtype=np.uint8)
    style = rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)
    base = nstcore.StyleConfig(size=128, steps=steps, weights="random", preview_every=0, precision="fp32", scales=1)
    batch = nstcore.Batch()
    steady_done = threading.Event()

    def member(config, stop: threading.Event | None = None, leave_after: int | None = None, break_at=None) -> None:
        controls = nstcore.Controls(config.loss_weights(), lr=config.effective_lr)
        with batch.joined(), nstcore.stop_when(lambda: stop is not None and stop.is_set()):
            run = nstcore.run(config, content, style, network=network, controls=controls)
            try:
                for progress in run:
                    if progress.step == break_at:
                        controls.update(tv=BROKEN_TV)
                    if progress.step == leave_after and stop is not None:
                        stop.set()
            except (nstcore.Stopped, RuntimeError):
                pass
            finally:
                run.close()

    def churn() -> None:
        churner = base.replace(style_scale=4.0, steps=1000, seed=7)
        if case == "throughout":  # the same member stepping all along: what sharing the passes alone costs
            member(churner, stop=steady_done)
            return
        for _ in range(cycles):
            if steady_done.is_set():
                return
            if case == "stops":
                member(churner, stop=threading.Event(), leave_after=3)
            else:
                member(churner, break_at=3)

    steady = [threading.Thread(target=member, args=(base.replace(seed=s, beta=b),)) for s, b in ((1, 1e6), (2, 1e5))]
    extra = [threading.Thread(target=churn)] if case != "alone" else []
    started = time.perf_counter()
    for thread in steady + extra:
        thread.start()
    for thread in steady:
        thread.join()
    seconds = time.perf_counter() - started
    steady_done.set()
    for thread in extra:
        thread.join()
    return seconds, batch


@contextlib.contextmanager
def _instrumented() -> Iterator[dict]:
    """Within this block: an objective whose TV weight is BROKEN_TV raises (the "fails" case), and rounds are timed.

    For the code being measured (old or new): a round that forms when its last request arrives waited for nobody;
    one that forms later waited (its window) for a member that was not there. Each request is stamped when made, each
    round when its pass starts and ends."""
    from nstcore import batching
    from nstcore.objective import Objective

    waits: dict = {"waited": 0.0, "passes": []}
    evaluate, made, run = Objective.evaluate, batching._Request.__init__, batching.Batch._run

    def breaking(self, image, responses=None):
        if self.weights is not None and float(self.weights[0, -1]) == BROKEN_TV:
            raise RuntimeError("this member's objective broke")
        return evaluate(self, image, responses)

    def stamped(self, *args, **kwargs) -> None:
        made(self, *args, **kwargs)
        self.made_at = time.monotonic()

    def timed(self, round_) -> None:
        started = time.monotonic()
        waits["waited"] += max(0.0, started - max(request.made_at for request in round_))
        run(self, round_)
        waits["passes"].append(time.monotonic() - started)

    with (
        mock.patch.object(Objective, "evaluate", breaking),
        mock.patch.object(batching._Request, "__init__", stamped),
        mock.patch.object(batching.Batch, "_run", timed),
    ):
        yield waits


def _label(root: Path) -> str:
    out = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "nstcore"], capture_output=True, text=True)
    return out.stdout.strip() + (" + changes" if dirty.stdout.strip() else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--root", action="append", default=None, help="Checkouts whose nstcore to measure.")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_batch.md"))
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(args.child, args.steps, args.cycles)))
        return
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from common import write_section

    rows = ""
    for root in [Path(r).resolve() for r in (args.root or [str(ROOT)])]:
        figures = {}
        for case in ("alone", "throughout", "stops", "fails"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", case, "--steps", str(args.steps), "--cycles", str(args.cycles)],
                env={**os.environ, "PYTHONPATH": str(root)},
                capture_output=True,
                text=True,
                check=True,
            )
            figures[case] = json.loads(out.stdout.strip().splitlines()[-1])
            print(_label(root), case, figures[case], flush=True)
        quiet = figures["alone"]["seconds"]
        for case in ("throughout", "stops", "fails"):
            r = figures[case]
            lost = r["waited_s"] / r["median_pass_s"]
            rows += (
                f"| {_label(root)} | {WHAT[case].format(n=args.cycles)} | {quiet:.1f} | {r['seconds']:.1f} | "
                f"{r['seconds'] / quiet - 1:+.0%} | {r['most_shared']} | {r['waited_s']:.2f} | {lost:.1f} | "
                f"{lost / (2 * args.cycles):.2f} |\n"
            )
    table = (
        "| nstcore | the third member | steady jobs alone (s) | beside it (s) | slower by | most jobs in a pass | "
        "rounds waited for an absent member (s) | in passes | per leave or join |\n"
        "|---|---|---:|---:|---:|---:|---:|---:|---:|\n" + rows
    )
    write_section(
        args.out,
        "A member that stops, restarts or fails",
        f"`python benchmarks/bench_churn.py`: two steady jobs ({args.steps} L-BFGS steps at 128x96 px, fp32, random "
        "weights) in one Batch; a third member with its style at 4x scale steps all along, or steps 3 times, then "
        f"stops or fails, and starts again, {args.cycles} times. 'Rounds waited for an absent member': the time "
        "rounds waited past their last request, in seconds and in median passes; per leave or join: that over "
        f"the {2 * args.cycles} times the member left or joined. On a CPU the third member's own computing shares the "
        "cores, so most of 'slower by' is its work, as the 'steps all along' row shows.",
        table,
    )


if __name__ == "__main__":
    main()
