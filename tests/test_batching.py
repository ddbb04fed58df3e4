"""Cross-session batching (nstcore.batching): jobs of different visitors step in one pass, each gets its own result.

Every job here is compared with the same job run alone (same images, weights and steering at the same step).
L-BFGS throughout: each element keeps its own curvature history, which is what makes its result its own.

With convolution kernels whose result does not depend on the batch (torch's own, oneDNN switched off, one thread) a
batched job's every step is *bit for bit* its solo step: nothing couples the elements. With the default oneDNN kernels
a batched convolution rounds differently (measured: 1e-11 to 5e-9 relative at the first step), and L-BFGS carries that
on (up to 2e-5 by step 8 at 40 px, on the 2-core EPYC); that test allows 1e-4 and one grey level.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest
import torch
from conftest import make_image

import nstcore
from nstcore.batching import Batch
from nstcore.lanes import step_lanes
from nstcore.objective import Objective

STEPS = 8


@dataclass
class Job:
    """One visitor's run: its images (by seed), its weights, steering at some steps, where it stops."""

    seed: int
    beta: float
    steer: dict[int, dict[str, Any]] = field(default_factory=dict)  # at step n, Controls.update(**changes)
    stop_after: int | None = None
    wait_for: threading.Event | None = None  # starts once this is set (joins a batch already running)
    reached: dict[int, threading.Event] = field(default_factory=dict)  # set when this job has shown step n
    snapshots: list[nstcore.Progress] = field(default_factory=list)
    error: BaseException | None = None

    def again(self) -> Job:
        return Job(self.seed, self.beta, self.steer, self.stop_after)

    def follow(self, network: nstcore.Network) -> None:
        config = nstcore.StyleConfig(
            size=40, steps=STEPS, weights="random", preview_every=0, precision="fp32", beta=self.beta, seed=self.seed
        )
        controls = nstcore.Controls(config.loss_weights(), lr=config.effective_lr)
        content, style = make_image(40, 30, self.seed), make_image(32, 32, self.seed + 50)
        run = nstcore.run(config, content, style, network=network, controls=controls)
        try:
            for progress in run:
                self.snapshots.append(progress)
                if progress.step in self.steer:
                    controls.update(**self.steer[progress.step])
                if progress.step in self.reached:
                    self.reached[progress.step].set()
                if progress.step == self.stop_after:
                    break
        except Exception as exc:  # noqa: BLE001 - the test looks at it
            self.error = exc
        finally:
            run.close()


def alone(job: Job, network: nstcore.Network) -> Job:
    copy = job.again()
    copy.follow(network)
    return copy


def together(jobs: list[Job], network: nstcore.Network, batch: Batch) -> None:
    """Each job on a thread of its own, joined to ``batch``."""

    def work(job: Job) -> None:
        if job.wait_for is not None:
            assert job.wait_for.wait(60)
        with batch.joined():
            job.follow(network)

    threads = [threading.Thread(target=work, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
        assert not thread.is_alive()


def assert_same(batched: Job, solo: Job, exact: bool = True) -> None:
    assert batched.error is None, batched.error
    assert [p.step for p in batched.snapshots] == [p.step for p in solo.snapshots]
    for mine, theirs in zip(batched.snapshots, solo.snapshots):
        if exact:
            assert mine.losses == theirs.losses, mine.step
        else:
            assert mine.loss.total == pytest.approx(theirs.loss.total, rel=1e-4), mine.step
    last, reference = batched.snapshots[-1].image, solo.snapshots[-1].image
    assert last is not None and reference is not None
    assert np.abs(last.astype(int) - reference.astype(int)).max() <= (0 if exact else 1)


@pytest.fixture(scope="module")
def network() -> nstcore.Network:
    return nstcore.load_network("vgg19", "random", "cpu")


@pytest.fixture()
def exact_kernels():
    """Convolutions whose rounding does not depend on the batch size: torch's own (not oneDNN's), on one thread.

    One thread because MKL's GEMM under torch's convolution splits its work by the problem's size once it has more
    than one: on the 2-core AMX Xeon a batch of three rounded differently from one alone (3e-7 at conv3_1) with two
    threads and was bit for bit the same with one.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():  # torch warns about TF32 on Intel GPUs whenever these flags are set
            warnings.simplefilter("ignore", UserWarning)
            with torch.backends.mkldnn.flags(enabled=False):
                yield
    finally:
        torch.set_num_threads(threads)


def test_jobs_with_their_own_images_weights_and_steering_get_their_solo_results(network, exact_kernels) -> None:
    jobs = [Job(1, 1e6, steer={3: {"beta": 1e7}}), Job(2, 1e5), Job(3, 3e6, steer={5: {"alpha": 4.0}})]
    solos = [alone(job, network) for job in jobs]
    batch = Batch(window=5.0)
    together(jobs, network, batch)
    for job, solo in zip(jobs, solos):
        assert_same(job, solo)
    # They did share: most steps of each job were in one pass with the other two, and each snapshot says so.
    assert batch.most_shared == 3
    assert all(sum(p.shared == 3 for p in job.snapshots) >= STEPS - 2 for job in jobs)
    assert all(p.shared == 1 for p in solos[0].snapshots)


def test_a_job_that_stops_leaves_the_others_running(network, exact_kernels) -> None:
    jobs = [Job(1, 1e6, stop_after=3), Job(2, 1e5)]
    solo = alone(jobs[1], network)
    together(jobs, network, Batch(window=5.0))
    assert [p.step for p in jobs[0].snapshots] == [1, 2, 3]
    assert_same(jobs[1], solo)


def test_a_failing_job_fails_alone(network, monkeypatch, exact_kernels) -> None:
    """Job 1 is steered to a TV weight that (here) breaks its objective: it gets the error, job 2 goes on."""
    real = Objective.evaluate

    def breaks_at_this_tv(self, image, responses=None):
        if self.weights is not None and float(self.weights[0, -1]) == 0.125:
            raise RuntimeError("this element's objective broke")
        return real(self, image, responses)

    monkeypatch.setattr(Objective, "evaluate", breaks_at_this_tv)
    jobs = [Job(1, 1e6, steer={3: {"tv": 0.125}}), Job(2, 1e5)]
    solo = alone(jobs[1], network)
    together(jobs, network, Batch(window=5.0))
    assert isinstance(jobs[0].error, RuntimeError) and [p.step for p in jobs[0].snapshots] == [1, 2, 3]
    assert_same(jobs[1], solo)


def test_a_job_joins_a_running_batch_at_a_step_boundary(network, exact_kernels) -> None:
    first = Job(1, 1e6)
    first.reached[3] = threading.Event()
    second = Job(2, 1e5, wait_for=first.reached[3])
    solos = [alone(first, network), alone(second, network)]
    together([first, second], network, Batch(window=5.0))
    assert_same(first, solos[0])
    assert_same(second, solos[1])
    assert any(p.shared == 2 for p in second.snapshots)
    assert first.snapshots[0].shared == 1


def test_with_the_default_kernels_a_batched_job_is_its_solo_job_to_rounding(network) -> None:
    jobs = [Job(1, 1e6, steer={3: {"beta": 1e7}}), Job(2, 1e5)]
    solos = [alone(job, network) for job in jobs]
    together(jobs, network, Batch(window=5.0))
    for job, solo in zip(jobs, solos):
        assert_same(job, solo, exact=False)
        assert job.snapshots[0].loss.total == pytest.approx(solo.snapshots[0].loss.total, rel=1e-7)


class SleepyLane:
    """A lane whose step takes ``seconds`` (stands for a pass; it never shares one, having no batch key)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.indices = [0]
        self.objective = None
        self.image = torch.zeros(1, 3, 4, 4)
        self.steps = 0

    def set_controls(self, variants, lr) -> None:
        pass

    def step(self) -> torch.Tensor:
        time.sleep(self.seconds)
        self.steps += 1
        return torch.zeros(1, 2)


def _stepper(batch: Batch, lane: SleepyLane, steps: int, pause: dict[int, float] | None = None) -> threading.Thread:
    """A member stepping ``lane`` ``steps`` times, away for ``pause[n]`` seconds after step n (a new scale)."""

    def work() -> None:
        with batch.joined():
            for n in range(1, steps + 1):
                step_lanes([lane])
                time.sleep((pause or {}).get(n, 0.0))

    return threading.Thread(target=work)


def test_a_member_still_setting_up_does_not_hold_the_rounds() -> None:
    """A job that joined and is still computing its targets (a restart, a style at 4x scale) is not waited for: the
    others step at their own pace. Before, the first round waited the whole window for it, and each later one half a
    pass."""
    batch = Batch(window=10.0)
    setting_up, done = threading.Event(), threading.Event()

    def restarting() -> None:
        with batch.joined():
            setting_up.set()
            done.wait(30)

    other = threading.Thread(target=restarting)
    other.start()
    assert setting_up.wait(10)
    lane = SleepyLane(0.2)
    steady = _stepper(batch, lane, 8)
    started = time.monotonic()
    steady.start()
    steady.join(60)
    elapsed = time.monotonic() - started
    done.set()
    other.join(10)
    assert lane.steps == 8
    assert elapsed < 8 * 0.2 + 4.0, elapsed  # the first round alone waited the whole window (10 s) before
    assert batch.short_rounds == 0


def test_a_member_away_for_a_while_costs_the_others_one_short_round() -> None:
    """A member that stepped, then leaves the step loop for a second (its next scale's targets), delays the next
    round by at most half a pass and is not waited for again until it steps."""
    batch = Batch(window=10.0)
    fast, away = SleepyLane(0.3), SleepyLane(0.3)  # a round waits at most half a pass: 0.15 s
    threads = [_stepper(batch, fast, 10), _stepper(batch, away, 4, pause={2: 1.2})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert fast.steps == 10 and away.steps == 4
    assert batch.short_rounds <= 2  # the round it missed (and at most one more, the start's race)


def test_a_request_of_a_job_stopped_after_it_asked_is_dropped_from_the_round() -> None:
    from nstcore.batching import _Member, _Request
    from nstcore.interrupt import Stopped

    batch = Batch()
    kept, dropped = SleepyLane(0.0), SleepyLane(0.0)
    requests = [
        _Request([kept], lambda: False, _Member(batch)),
        _Request([dropped], lambda: True, _Member(batch)),
    ]
    batch._run(requests)
    assert kept.steps == 1 and requests[0].error is None and requests[0].terms[0] is not None
    assert dropped.steps == 0 and isinstance(requests[1].error, Stopped)
