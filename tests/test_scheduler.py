"""The shared scheduler: FIFO fairness, limits, queue positions, cancelling, failures that do not stop it."""

from __future__ import annotations

import threading
import time

import pytest

import nstcore
from demo_app.jobs.eta import StepCosts
from demo_app.jobs.scheduler import Job, Scheduler, SchedulerError
from demo_app.session.visitor import Visitor

LOSSES = (nstcore.Losses(total=1.0, content=0.5, style={"conv1_1": 0.5}, tv=0.0),)


def fake_run(
    steps: int = 5,
    step_seconds: float = 0.01,
    log: list | None = None,
    name: str = "",
    fail_at: int | None = None,
    error: Exception | None = None,
    gate: threading.Event | None = None,
):
    def start():
        def gen():
            if log is not None:
                log.append(name)
            started = time.perf_counter()
            for step in range(1, steps + 1):
                if gate is not None:
                    gate.wait(5)
                time.sleep(step_seconds)
                if fail_at == step:
                    raise error or RuntimeError("boom")
                yield nstcore.Progress(step, steps, LOSSES, time.perf_counter() - started)

        return gen()

    return start


@pytest.fixture()
def scheduler():
    s = Scheduler(max_concurrent=1, max_queue=3)
    yield s
    s.shutdown()


def job(session: str, **kwargs) -> Job:
    return Job(session, fake_run(name=session, **kwargs), steps=kwargs.get("steps", 5), pixels=100)


def test_jobs_run_first_come_first_served_across_sessions(scheduler) -> None:
    log: list[str] = []
    jobs = [Job(s, fake_run(log=log, name=s), steps=5, pixels=100) for s in ("a", "b", "c")]
    for j in jobs:
        scheduler.submit(j)
    for j in jobs:
        assert j.wait(10)
    assert log == ["a", "b", "c"]
    assert all(j.state == "done" for j in jobs) and scheduler.stats()["done"] == 3


def test_one_active_job_per_session_and_queue_limit(scheduler) -> None:
    gate = threading.Event()
    first = job("a", gate=gate)
    scheduler.submit(first)
    while first.state != "running":
        time.sleep(0.01)
    with pytest.raises(SchedulerError, match="already has a run"):
        scheduler.submit(job("a"))
    for name in ("b", "c", "d"):
        scheduler.submit(job(name))
    with pytest.raises(SchedulerError, match="queue is full"):
        scheduler.submit(job("e"))
    gate.set()


def test_queue_positions_and_eta(scheduler) -> None:
    gate = threading.Event()
    running = Job("a", fake_run(steps=50, step_seconds=0.01, gate=gate), steps=50, pixels=100)
    waiting = [job("b"), job("c")]
    scheduler.submit(running)
    for j in waiting:
        scheduler.submit(j)
    deadline = time.time() + 5
    while running.state != "running" and time.time() < deadline:
        time.sleep(0.01)
    assert scheduler.position(running) == 0
    assert [scheduler.position(j) for j in waiting] == [1, 2]
    gate.set()
    deadline = time.time() + 5
    while (running.latest is None or running.latest.step < 2) and time.time() < deadline:
        time.sleep(0.01)  # two steps: the first also builds the run, so alone it says little about the rest
    eta_b, eta_c = scheduler.eta(waiting[0]), scheduler.eta(waiting[1])
    assert eta_b is not None and 0 < eta_b < 5
    assert eta_c is None or eta_c >= eta_b  # unknown until a job of this server has finished, then larger
    for j in [running, *waiting]:
        assert j.wait(10)
    assert scheduler.position(waiting[1]) == 0


def test_queue_estimates_learn_each_scales_step_time_and_each_jobs_start_up() -> None:
    """Issue 23: a Quick run steps at 64, 128 and 256 px. A running job's time left is its scales left at the step
    times learnt for their sizes (its own speed in the scale it is in, after three steps there); a queued job costs
    the learnt start-up plus its steps. A steps-based estimate said two thirds were done after the 20 coarse steps."""
    plan = [(64 * 48, 20), (128 * 96, 20), (256 * 192, 20)]
    costs = StepCosts()
    done = Job("a", fake_run(steps=60), steps=60, pixels=256 * 192, plan=plan)
    done.marks = {1: 0.5, 20: 1.0, 21: 1.8, 40: 3.0, 41: 5.0, 60: 11.0}  # 0.05, 0.1 and 0.4 s per step
    done.latest, done.started_at, done.finished_at = nstcore.Progress(60, 60, LOSSES, 11.0), 100.0, 113.0
    costs.learn(done)
    assert costs.startup == pytest.approx(2.0)
    assert [costs.per_step(p) for p, _ in plan] == pytest.approx([0.05, 0.1, 0.4])
    assert costs.job_seconds(done) == pytest.approx(2.0 + 20 * (0.05 + 0.1 + 0.4))
    running = Job("b", fake_run(steps=60), steps=60, pixels=256 * 192, plan=plan)
    running.marks, running.latest = {1: 0.4, 20: 0.9}, nstcore.Progress(20, 60, LOSSES, 0.9)
    assert costs.remaining(running, now=0.0) == pytest.approx(20 * 0.1 + 20 * 0.4)  # 10 s, not 0.45 s
    running.marks[41], running.latest = 4.0, nstcore.Progress(51, 60, LOSSES, 4.0 + 10 * 0.2)  # this run: 0.2 s
    assert costs.remaining(running, now=0.0) == pytest.approx(9 * 0.2)
    scheduler = Scheduler(max_concurrent=1, max_queue=4)
    try:

        def slow_start():  # loading and preparing before the first step: what the queue must add for every job
            time.sleep(0.3)
            return fake_run(steps=4, step_seconds=0.05)()

        first = Job("a", slow_start, steps=4, pixels=100)
        second = Job("b", fake_run(steps=4, step_seconds=0.05), steps=4, pixels=100)
        scheduler.submit(first)
        assert first.wait(5)
        scheduler.submit(second)
        ahead, waiting = Job("c", fake_run(), steps=4, pixels=100), Job("d", fake_run(), steps=4, pixels=100)
        scheduler.submit(ahead)
        scheduler.submit(waiting)
        while second.latest is None:
            time.sleep(0.01)
        eta = scheduler.eta(waiting)
        assert eta is not None and eta >= 0.3 + 0.15, eta  # second's rest, then the job ahead: its startup and steps
    finally:
        scheduler.shutdown()


def test_cancel_queued_at_once_and_running_within_a_step(scheduler) -> None:
    running = Job("a", fake_run(steps=1000, step_seconds=0.02), steps=1000, pixels=100)
    queued = job("b")
    scheduler.submit(running)
    scheduler.submit(queued)
    while running.latest is None:
        time.sleep(0.01)
    scheduler.cancel(queued)
    assert queued.state == "cancelled" and queued.take().finished and scheduler.position(queued) == 0
    t = time.perf_counter()
    scheduler.cancel(running)
    assert running.wait(2)
    assert time.perf_counter() - t < 0.5 and running.state == "cancelled" and running.latest.step < 1000
    # the session may submit again right away
    again = job("a")
    scheduler.submit(again)
    assert again.wait(5) and again.state == "done"


def test_a_failing_or_out_of_memory_job_does_not_stop_the_scheduler(scheduler, caplog) -> None:
    oom = Job(
        "a", fake_run(fail_at=2, error=RuntimeError("CUDA out of memory. Tried to allocate 8 GiB")), steps=5, pixels=100
    )
    bad = Job("b", fake_run(fail_at=1, error=ValueError("unexpected")), steps=5, pixels=100)
    good = job("c")
    for j in (oom, bad, good):
        scheduler.submit(j)
    for j in (oom, bad, good):
        assert j.wait(5)
    assert oom.state == "failed" and "ran out of memory" in oom.take().error
    sentence = bad.take().error
    # a sentence for people; the raw exception (which may name server paths) goes to the server log only
    assert bad.state == "failed" and "try again" in sentence
    assert "ValueError" not in sentence and "unexpected" not in sentence
    assert any("unexpected" in (r.exc_text or "") or "unexpected" in str(r.exc_info) for r in caplog.records)
    assert good.state == "done"
    assert scheduler.stats()["failed"] == 2


def test_after_job_hook_runs_for_every_finished_job() -> None:
    seen = []
    s = Scheduler(1, 5, after_job=lambda j: seen.append((j.session_id, j.state)))
    try:
        ok, broken = job("a"), Job("b", fake_run(fail_at=1), steps=5, pixels=1)
        s.submit(ok)
        s.submit(broken)
        assert ok.wait(5) and broken.wait(5)
        deadline = time.time() + 2
        while len(seen) < 2 and time.time() < deadline:
            time.sleep(0.01)
        assert seen == [("a", "done"), ("b", "failed")]
    finally:
        s.shutdown()


def test_session_end_cancels_its_job(tmp_path) -> None:
    from demo_app.jobs.backend import Backend
    from demo_app.session.limits import Limits
    from demo_app.session.state import SessionState

    backend = Backend(weights="random", device_name="cpu", max_concurrent=1)
    blocker = Job("other", fake_run(steps=30, step_seconds=0.05), steps=30, pixels=1)
    backend.scheduler.submit(blocker)
    deadline = time.time() + 5
    while blocker.state != "running" and time.time() < deadline:  # the scheduler thread picks it up
        time.sleep(0.01)
    state = SessionState(backend, Limits())
    state.param.update(size=32, steps=5)
    assert state.start()
    state.poll()
    assert state.status.startswith("Queued: position 1")
    state.close()  # the tab was closed while queued
    assert backend.scheduler.stats()["queued"] == 0
    backend.scheduler.cancel(blocker)
    backend.scheduler.shutdown()


def test_a_weights_failure_names_no_server_path(scheduler) -> None:
    error = nstcore.WeightsError("Weights /srv/secret/vgg19.pth do not fit vgg16: missing 0.weight")
    failing = Job("a", fake_run(fail_at=1, error=error), steps=5, pixels=100)
    scheduler.submit(failing)
    assert failing.wait(5) and failing.state == "failed"
    sentence = failing.take().error
    assert "/srv" not in sentence and ".pth" not in sentence and "other model" in sentence


def test_one_client_cannot_fill_the_queue() -> None:
    scheduler = Scheduler(max_concurrent=1, max_queue=10)
    me = Visitor("browser:me", "10.0.0.7")
    try:
        jobs = [Job(f"s{i}", fake_run(steps=10_000), steps=10_000, pixels=1, visitor=me) for i in range(3)]
        for j in jobs[:2]:
            scheduler.submit(j, max_per_client=2)
        with pytest.raises(SchedulerError, match="You already have 2 runs"):
            scheduler.submit(jobs[2], max_per_client=2)
        other = Job("t", fake_run(steps=3), steps=3, pixels=1, visitor=Visitor("browser:them", "10.0.0.7"))
        scheduler.submit(other, max_per_client=2)  # another person behind the same address still gets in
        scheduler.cancel(jobs[0])
        assert jobs[0].wait(5)
        scheduler.submit(jobs[2], max_per_client=2)  # a slot freed: the same visitor may submit again
    finally:
        scheduler.shutdown(timeout=5)


def test_visitors_take_turns_in_the_queue() -> None:
    """Issue 39: with --max-jobs-per-client 3, a visitor who queued three runs before a newcomer made the newcomer
    wait for all three; now the queue runs one of each visitor's, then the next of each."""
    scheduler = Scheduler(max_concurrent=1, max_queue=20)
    ana, bo, cy = (Visitor(f"browser:{name}", "10.0.0.7") for name in ("ana", "bo", "cy"))
    try:
        scheduler.pause()  # nothing starts: the queue's order is what it will run

        def job(name: str, visitor: Visitor) -> Job:
            return Job(name, fake_run(steps=3), steps=3, pixels=1, visitor=visitor)

        jobs = [job("ana-1", ana), job("ana-2", ana), job("ana-3", ana), job("bo-1", bo), job("bo-2", bo)]
        jobs += [job("cy-1", cy), job("page-1", Visitor()), job("page-2", Visitor())]
        for j in jobs:
            scheduler.submit(j, max_per_client=3)
        order = sorted(jobs, key=scheduler.position)
        assert [j.session_id for j in order] == ["ana-1", "bo-1", "cy-1", "page-1", "page-2", "ana-2", "bo-2", "ana-3"]
        scheduler.resume()
        for j in jobs:
            assert j.wait(10) and j.state == "done"
    finally:
        scheduler.shutdown(timeout=5)


def test_a_script_that_throws_its_cookies_away_meets_the_address_ceiling_and_the_queue() -> None:
    """Every job from a new visitor, all from one address: the address's ceiling holds, with a sentence; another
    address still gets in until the global queue is full, which holds whoever asks."""
    scheduler = Scheduler(max_concurrent=1, max_queue=4)
    try:
        scheduler.pause()  # nothing starts: every job stays in the queue

        def job(i: int, address: str) -> Job:
            return Job(
                f"{address}-{i}", fake_run(steps=3), steps=3, pixels=1, visitor=Visitor(f"b:{address}-{i}", address)
            )

        for i in range(3):
            scheduler.submit(job(i, "10.0.0.7"), max_per_client=1, max_per_address=3)
        with pytest.raises(
            SchedulerError, match=r"Your network already has 3 runs .*\(the most one address may have\)"
        ):
            scheduler.submit(job(3, "10.0.0.7"), max_per_client=1, max_per_address=3)
        scheduler.submit(job(0, "10.0.0.8"), max_per_client=1, max_per_address=3)  # another address
        with pytest.raises(SchedulerError, match="The queue is full"):
            scheduler.submit(job(1, "10.0.0.8"), max_per_client=1, max_per_address=3)
    finally:
        scheduler.shutdown(timeout=5)


def hanging_run(release: threading.Event, after: int = 1):
    """A run that yields ``after`` steps, then hangs (ignoring Stop) until ``release`` is set."""

    def start():
        def gen():
            started = time.perf_counter()
            for step in range(1, after + 1):
                yield nstcore.Progress(step, 100, LOSSES, time.perf_counter() - started)
            release.wait(60)
            yield nstcore.Progress(after + 1, 100, LOSSES, time.perf_counter() - started)

        return gen()

    return start


def started_hanging(scheduler: Scheduler, release: threading.Event, **job_kwargs) -> Job:
    """Submit a job of session "a" that hangs after its first step (see hanging_run), once that step is seen."""
    hung = Job("a", hanging_run(release), steps=100, pixels=1, **job_kwargs)
    scheduler.submit(hung)
    deadline = time.time() + 5
    while hung.latest is None and time.time() < deadline:
        time.sleep(0.01)
    return hung


def test_a_hung_job_is_failed_by_the_watchdog_and_its_thread_keeps_the_slot_until_it_returns() -> None:
    """The page hears why at once; but the left-behind thread still computes, so the next job waits for it instead
    of computing beside it (Run/Stop cycles once stacked 13 computing threads and 16 GB)."""
    release = threading.Event()
    scheduler = Scheduler(max_concurrent=1, max_queue=5, stall_seconds=0.6, watch_every=0.1)
    try:
        hung = Job("a", hanging_run(release), steps=100, pixels=1)
        after = job("b")
        scheduler.submit(hung)
        scheduler.submit(after)
        assert hung.wait(5) and hung.state == "failed"
        assert "no progress" in hung.take().error
        assert not after.wait(1) and after.state == "queued"  # the stuck thread still holds the device
        stats = scheduler.stats()
        assert stats["stuck_threads"] == 1 and stats["workers_replaced"] == 1 and stats["running"] == 0
        assert scheduler.health() == (True, "")  # not yet past stuck_seconds
        release.set()  # the left-behind thread returns: its late step reaches nobody, and the slot is free
        assert after.wait(5) and after.state == "done"
        assert hung.take().rows == [] and scheduler.stats()["stuck_threads"] == 0
    finally:
        release.set()
        scheduler.shutdown(timeout=5)


def test_stop_frees_the_session_at_once_and_the_slot_when_the_thread_returns() -> None:
    release = threading.Event()
    scheduler = Scheduler(max_concurrent=1, max_queue=5, stall_seconds=600, cancel_grace=0.3, watch_every=0.1)
    try:
        hung = started_hanging(scheduler, release)
        waiting = job("b")
        scheduler.submit(waiting)
        scheduler.cancel(hung)
        assert hung.ended and hung.state == "cancelled"  # the page sees it stopped at once
        again = job("a")
        scheduler.submit(again)  # and may queue again at once
        assert not waiting.wait(1.5) and waiting.state == "queued"  # past the grace period: still one thread computing
        assert scheduler.stats()["stuck_threads"] == 1
        release.set()
        assert waiting.wait(5) and waiting.state == "done" and again.wait(5) and again.state == "done"
    finally:
        release.set()
        scheduler.shutdown(timeout=5)


def test_a_thread_stuck_past_the_hard_limit_fails_health() -> None:
    release = threading.Event()
    scheduler = Scheduler(
        max_concurrent=1, max_queue=5, stall_seconds=600, cancel_grace=0.1, watch_every=0.05, stuck_seconds=0.5
    )
    try:
        hung = started_hanging(scheduler, release)
        scheduler.cancel(hung)
        deadline = time.time() + 5
        while scheduler.health()[0] and time.time() < deadline:
            time.sleep(0.05)
        ok, why = scheduler.health()
        assert not ok and "stuck" in why and "restart" in why
        release.set()
        deadline = time.time() + 5
        while not scheduler.health()[0] and time.time() < deadline:
            time.sleep(0.05)
        assert scheduler.health() == (True, "")
    finally:
        release.set()
        scheduler.shutdown(timeout=5)


def test_a_job_past_its_time_cap_is_stopped_with_a_sentence() -> None:
    scheduler = Scheduler(max_concurrent=1, max_queue=5, watch_every=0.05)
    try:
        long = Job("a", fake_run(steps=10_000, step_seconds=0.01), steps=10_000, pixels=1, time_cap=0.3)
        scheduler.submit(long)
        assert long.wait(5) and long.state == "cancelled"
        handover = long.take()
        assert handover.error is None and "time limit of 0.3 s per job" in (handover.reason or "")  # not "0 min"
        assert 0 < long.latest.step < 10_000
    finally:
        scheduler.shutdown(timeout=5)


def test_system_exit_in_a_job_or_the_hook_does_not_kill_the_scheduler() -> None:
    def exits(job):
        raise SystemExit(3)

    scheduler = Scheduler(max_concurrent=1, max_queue=5, after_job=exits)
    try:
        bad = Job("a", fake_run(fail_at=1, error=SystemExit(1)), steps=5, pixels=1)
        good = job("b")
        scheduler.submit(bad)
        scheduler.submit(good)
        assert bad.wait(5) and bad.state == "failed" and "try again" in bad.take().error
        assert good.wait(5) and good.state == "done"
        assert scheduler.health() == (True, "")
    finally:
        scheduler.shutdown(timeout=5)


def test_a_job_handed_to_its_thread_but_not_yet_begun_is_neither_stuck_nor_stalled() -> None:
    """Between the scheduler marking a job running (under its lock) and ``execute`` starting its clock, the job's last
    progress was 0.0: /liveness called it stuck and the watchdog could fail it as stalled for 56 years. Under load a
    (lower-priority) job thread can sit in that gap for a while; here it stays there until released."""
    scheduler = Scheduler(max_concurrent=1, max_queue=5, stall_seconds=0.5, watch_every=0.05)
    begun, release = threading.Event(), threading.Event()
    try:
        waiting = job("a")
        real = waiting.execute

        def late(batch=None) -> None:  # the thread has the job; execute has not begun
            begun.set()
            release.wait(10)
            real(batch)

        waiting.execute = late  # type: ignore[method-assign]
        scheduler.submit(waiting)
        assert begun.wait(5)
        time.sleep(0.3)  # several watchdog rounds
        assert scheduler.health() == (True, "") and scheduler.stats()["stalled"] == 0
        assert waiting.state == "queued" or waiting.state == "running"
        release.set()
        assert waiting.wait(10) and waiting.state == "done"
    finally:
        release.set()
        scheduler.shutdown(timeout=2)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread it kills on purpose
def test_a_dead_worker_thread_is_replaced_and_unhealthy_until_then() -> None:
    scheduler = Scheduler(max_concurrent=1, max_queue=5, watch_every=1000)  # the watchdog sleeps: nothing repairs
    try:
        killer = job("a")
        killer.execute = lambda: (_ for _ in ()).throw(SystemExit(1))  # escapes past every handler
        scheduler.submit(killer)
        deadline = time.time() + 5
        while scheduler.health()[0] and time.time() < deadline:
            time.sleep(0.01)
        ok, why = scheduler.health()
        assert not ok and "died" in why
    finally:
        scheduler.shutdown(timeout=1)
    repaired = Scheduler(max_concurrent=1, max_queue=5, watch_every=0.1)
    try:
        killer = job("a")
        killer.execute = lambda: (_ for _ in ()).throw(SystemExit(1))
        repaired.submit(killer)
        assert killer.wait(5) and killer.state == "failed"  # the job of a dead thread ends with a sentence
        later = job("b")
        repaired.submit(later)
        assert later.wait(5) and later.state == "done" and repaired.health() == (True, "")
    finally:
        repaired.shutdown(timeout=5)


def test_shutdown_ends_queued_and_running_jobs_even_when_one_is_stuck() -> None:
    release = threading.Event()
    scheduler = Scheduler(max_concurrent=1, max_queue=5)
    try:
        hung = Job("a", hanging_run(release), steps=100, pixels=1)
        queued = job("b")
        scheduler.submit(hung)
        scheduler.submit(queued)
        deadline = time.time() + 5
        while hung.latest is None and time.time() < deadline:
            time.sleep(0.01)
        t = time.perf_counter()
        assert scheduler.shutdown(timeout=1) is False  # the stuck thread is left to die with the process
        assert time.perf_counter() - t < 2
        assert queued.state == "cancelled" and hung.state == "cancelled"
        assert "shutting down" in hung.take().error
        with pytest.raises(SchedulerError, match="shutting down"):
            scheduler.submit(job("c"))
    finally:
        release.set()


def test_shutdown_does_not_wait_for_the_watchdogs_next_round() -> None:
    """The watchdog sleeps between rounds; shutdown wakes it (a SIGTERM ended up to a round later, and the suite's
    last 10 s went to a test scheduler whose watchdog slept 1000 s)."""
    scheduler = Scheduler(max_concurrent=1, max_queue=5, watch_every=1000)
    t = time.perf_counter()
    assert scheduler.shutdown(timeout=10) is True
    assert time.perf_counter() - t < 2


def test_jobs_start_only_within_the_devices_memory_budget_leftovers_included() -> None:
    """Two slots, a budget of 100: a 60-byte job waits beside another 60-byte one, also when that one's thread was
    left behind inside its ended job (it still holds the memory); one job alone always runs."""
    release = threading.Event()
    scheduler = Scheduler(
        max_concurrent=2, max_queue=5, stall_seconds=600, cancel_grace=0.1, watch_every=0.05, memory_budget=100
    )
    try:
        big = started_hanging(scheduler, release, memory=60)
        second = Job("b", fake_run(steps=2), steps=2, pixels=1, memory=60)
        small = Job("c", fake_run(steps=2), steps=2, pixels=1, memory=30)
        scheduler.submit(second)
        scheduler.submit(small)
        assert not second.wait(0.5) and second.state == "queued"  # a slot is free, the memory is not
        assert not small.wait(0.1)  # first come, first served: it waits behind the big one
        scheduler.cancel(big)  # its thread stays inside the step: left behind, still holding 60
        time.sleep(0.5)
        assert scheduler.stats()["stuck_threads"] == 1 and second.state == "queued"
        assert scheduler.stats()["memory_in_use"] == 60
        release.set()
        assert second.wait(5) and small.wait(5) and second.state == small.state == "done"
        alone = Job("d", fake_run(steps=1), steps=1, pixels=1, memory=500)  # over the budget, but alone: it runs
        scheduler.submit(alone)
        assert alone.wait(5) and alone.state == "done"
    finally:
        release.set()
        scheduler.shutdown(timeout=5)
