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
import threading
import time
from collections.abc import Callable, Sequence

import nstcore

from .eta import StepCosts
from .job import Handover, Job, SchedulerError, describe_failure, runs
from .priority import give_way
from .slots import AUTO_BATCH_JOBS, Slots, default_concurrency
from .turns import turn_place

__all__ = [
    "Handover",
    "Job",
    "Scheduler",
    "SchedulerError",
    "AUTO_BATCH_JOBS",
    "default_concurrency",
    "describe_failure",
]

log = logging.getLogger("demo_app")


class Scheduler:
    """FIFO across sessions, one active job per session, ``max_concurrent`` jobs running at once.

    Jobs always end: Stop (or a closed tab) ends a job for its page at once (its thread leaves the step between
    two layers, see ``nstcore.interrupt``); a job that makes no progress for ``stall_seconds`` is failed by a
    watchdog with a sentence; a job past its ``time_cap`` is stopped. A worker thread still inside an ended job
    after ``cancel_grace`` seconds is left behind and replaced, but **it keeps its device slot** until it returns:
    no new job starts past ``max_concurrent`` computing threads (five Run/Stop clicks once left thirteen threads
    computing at once). :meth:`health` fails once such a thread has been stuck for ``stuck_seconds``, so an
    orchestrator restarts the process.
    """

    def __init__(
        self,
        max_concurrent: int = 1,
        max_queue: int = 40,
        after_job: Callable[[Job], None] | None = None,
        *,
        stall_seconds: float = 300.0,
        cancel_grace: float = 2.0,
        watch_every: float = 0.5,
        stuck_seconds: float = 600.0,
        memory_budget: float | None = None,
        batch_jobs: int = 1,
    ) -> None:
        if max_concurrent < 1 or batch_jobs < 1:
            raise ValueError("max_concurrent and batch_jobs must be at least 1")
        self.max_concurrent = max_concurrent
        # Queued jobs with the same Job.batch_key as running ones join their slot, up to this many per slot, and
        # step together in one pass (nstcore.batching): a room pressing one example fills a GPU.
        self.batch_jobs = batch_jobs
        # Bytes the device may hold for jobs at once, by their estimates (Job.memory): a job waits while the running
        # ones and the threads left inside ended ones would pass it with it (one job alone always runs).
        self._slots = Slots(max_concurrent, batch_jobs, memory_budget)
        self.max_queue = max_queue
        self.stall_seconds = stall_seconds
        self.cancel_grace = cancel_grace
        self.stuck_seconds = stuck_seconds
        self._after_job = after_job
        self._queue: collections.deque[Job] = collections.deque()
        self._running: dict[Job, int] = {}  # job -> the worker running it
        self._active: dict[str, Job] = {}  # session -> its queued or running job
        self._cv = threading.Condition()
        self._closed = False
        self._closing = threading.Event()  # wakes the watchdog at shutdown instead of after its next sleep
        self.paused = False  # the host paused the queue: running jobs go on, queued ones wait
        self.jobs_done = self.jobs_failed = self.jobs_cancelled = 0
        self.workers_replaced = 0
        self._costs = StepCosts()  # learnt from finished jobs, for queue ETAs
        self._workers: dict[int, threading.Thread] = {}  # the current workers; a left-behind one is not here
        # Left-behind threads still inside an ended job: thread -> (job, since when). Each holds a device slot.
        self._leftovers: dict[threading.Thread, tuple[Job, float]] = {}
        self._worker_ids = itertools.count()
        for _ in range(self.workers):
            self._spawn()
        self._watchdog = threading.Thread(target=self._watch, args=(watch_every,), name="nst-watchdog", daemon=True)
        self._watchdog.start()

    @property
    def workers(self) -> int:
        """Worker threads it keeps: one per job that may compute at once (a slot holds up to batch_jobs)."""
        return self.max_concurrent * self.batch_jobs

    @property
    def memory_budget(self) -> float | None:
        return self._slots.memory_budget

    def seed(self, calibration: nstcore.Calibration) -> None:
        """The device's measured speed: queue estimates start from it until finished jobs teach better."""
        with self._cv:
            self._costs.prior = calibration

    def set_batch_jobs(self, batch_jobs: int) -> None:
        """Up to ``batch_jobs`` jobs of one shape step together from now on (``--batch-jobs`` auto; only grows)."""
        with self._cv:
            if batch_jobs > self.batch_jobs:
                self.batch_jobs = self._slots.batch_jobs = batch_jobs
                for _ in range(self.workers - len(self._workers)):
                    self._spawn()
                self._cv.notify_all()

    # -- sessions' side ---------------------------------------------------------------------------------------------
    def submit(self, job: Job, max_per_client: int | None = None, max_per_address: int | None = None) -> None:
        """Queue ``job``; refuse it (SchedulerError, a sentence) when the server is closing, the page already has a
        job, the job's visitor already has ``max_per_client`` jobs queued or running, its address
        ``max_per_address``, or the queue is full."""
        with self._cv:
            if self._closed:
                raise SchedulerError("The server is shutting down; try again in a moment.")
            if job.session_id in self._active:
                raise SchedulerError("This page already has a run queued or running; press Stop first.")
            others = list(self._active.values())
            if max_per_client and sum(o.visitor.same_person(job.visitor) for o in others) >= max_per_client:
                raise SchedulerError(
                    f"You already have {runs(max_per_client)} queued or running on this server (the most one "
                    "person may have); wait for one to finish."
                )
            if max_per_address and sum(o.visitor.same_address(job.visitor) for o in others) >= max_per_address:
                raise SchedulerError(
                    f"Your network already has {runs(max_per_address)} queued or running on this server (the "
                    "most one address may have); wait for one to finish."
                )
            if len(self._queue) >= self.max_queue:
                raise SchedulerError(f"The queue is full ({self.max_queue} jobs waiting); try again in a minute.")
            job.queued()
            self._queue.insert(turn_place(self._queue, job), job)  # visitors take turns (turns.py)
            self._active[job.session_id] = job
            self._cv.notify()

    def cancel(self, job: Job) -> None:
        """End ``job`` for its page now: a queued one leaves the queue; a running one is told to stop after its
        current step, and its session may submit again at once (its thread is replaced if it does not stop)."""
        with self._cv:
            job.request_stop()
            if job in self._queue:
                self._queue.remove(job)
                self._release(job)
                job.finish("cancelled")
                self.jobs_cancelled += 1
            elif job in self._running:
                self._release(job)  # counted when its thread (or the watchdog) takes it off the running set
                job.finish("cancelled")

    def pause(self) -> None:
        """Start no queued job until :meth:`resume` (running jobs go on; pages keep their queue position)."""
        with self._cv:
            self.paused = True

    def resume(self) -> None:
        with self._cv:
            self.paused = False
            self._cv.notify_all()

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
        now = time.time()
        remaining = [self._costs.remaining(r, now) for r in running]
        costs = [self._costs.job_seconds(queued) for queued in ahead]
        if any(r is None for r in remaining) or any(c is None for c in costs):
            return None
        slots = sorted(r or 0.0 for r in remaining)
        slots += [0.0] * (self.workers - len(slots))
        for cost in costs:  # each waiting job takes the slot that frees first
            slots[0] += cost or 0.0
            slots.sort()
        return slots[0]

    def time_left(self, job: Job) -> float | None:
        """Seconds until running ``job`` ends, by its own speed in the scale it is in and the learnt speed for the
        scales it has left (a steps-based guess said a Quick run was two thirds done after its 64-px steps); None
        before anything says."""
        with self._cv:
            return self._costs.remaining(job, time.time())

    def estimate(self, plan: Sequence[tuple[int, int]]) -> float | None:
        """Seconds a job of ``plan`` ((pixels, steps) per scale) would run here, by the speed finished jobs
        measured at sizes near each of its scales (within 4x the pixels; None before such a job has finished: from
        a 32-px run alone Quick came out at a minute where it takes 11 s, a step's fixed cost dominating there)."""
        with self._cv:
            return self._costs.plan_seconds(plan, reach=4.0)

    # -- status ---------------------------------------------------------------------------------------------------
    def stats(self) -> dict[str, float | int]:
        now = time.time()
        with self._cv:
            stalled = sum(job.idle_seconds(now) > min(60.0, self.stall_seconds / 2) for job in self._running)
            return {
                "closed": self._closed,
                "running": len(self._running),
                "queued": len(self._queue),
                "done": self.jobs_done,
                "failed": self.jobs_failed,
                "cancelled": self.jobs_cancelled,
                "stalled": stalled,
                "workers_replaced": self.workers_replaced,
                "stuck_threads": sum(thread.is_alive() for thread in self._leftovers),
                "max_concurrent": self.max_concurrent,
                "batch_jobs": self.batch_jobs,
                "sharing_now": max((len(slot.jobs) for slot in self._slots.in_use(self._computing())), default=0),
                "memory_in_use": sum(job.memory for job in self._computing()),
                "max_queue": self.max_queue,
            }

    def health(self) -> tuple[bool, str]:
        """(healthy, why not): the watchdog and every worker thread are alive and no job is stuck past the point
        where the watchdog should have ended it."""
        now = time.time()
        with self._cv:
            if self._closed:
                return False, "the server is shutting down"
            if not self._watchdog.is_alive():
                return False, "the scheduler's watchdog thread has died"
            alive = sum(thread.is_alive() for thread in self._workers.values())
            if alive < self.workers:
                return False, f"{self.workers - alive} scheduler thread(s) died and were not replaced"
            if any(job.idle_seconds(now) > self.stall_seconds + 10 for job in self._running):
                return False, "a job is stuck and the watchdog has not ended it"
            stuck = [now - since for thread, (_, since) in self._leftovers.items() if thread.is_alive()]
            if stuck and max(stuck) > self.stuck_seconds:
                return False, (
                    f"a job thread has been stuck for {max(stuck):.0f} s after its job ended and holds a device slot;"
                    " restart the server"
                )
        return True, ""

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop taking jobs, end every queued and running one, and wait up to ``timeout`` s for the threads.
        Returns True when every thread ended (stuck ones are daemon threads and die with the process)."""
        with self._cv:
            self._closed = True
            for job in list(self._queue):
                job.finish("cancelled", "The server is shutting down; your run was not started.")
                self.jobs_cancelled += 1
            self._queue.clear()
            for job in list(self._running):
                job.request_stop()
                job.finish("cancelled", "The server is shutting down; your run was stopped.")
            self._cv.notify_all()
            threads = [*self._workers.values(), *self._leftovers]
        self._closing.set()
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._watchdog.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in threads)

    # -- worker threads -----------------------------------------------------------------------------------------
    def _spawn(self) -> None:
        worker = next(self._worker_ids)
        thread = threading.Thread(target=self._work, args=(worker,), name=f"nst-scheduler-{worker}", daemon=True)
        self._workers[worker] = thread
        thread.start()

    def _computing(self) -> list[Job]:
        """The jobs whose threads compute on the device: running ones and those left behind (under the lock)."""
        return [*self._running, *(job for thread, (job, _) in self._leftovers.items() if thread.is_alive())]

    def _release(self, job: Job) -> None:
        if self._active.get(job.session_id) is job:
            del self._active[job.session_id]

    def _account(self, job: Job) -> None:
        """Count a job that leaves the running set, once, by how it ended (under the lock)."""
        if job.state == "done":
            self.jobs_done += 1
            self._learn(job)
        elif job.state == "failed":
            self.jobs_failed += 1
        else:
            self.jobs_cancelled += 1

    def _work(self, worker: int) -> None:
        give_way()  # a job's thread (and its torch threads) yields a contested core to the event loop
        while True:
            with self._cv:
                slot = None
                while not self._closed and worker in self._workers:
                    if self._queue and not self.paused:
                        job, slot = self._slots.next(self._queue, self._computing())
                        if slot is not None:
                            break
                    self._cv.wait()
                if slot is None:  # closing, or this worker was replaced
                    return
                self._queue.remove(job)
                self._running[job] = worker
                self._slots.enter(job, slot)
            job.execute(slot.batch)
            with self._cv:
                self._slots.leave(job)
                if self._running.get(job) != worker:  # left behind (stuck or too slow to stop): its slot is free now
                    self._leftovers.pop(threading.current_thread(), None)
                    self._cv.notify_all()
                    return
                del self._running[job]
                self._release(job)
                self._account(job)
                self._cv.notify_all()  # a job of another shape may wait for this slot
            self._after(job)

    def _after(self, job: Job) -> None:
        if self._after_job is not None:
            try:
                self._after_job(job)  # e.g. give cached GPU memory back
            except BaseException:  # noqa: BLE001 - not even a SystemExit from the hook may end the thread
                log.exception("after-job hook failed")

    def _watch(self, every: float) -> None:
        """The watchdog: stop jobs past their time cap, fail stalled jobs, leave stuck threads behind (holding their
        slot) and replace them, replace dead threads."""
        while not self._closing.wait(every):
            with self._cv:
                if self._closed:
                    return
                now = time.time()
                for job, worker in list(self._running.items()):
                    self._check(job, worker, now)
                for worker, thread in list(self._workers.items()):
                    if not thread.is_alive():  # died between jobs (a bug in the loop itself)
                        log.error("scheduler thread %s died: replaced", worker)
                        del self._workers[worker]
                        self.workers_replaced += 1
                        self._spawn()
                for thread in [t for t in self._leftovers if not t.is_alive()]:
                    del self._leftovers[thread]
                self._cv.notify_all()

    def _check(self, job: Job, worker: int, now: float) -> None:
        """One running job, under the lock: stop it at its time cap; end it and replace its thread when it stalled,
        did not stop within the grace period, or its thread died."""
        if job.time_cap and job.started_at and job.cancel_requested_at is None and now - job.started_at > job.time_cap:
            limit = f"{job.time_cap:g} s" if job.time_cap < 60 else f"{job.time_cap / 60:g} min"  # not "0 min"
            job.stop_reason = f"It reached this server's time limit of {limit} per job."
            log.warning("job %s of session %s reached its time cap: stopping", job.id, job.session_id[:8])
            job.request_stop()
            return
        stalled = job.idle_seconds(now) > self.stall_seconds
        slow_stop = job.cancel_requested_at is not None and now - job.cancel_requested_at > self.cancel_grace
        thread = self._workers[worker]
        dead = not thread.is_alive()
        if not (stalled or slow_stop or dead):
            return
        if stalled and job.finish(
            "failed",
            f"The run made no progress for {self.stall_seconds:.0f} s, so the server stopped it; try a smaller size, "
            "or try again later.",
        ):
            log.error(
                "job %s of session %s made no progress for %.0f s", job.id, job.session_id[:8], self.stall_seconds
            )
        elif dead and job.finish("failed", describe_failure(RuntimeError("worker thread died"))):
            log.error("the thread running job %s died", job.id)
        else:
            log.warning("job %s did not stop within %.0f s of Stop", job.id, self.cancel_grace)
        if not dead:
            log.warning("job %s: its thread is left behind and holds its device slot until it returns", job.id)
            job.request_stop()
            self._leftovers[thread] = (job, now)
        del self._running[job]
        self._release(job)
        self._account(job)
        del self._workers[worker]
        self.workers_replaced += 1
        self._spawn()

    def _learn(self, job: Job) -> None:
        self._costs.learn(job)
