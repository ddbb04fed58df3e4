"""The scheduler's side of cross-session batching: jobs of one shape share a slot (and their passes), others wait
for a slot of their own; what the engine's side guarantees is in test_batching.py."""

from __future__ import annotations

import threading
import time
from collections import deque

import pytest
from browser import wait_until
from conftest import make_image
from test_scheduler import fake_run

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.jobs.scheduler import Job, Scheduler
from demo_app.jobs.slots import Slots
from demo_app.session.limits import Limits


def test_jobs_of_one_shape_share_a_slot_and_another_shape_waits_for_one() -> None:
    scheduler = Scheduler(max_concurrent=1, batch_jobs=3)
    gate = threading.Event()
    try:
        same = [Job(s, fake_run(steps=3, gate=gate), steps=3, pixels=100, batch_key="256 px") for s in "abcd"]
        other = Job("e", fake_run(steps=3, gate=gate), steps=3, pixels=100, batch_key="512 px")
        for job in [*same[:3], other, same[3]]:
            scheduler.submit(job)
        wait_until(lambda: scheduler.stats()["running"] == 3)
        time.sleep(0.1)
        assert [j.state for j in same[:3]] == ["running"] * 3 and scheduler.stats()["sharing_now"] == 3
        assert other.state == same[3].state == "queued"  # FIFO: the 4th of the shape is behind the other shape
        gate.set()
        for job in [*same, other]:
            assert job.wait(30) and job.state == "done"
        assert other.started_at >= max(j.finished_at for j in same[:3])
    finally:
        scheduler.shutdown()


def test_a_room_pressing_run_at_once_in_any_order_of_shapes_starts_each_batch_together() -> None:
    """Queue 128, 96, 128: the second 128-px job joins the first's slot before its second step, ahead of the 96;
    a 128-px job queued once the slot is under way waits its turn."""
    scheduler = Scheduler(max_concurrent=1, batch_jobs=4)
    gate = threading.Event()
    try:
        first, other, second = (
            Job(s, fake_run(steps=3, gate=gate), steps=3, pixels=100, batch_key=key)
            for s, key in (("a", 128), ("b", 96), ("c", 128))
        )
        for job in (first, other, second):
            scheduler.submit(job)
        wait_until(lambda: second.state == "running")
        assert first.state == "running" and other.state == "queued"
        gate.set()
        wait_until(lambda: first.latest is not None and first.latest.step >= 2)
        late = Job("d", fake_run(steps=3), steps=3, pixels=100, batch_key=128)
        scheduler.submit(late)
        for job in (first, second, other, late):
            assert job.wait(30) and job.state == "done"
        assert other.started_at >= max(first.finished_at, second.finished_at)
        assert late.started_at >= other.started_at  # behind the 96 in the queue, and the slot was under way
    finally:
        scheduler.shutdown()


def test_without_batching_or_without_a_key_jobs_take_a_slot_each() -> None:
    for batch_jobs, key in ((1, "256 px"), (3, None)):
        scheduler = Scheduler(max_concurrent=1, batch_jobs=batch_jobs)
        gate = threading.Event()
        try:
            jobs = [Job(s, fake_run(steps=2, gate=gate), steps=2, pixels=100, batch_key=key) for s in "ab"]
            for job in jobs:
                scheduler.submit(job)
            wait_until(lambda first=jobs[0]: first.state == "running")
            time.sleep(0.1)
            assert jobs[1].state == "queued"
            gate.set()
            assert all(job.wait(30) for job in jobs)
        finally:
            scheduler.shutdown()


def test_pages_pressing_the_same_example_step_together_and_each_gets_its_own_run() -> None:
    """Through the server's backend: three sessions' jobs (different weights) share their passes; one is stopped
    midway and the others finish; each finished run's last losses are those of the same job run alone."""
    backend = Backend(weights="random", device_name="cpu", batch_jobs=3)
    config = nstcore.StyleConfig(size=40, steps=6, weights="random", precision="fp32", preview_every=0)
    content, style = make_image(40, 30, 1), make_image(32, 32, 2)
    requests = [nstcore.RunRequest(config.replace(beta=beta), content, (style,)) for beta in (1e5, 1e6, 1e7)]
    keys = {backend.batch_key(request) for request in requests}
    assert len(keys) == 1 and None not in keys

    def job(index: int, request: nstcore.RunRequest) -> Job:
        controls = nstcore.Controls(request.config.loss_weights(), lr=request.config.effective_lr)
        runner = backend.runner(request, controls)
        return Job(f"s{index}", runner, steps=6, pixels=1200, batch_key=backend.batch_key(request))

    try:
        jobs = [job(i, request) for i, request in enumerate(requests)]
        for each in jobs:
            backend.scheduler.submit(each)
        wait_until(lambda: jobs[1].latest is not None and jobs[1].latest.step >= 2)
        backend.scheduler.cancel(jobs[1])
        assert jobs[0].wait(60) and jobs[2].wait(60)
        assert [jobs[0].state, jobs[1].state, jobs[2].state] == ["done", "cancelled", "done"]
        assert jobs[0].most_shared >= 2 and jobs[2].most_shared >= 2
        network = backend.network("vgg19")
        for index in (0, 2):
            solo = list(requests[index].snapshots(device="cpu", network=network))[-1]
            assert jobs[index].latest is not None and jobs[index].latest.step == 6
            assert jobs[index].latest.loss.total == pytest.approx(solo.loss.total, rel=1e-4)
    finally:
        backend.scheduler.shutdown()


def test_jobs_on_a_dask_cluster_and_trainings_never_share() -> None:
    config = nstcore.StyleConfig(size=40, steps=2, weights="random")
    request = nstcore.RunRequest(config, make_image(40, 30, 1), (make_image(32, 32, 2),))
    here = Backend(weights="random", device_name="cpu")
    assert here.batch_key(request) is not None
    assert Backend(weights="random", device_name="cpu", dask_address="tcp://x:1").batch_key(request) is None
    training = request.replace(photos=(make_image(40, 30, 3),), config=config.replace(generator="hrnet", scales=1))
    assert here.batch_key(training) is None
    assert here.batch_key(request.replace(config=config.replace(size=80))) != here.batch_key(request)
    assert here.batch_key(request.replace(config=config.replace(beta=1.0))) == here.batch_key(request)


def test_the_servers_flag_sets_it_and_the_default_is_off_on_a_cpu() -> None:
    from demo_app.__main__ import build_parser

    assert Backend(weights="random", device_name="cpu", max_queue=Limits.max_queue).scheduler.batch_jobs == 1
    assert build_parser().parse_args(["--batch-jobs", "4"]).batch_jobs == 4


def test_a_slot_whose_fast_member_finished_is_still_under_way() -> None:
    """A batch's members drift apart under load: the first had finished and left while the second still showed
    step 1. The slot then looked new again, and a job queued behind another shape jumped ahead to join it (seen
    once in a full run beside a busy core). A slot is under way once any member went past step 1."""
    slots = Slots(max_concurrent=1, batch_jobs=4, memory_budget=None)
    first, second, late = (Job(s, fake_run(), steps=3, pixels=100, batch_key=128) for s in "acd")
    other = Job("b", fake_run(), steps=3, pixels=100, batch_key=96)
    slot = slots.place(first, [])
    assert slot is not None
    slots.enter(first, slot)
    slots.enter(second, slot)
    first.latest = nstcore.Progress(step=3, total_steps=3, losses=(), elapsed=0.1)
    second.latest = nstcore.Progress(step=1, total_steps=3, losses=(), elapsed=0.1)
    slots.leave(first)
    job, where = slots.next(deque([other, late]), [second])
    assert job is other and where is None  # the 96 waits for the slot, and the late 128 waits behind it
