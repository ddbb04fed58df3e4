"""Device slots: which running jobs share the device, and where a queued job may start (the scheduler's lock held).

A slot is one job, or with ``--batch-jobs N`` up to N jobs of one shape (:attr:`Job.batch_key`) stepping together
in one :class:`nstcore.Batch`; at most ``max_concurrent`` slots compute at once. A thread left inside an ended job
keeps its place in its slot until it returns (see :mod:`.scheduler`).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import nstcore

from .job import Job


def default_concurrency(device_type: str) -> int:
    """Jobs at once per device: 1 on a GPU (one job fills it; more only adds contention), on a CPU one per 8
    cores (convolutions scale well up to about 8 threads per job on images of a few hundred pixels)."""
    if device_type != "cpu":
        return 1
    return max(1, (os.cpu_count() or 1) // 8)


# Jobs of one shape that step together where the device's calibration says a batched pass pays (``--batch-jobs``
# auto): a room pressing one example fills a GPU. Until then, and where it does not pay, 1 (off): on the 2-core CPUs
# a room of 4 ran 0.75-1.03x as fast batched (benchmarks/results_load.md).
AUTO_BATCH_JOBS = 8


@dataclass(eq=False)
class Slot:
    """A device slot: one job, or up to ``batch_jobs`` jobs of one shape stepping together in ``batch``."""

    key: Hashable | None
    batch: nstcore.Batch | None
    jobs: set[Job] = field(default_factory=set)
    # A member went past its first step (seen while it ran, or when it left): no queued job joins from further back.
    # Read from the members still there, a slot whose fast member finished looked new again beside a slow one.
    under_way: bool = False

    def starting(self) -> bool:
        """Whether a job from further back in the queue may still join (nobody here has gone past step 1)."""
        self.under_way = self.under_way or any(_past_first_step(j) for j in self.jobs)
        return not self.under_way


def _past_first_step(job: Job) -> bool:
    return job.latest is not None and job.latest.step > 1


class Slots:
    """The slots of one scheduler; every method is called under the scheduler's lock."""

    def __init__(self, max_concurrent: int, batch_jobs: int, memory_budget: float | None) -> None:
        self.max_concurrent = max_concurrent
        self.batch_jobs = batch_jobs
        self.memory_budget = memory_budget
        self._of: dict[Job, Slot] = {}

    def in_use(self, computing: Sequence[Job]) -> list[Slot]:
        """The slots of the jobs computing on the device."""
        return list({id(slot): slot for slot in (self._of[job] for job in computing if job in self._of)}.values())

    def place(self, job: Job, computing: Sequence[Job]) -> Slot | None:
        """Where ``job`` may start now: beside running jobs of its shape while their slot has room, else in a free
        slot; with a memory budget, only if its estimate fits beside the jobs computing (one job alone always runs).
        None: it waits."""
        if self.memory_budget is not None and computing:
            if sum(j.memory for j in computing) + job.memory > self.memory_budget:
                return None
        slots = self.in_use(computing)
        sharing = self.batch_jobs > 1 and job.batch_key is not None
        if sharing:
            for slot in slots:
                if slot.key == job.batch_key and len(slot.jobs) < self.batch_jobs:
                    return slot
        if len(slots) >= self.max_concurrent:
            return None
        return Slot(job.batch_key, nstcore.Batch() if sharing else None)

    def next(self, queue: deque[Job], computing: Sequence[Job]) -> tuple[Job, Slot | None]:
        """The job to start now and its slot: the queue's first, or else one further back that joins a slot of its
        shape which has not gone past its first step yet (a room presses Run at once, in any order of shapes: the
        jobs of a batch start together, and the first job waits no longer than that batch takes)."""
        head = queue[0]
        slot = self.place(head, computing)
        if slot is not None or self.batch_jobs == 1:
            return head, slot
        filling = [s for s in self.in_use(computing) if s.batch is not None and len(s.jobs) < self.batch_jobs]
        filling = [s for s in filling if s.starting()]
        for job in list(queue)[1:]:
            for candidate in filling:
                if job.batch_key == candidate.key and self.place(job, computing) is candidate:
                    return job, candidate
        return head, None

    def enter(self, job: Job, slot: Slot) -> None:
        slot.jobs.add(job)
        self._of[job] = slot

    def leave(self, job: Job) -> None:
        """``job``'s thread has returned: its slot no longer holds it."""
        slot = self._of.pop(job, None)
        if slot is not None:
            slot.under_way = slot.under_way or _past_first_step(job)
            slot.jobs.discard(job)
