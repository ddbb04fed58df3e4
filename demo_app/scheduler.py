"""One scheduler per server process: it owns the device and runs every session's jobs, fairly.

A workshop server has one GPU and 20-40 people. Each session may have one job (a run or a comparison) queued or
running; jobs start in submission order (FIFO across sessions), at most ``max_concurrent`` at a time per device
(default 1 on a GPU, where one job already fills it; on a CPU one per 8 cores, see :func:`default_concurrency`).
A job hands its progress to its own session only (:meth:`Job.take`); Stop or a closed tab cancels a queued job at
once and a running one within one step. An exception or out-of-memory error ends that job with a message; the
scheduler's threads go on.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

import nstcore

log = logging.getLogger("demo_app")
_ids = itertools.count(1)


class SchedulerError(Exception):
    """A job was refused (queue full, one job per session ...); the message is for people."""


@dataclass
class Handover:
    """What a job produced since its session last called :meth:`Job.take`."""

    rows: list[tuple[int, tuple[nstcore.Losses, ...]]] = field(default_factory=list)
    frames: tuple[np.ndarray, ...] | None = None
    latest: nstcore.Progress | None = None
    notes: tuple[str, ...] = ()
    finished: bool = False
    error: str | None = None


def describe_failure(exc: BaseException) -> str:
    """One sentence for a failed run, for the page: no traceback, no raw exception text, no server path (the
    details go to the server log)."""
    if isinstance(exc, nstcore.WeightsError):  # its message names the weights file on the server
        return ("The server could not load the network weights for this model; choose the other model or ask the "
                "host.")
    if isinstance(exc, nstcore.NSTError):
        return str(exc)
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if isinstance(exc, MemoryError) or "out of memory" in text.lower():
        return "The run ran out of memory on the server; try a smaller size or fewer variants."
    return "The run failed on the server; the settings are kept, so try again (the host can see why in the log)."


class Job:
    """One submitted run. ``start_run`` is called in a scheduler thread and returns nstcore's snapshot iterator."""

    def __init__(self, session_id: str, start_run: Callable[[], Iterator[nstcore.Progress]], *, steps: int,
                 pixels: int, label: str = "run", client: str = "") -> None:
        self.id = next(_ids)
        self.session_id = session_id
        self.client = client  # the visitor's address, for the per-client cap
        self.label = label
        self.steps = steps
        self.pixels = pixels  # output pixels x variants: what a step costs, for queue ETAs
        self.state = "new"  # new -> queued -> running -> done | failed | cancelled
        self.submitted_at = self.started_at = self.finished_at = 0.0
        self._start_run = start_run
        self._lock = threading.Lock()
        self._pending = Handover()
        self._stop = threading.Event()
        self._done = threading.Event()
        self.latest: nstcore.Progress | None = None

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def take(self) -> Handover:
        with self._lock:
            out, self._pending = self._pending, Handover()
            return out

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def remaining_seconds(self) -> float | None:
        latest = self.latest
        if latest is None or latest.rate <= 0:
            return None
        return (latest.total_steps - latest.step) / latest.rate

    def _finish(self, state: str, error: str | None = None) -> None:
        with self._lock:
            self.state = state
            self.finished_at = time.time()
            self._pending.finished = True
            self._pending.error = error
        self._done.set()

    def execute(self) -> None:
        """Run to the end, to a cancel, or to an error (called by the scheduler)."""
        self.state, self.started_at = "running", time.time()
        snapshots = None
        try:
            snapshots = self._start_run()
            for progress in snapshots:
                with self._lock:
                    self._pending.rows.append((progress.step, progress.losses))
                    self._pending.latest = progress
                    self._pending.notes = progress.notes
                    if progress.images is not None:
                        self._pending.frames = progress.images
                self.latest = progress
                if self._stop.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 - one job's failure must not stop the scheduler
            if isinstance(exc, nstcore.NSTError):
                log.info("job %s of session %s refused: %s", self.id, self.session_id[:8], exc)
            else:
                log.exception("job %s of session %s failed", self.id, self.session_id[:8])
            self._finish("failed", describe_failure(exc))
            return
        finally:
            if snapshots is not None and hasattr(snapshots, "close"):
                snapshots.close()
        self._finish("cancelled" if self._stop.is_set() else "done")


def default_concurrency(device_type: str) -> int:
    """Jobs at once per device: 1 on a GPU (one job fills it; more only adds contention), on a CPU one per 8
    cores (convolutions scale well up to about 8 threads per job on images of a few hundred pixels)."""
    if device_type != "cpu":
        return 1
    return max(1, (os.cpu_count() or 1) // 8)


class Scheduler:
    """FIFO across sessions, one active job per session, ``max_concurrent`` jobs running at once."""

    def __init__(self, max_concurrent: int = 1, max_queue: int = 40,
                 after_job: Callable[[Job], None] | None = None) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self.max_concurrent = max_concurrent
        self.max_queue = max_queue
        self._after_job = after_job
        self._queue: collections.deque[Job] = collections.deque()
        self._running: set[Job] = set()
        self._active: dict[str, Job] = {}  # session -> its queued or running job
        self._cv = threading.Condition()
        self._closed = False
        self.jobs_done = self.jobs_failed = self.jobs_cancelled = 0
        self._seconds_per_pixel_step: float | None = None  # learnt from finished jobs, for ETAs
        self._threads = [threading.Thread(target=self._work, name=f"nst-scheduler-{i}", daemon=True)
                         for i in range(max_concurrent)]
        for thread in self._threads:
            thread.start()

    # -- sessions' side ---------------------------------------------------------------------------------------------
    def submit(self, job: Job, max_per_client: int | None = None) -> None:
        """Queue ``job``; refuse it (SchedulerError, a sentence) when the server is closing, the page already has a
        job, the queue is full, or the job's client already has ``max_per_client`` jobs queued or running."""
        with self._cv:
            if self._closed:
                raise SchedulerError("The server is shutting down; try again in a moment.")
            current = self._active.get(job.session_id)
            if current is not None:
                raise SchedulerError("This page already has a run queued or running; press Stop first.")
            if max_per_client and job.client and \
                    sum(other.client == job.client for other in self._active.values()) >= max_per_client:
                raise SchedulerError(f"Your computer already has {max_per_client} runs queued or running on this "
                                     "server (the most one computer may have); wait for one to finish.")
            if len(self._queue) >= self.max_queue:
                raise SchedulerError(f"The queue is full ({self.max_queue} jobs waiting); try again in a minute.")
            job.state, job.submitted_at = "queued", time.time()
            self._queue.append(job)
            self._active[job.session_id] = job
            self._cv.notify()

    def cancel(self, job: Job) -> None:
        """Remove a queued job at once, or stop a running one after its current step."""
        with self._cv:
            job._stop.set()
            if job in self._queue:
                self._queue.remove(job)
                self._release(job)
                self.jobs_cancelled += 1
                job._finish("cancelled")

    def cancel_session(self, session_id: str) -> None:
        with self._cv:
            job = self._active.get(session_id)
        if job is not None:
            self.cancel(job)

    def position(self, job: Job) -> int:
        """0 while running (or finished), 1 for the next to start, ..."""
        with self._cv:
            try:
                return list(self._queue).index(job) + 1
            except ValueError:
                return 0

    def eta(self, job: Job) -> float | None:
        """Seconds until ``job`` starts (None when unknown yet)."""
        with self._cv:
            if job not in self._queue:
                return 0.0
            ahead = list(self._queue)[: list(self._queue).index(job)]
            running = list(self._running)
            rate = self._seconds_per_pixel_step
        remaining = [r.remaining_seconds() for r in running]
        if rate is None and any(r is None for r in remaining):
            return None
        slots = sorted((r if r is not None else 0.0) for r in remaining)
        slots += [0.0] * (self.max_concurrent - len(slots))
        for queued in ahead:  # each waiting job takes the slot that frees first
            cost = (rate or 0.0) * queued.steps * queued.pixels
            slots[0] += cost
            slots.sort()
        return slots[0]

    # -- status ---------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, float | int]:
        with self._cv:
            return {"running": len(self._running), "queued": len(self._queue), "done": self.jobs_done,
                    "failed": self.jobs_failed, "cancelled": self.jobs_cancelled,
                    "max_concurrent": self.max_concurrent, "max_queue": self.max_queue}

    def shutdown(self, timeout: float = 10.0) -> None:
        with self._cv:
            self._closed = True
            for job in list(self._queue):
                job._stop.set()
                job._finish("cancelled")
            self._queue.clear()
            for job in self._running:
                job._stop.set()
            self._cv.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    # -- worker threads -----------------------------------------------------------------------------------------
    def _release(self, job: Job) -> None:
        if self._active.get(job.session_id) is job:
            del self._active[job.session_id]

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                job = self._queue.popleft()
                self._running.add(job)
            try:
                job.execute()
            finally:
                with self._cv:
                    self._running.discard(job)
                    self._release(job)
                    if job.state == "done":
                        self.jobs_done += 1
                        self._learn(job)
                    elif job.state == "failed":
                        self.jobs_failed += 1
                    else:
                        self.jobs_cancelled += 1
                if self._after_job is not None:
                    try:
                        self._after_job(job)  # e.g. give cached GPU memory back
                    except Exception:  # noqa: BLE001
                        log.exception("after-job hook failed")

    def _learn(self, job: Job) -> None:
        latest = job.latest
        if latest is None or latest.step == 0 or job.pixels == 0:
            return
        sample = latest.elapsed / latest.step / job.pixels
        old = self._seconds_per_pixel_step
        self._seconds_per_pixel_step = sample if old is None else 0.7 * old + 0.3 * sample
