"""Threads that compute give way to the event loop (demo_app/jobs/priority.py): a job's thread and the torch threads it
starts, the worker pool's threads and the page builder run at a higher nice value than the thread that made them.

Before, they ran at the loop's priority, and ``/liveness`` waited for a core behind them
(benchmarks/results_hostile.md).
"""

from __future__ import annotations

import os
import sys
import threading

import pytest
import torch

import nstcore
from demo_app.jobs.priority import COMPUTE_NICE, nice_of_this_thread
from demo_app.jobs.scheduler import Job, Scheduler
from demo_app.server.pages import _BUILDERS
from demo_app.views.fair_pool import FairPool

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")

LOSSES = (nstcore.Losses(total=1.0, content=0.5, style={"conv1_1": 0.5}, tv=0.0),)


def _threads() -> dict[int, int]:
    """This process's threads and their nice values."""
    found = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            found[int(tid)] = os.getpriority(os.PRIO_PROCESS, int(tid))
        except OSError:  # ended meanwhile
            pass
    return found


def test_a_jobs_thread_and_its_torch_threads_give_way_and_the_callers_thread_does_not() -> None:
    mine = nice_of_this_thread()
    assert mine is not None and mine < COMPUTE_NICE  # the test's own thread stands for the loop
    seen: dict[str, object] = {}
    scheduler = Scheduler(max_concurrent=1, max_queue=3)

    def run():
        before = set(_threads())
        x = torch.randn(1, 32, 96, 96)
        for _ in range(20):  # parallel work: the job thread's own OpenMP team starts here
            torch.nn.functional.conv2d(x, torch.randn(32, 32, 3, 3), padding=1).sum()
        seen["job"] = nice_of_this_thread()
        seen["new threads"] = {tid: nice for tid, nice in _threads().items() if tid not in before}
        yield nstcore.Progress(1, 1, LOSSES, 0.01)

    try:
        job = Job("a", run, steps=1, pixels=100)
        scheduler.submit(job)
        assert job.wait(60) and job.state == "done", job.state
    finally:
        scheduler.shutdown()
    assert seen["job"] is not None and int(seen["job"]) >= COMPUTE_NICE  # type: ignore[call-overload]
    new = seen["new threads"]
    assert isinstance(new, dict)
    if torch.get_num_threads() > 1:
        assert new, "the job started no torch threads of its own"
    assert all(nice >= COMPUTE_NICE for nice in new.values()), new
    assert nice_of_this_thread() == mine


def test_the_worker_pools_and_the_page_builders_threads_give_way() -> None:
    pool = FairPool(2, "test-io")
    assert pool.submit("visitor", nice_of_this_thread).result(10) >= COMPUTE_NICE
    assert _BUILDERS.submit(nice_of_this_thread).result(10) >= COMPUTE_NICE  # type: ignore[operator]


def test_a_thread_already_lower_keeps_its_own_value() -> None:
    from demo_app.jobs.priority import give_way

    found: list[int | None] = []

    def work() -> None:
        give_way(15)
        give_way()  # the default (10) does not raise it back: a thread never can without privilege
        found.append(nice_of_this_thread())

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(10)
    assert found == [max(15, nice_of_this_thread() or 0)]
