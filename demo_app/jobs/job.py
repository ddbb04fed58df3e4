"""One submitted job: what it hands its session (:class:`Handover`), how it runs on a scheduler thread and ends exactly
once (:class:`Job`), and the sentence a failed one gets (:func:`describe_failure`). The queue, the threads and the
watchdog are :mod:`.scheduler`'s."""

from __future__ import annotations

import contextlib
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import nstcore

from ..session.visitor import NOBODY, Visitor

log = logging.getLogger("demo_app")
_ids = itertools.count(1)


class SchedulerError(Exception):
    """A job was refused (queue full, one job per session ...); the message is for people."""


@dataclass
class Handover:
    """What a job produced since its session last called :meth:`Job.take`."""

    rows: list[tuple[int, tuple[nstcore.Losses, ...]]] = field(default_factory=list)
    frames: tuple[np.ndarray, ...] | None = None
    frames_step: int = 0  # the step the frames show
    latest: nstcore.Progress | None = None
    notes: tuple[str, ...] = ()
    # First step seen for each Controls version (Progress.controls_version): where a steered change took effect.
    version_steps: dict[int, int] = field(default_factory=dict)
    # A generator run's weights as of its latest picture (Progress.trained), kept when the run is stopped.
    trained: tuple[dict[str, Any], ...] | None = None
    finished: bool = False
    error: str | None = None
    reason: str | None = None  # why a job that was not stopped by its page ended early (a time cap)


def runs(count: int) -> str:
    """'1 run', '3 runs'."""
    return f"{count} run{'' if count == 1 else 's'}"


def describe_failure(exc: BaseException) -> str:
    """One sentence for a failed run, for the page: no traceback, no raw exception text, no server path (the
    details go to the server log)."""
    if isinstance(exc, nstcore.WeightsError):  # its message names the weights file on the server
        return "The server could not load the network weights for this model; choose the other model or ask the host."
    if isinstance(exc, nstcore.NSTError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return "The run ran out of memory on the server; try a smaller size or fewer variants."
    return "The run failed on the server; the settings are kept, so try again (the host can see why in the log)."


class Job:
    """One submitted run. ``start_run`` is called in a scheduler thread and returns nstcore's snapshot iterator.

    A job ends exactly once (:meth:`finish`): by its own thread (done, failed, stopped) or by the scheduler
    (cancelled, or failed by the watchdog while its thread is stuck). Whatever its thread does after that is
    ignored, so a page never sees steps from a job that has ended.
    """

    def __init__(
        self,
        session_id: str,
        start_run: Callable[[], Iterator[nstcore.Progress]],
        *,
        steps: int,
        pixels: int,
        label: str = "run",
        visitor: Visitor = NOBODY,
        time_cap: float | None = None,
        memory: int = 0,
        plan: Sequence[tuple[int, int]] | None = None,
        batch_key: Hashable | None = None,
    ) -> None:
        self.id = next(_ids)
        self.session_id = session_id
        self.visitor = visitor  # whose it is, for the per-visitor and per-address caps
        self.label = label
        self.steps = steps
        self.pixels = pixels  # output pixels x variants: what a step costs, for queue ETAs
        # (pixels, steps) per coarse-to-fine scale, coarsest first: a step at 64 px costs about a sixteenth of one at
        # 256 px, so queue ETAs count the work left in pixel-steps, never in steps.
        self.plan: tuple[tuple[int, int], ...] = tuple(plan) if plan else ((pixels, steps),)
        # The run's clock (Progress.elapsed) at the first and the last step of each scale (demo_app.jobs.eta).
        self.marks: dict[int, float] = {}
        self._bounds: set[int] = set()
        first = 1
        for _, scale_steps in self.plan:
            self._bounds.update((first, first + scale_steps - 1))
            first += scale_steps
        self.state = "new"  # new -> queued -> running -> done | failed | cancelled
        self.submitted_at = self.started_at = self.finished_at = 0.0
        self.last_progress_at = 0.0  # when it started or last yielded a snapshot (the watchdog's clock)
        self.cancel_requested_at: float | None = None
        self.time_cap = time_cap  # seconds it may run; then the watchdog stops it (see Scheduler)
        self.memory = memory  # bytes it needs on the device, estimated (demo_app.jobs.memory.memory_estimate)
        # Jobs with equal keys may step together in one pass (nstcore.batching; see Scheduler's batch_jobs); None:
        # this one never shares (a training, a job on a Dask cluster).
        self.batch_key = batch_key
        self.most_shared = 1  # the most jobs one of its steps shared a pass with (itself included), for records
        self.stop_reason: str | None = None  # a sentence for the page when something else than its Stop ended it
        self._start_run = start_run
        self._lock = threading.Lock()
        self._pending = Handover()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.latest: nstcore.Progress | None = None

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    def take(self) -> Handover:
        with self._lock:
            out, self._pending = self._pending, Handover()
            return out

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def queued(self) -> None:
        self.state, self.submitted_at = "queued", time.time()

    def request_stop(self) -> None:
        """Ask the job's thread to stop after its current step."""
        if self.cancel_requested_at is None:
            self.cancel_requested_at = time.time()
        self._stop.set()

    def finish(self, state: str, error: str | None = None) -> bool:
        """End the job (once): the page's next poll sees it finished. False if it had already ended."""
        with self._lock:
            if self._done.is_set():
                return False
            self.state = state
            self.finished_at = time.time()
            self._pending.finished = True
            self._pending.error = error
            self._pending.reason = self.stop_reason
            self._done.set()
        self._stop.set()
        return True

    def idle_seconds(self, now: float) -> float:
        """Seconds since the job last showed progress (its start or its last snapshot); 0 until its thread has begun
        it: the scheduler marks a job running under its lock and ``execute`` then starts the clock, and a job in
        between has not stalled (health and the watchdog read it as stuck since 1970)."""
        return now - self.last_progress_at if self.last_progress_at else 0.0

    def execute(self, batch: nstcore.Batch | None = None) -> None:
        """Run to the end, to a cancel, or to an error (called by a scheduler thread), stepping in ``batch``'s
        shared passes when given. Never raises: not even a ``SystemExit`` from the run may take the scheduler thread
        down."""
        self.state, self.started_at = "running", time.time()
        self.last_progress_at = self.started_at
        snapshots = None
        try:
            with (
                nstcore.stop_when(self._stop.is_set),  # Stop ends a long step between layers (nstcore.interrupt)
                batch.joined() if batch is not None else contextlib.nullcontext(),
            ):
                snapshots = self._start_run()
                self._follow(snapshots)
        except BaseException as exc:  # noqa: BLE001 - one job's failure must not stop the scheduler
            if self._stop.is_set():  # stopped inside a step (nstcore.Stopped), or failing because it was stopped
                self.finish("cancelled")
                return
            if isinstance(exc, nstcore.NSTError):
                log.info("job %s of session %s refused: %s", self.id, self.session_id[:8], exc)
            else:
                log.error("job %s of session %s failed", self.id, self.session_id[:8], exc_info=exc)
            self.finish("failed", describe_failure(exc))
            return
        finally:
            if snapshots is not None and hasattr(snapshots, "close"):
                try:
                    snapshots.close()
                except BaseException:  # noqa: BLE001 - closing a broken run must not kill the thread either
                    log.exception("closing job %s failed", self.id)
        self.finish("cancelled" if self._stop.is_set() else "done")

    def _follow(self, snapshots: Iterator[nstcore.Progress]) -> None:
        """Hand every snapshot to the page until the run ends or the job is stopped."""
        for progress in snapshots:
            with self._lock:
                if self._done.is_set():  # ended meanwhile (cancelled, or failed by the watchdog)
                    break
                self._pending.rows.append((progress.step, progress.losses))
                self._pending.latest = progress
                self._pending.notes = progress.notes
                self._pending.version_steps.setdefault(progress.controls_version, progress.step)
                if progress.images is not None:
                    self._pending.frames, self._pending.frames_step = progress.images, progress.step
                if progress.trained is not None:
                    self._pending.trained = progress.trained
            self.latest = progress
            self.most_shared = max(self.most_shared, progress.shared)
            if progress.step in self._bounds:
                self.marks[progress.step] = progress.elapsed
            self.last_progress_at = time.time()
            if self._stop.is_set():
                break
