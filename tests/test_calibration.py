"""Sizes, steps and estimates from the device's measured speed: a fake device clock, fast and slow, through the same
code path a GPU takes (nstcore.calibrate with its timing replaced), and one real calibration on this CPU."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
import torch
from test_scheduler import LOSSES, fake_run

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.jobs.eta import StepCosts
from demo_app.jobs.job import Job
from demo_app.jobs.slots import AUTO_BATCH_JOBS
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.dashboard import Dashboard
from nstcore.calibration import FULL_PLAN, QUICK_PLAN, RunTargets, calibrate, pixels_of, plan_of, run_lengths

CPU = SimpleNamespace(device=torch.device("cpu"))


def fake_device(step_at_256: float, batch_ratio: float = 1.0, fixed: float = 0.0):
    """A device whose L-BFGS step takes ``fixed`` + ``step_at_256`` x (pixels / 256x192) ** 0.85 seconds (a scale's
    first step twice that), and whose batched pass costs ``batch_ratio`` of separate ones."""

    def measure(side: int, pictures: int) -> tuple[float, float, float]:
        step = fixed + step_at_256 * (pixels_of(side) / pixels_of(256)) ** 0.85
        step *= pictures * (batch_ratio if pictures > 1 else 1.0)
        return 0.05, 2 * step, step

    return measure


def sizes(calibration, **targets) -> tuple[int, int]:
    lengths = run_lengths(calibration, RunTargets(**targets), 1024)
    return lengths["quick"]["size"], lengths["full"]["size"]


def predicted(calibration, key: str, size: int) -> float:
    return calibration.plan_seconds(plan_of(size, QUICK_PLAN if key == "quick" else FULL_PLAN))


def test_sizes_follow_the_device_s_speed() -> None:
    slow = calibrate(CPU, measure=fake_device(0.4))  # a 2-core CPU of the older kind
    cpu = calibrate(CPU, measure=fake_device(0.2))  # this machine, about
    gpu = calibrate(CPU, measure=fake_device(0.004, batch_ratio=0.3, fixed=0.002))
    (q_slow, f_slow), (q_cpu, f_cpu), (q_gpu, f_gpu) = sizes(slow), sizes(cpu), sizes(gpu)
    assert q_slow == 256 and f_slow >= 384  # Quick's floor; Full at least 1.5x Quick
    assert q_slow <= q_cpu < q_gpu and f_slow < f_cpu < f_gpu  # faster device, larger pictures
    assert f_gpu == 1024 and q_gpu <= 1024 / 1.5  # both capped: Full stays larger
    for calibration, quick, full in ((cpu, q_cpu, f_cpu), (gpu, q_gpu, f_gpu)):
        assert full >= 1.5 * quick
        assert predicted(calibration, "quick", quick) <= 10 and predicted(calibration, "full", full) <= 60
    assert predicted(cpu, "quick", q_cpu + 32) > 10 or q_cpu + 32 > f_cpu / 1.5  # the largest that fits
    assert sizes(cpu, quick_seconds=20) > sizes(cpu) and sizes(cpu, full_size=800) == (q_cpu, 800)
    assert sizes(cpu, quick_size=128, full_size=200) == (128, 200)  # pinned sizes win
    assert run_lengths(gpu, RunTargets(), 512)["full"]["size"] == 512  # the host's --max-size caps both
    assert gpu.batching_pays and not cpu.batching_pays
    assert "batching pays" in gpu.lines()[1] and "0.2 s at 256 px" in cpu.lines()[0]
    assert {**run_lengths(None)["quick"], "size": 0} == {**QUICK_PLAN, "size": 0}  # the steps stay the same


def test_the_fit_passes_through_what_was_measured_and_never_promises_a_big_picture_fast() -> None:
    cpu = calibrate(CPU, measure=fake_device(0.2), batch=False)
    for side in (64, 128, 256):
        assert cpu.step_seconds(pixels_of(side)) == pytest.approx(0.2 * (pixels_of(side) / pixels_of(256)) ** 0.85)
    assert cpu.step_seconds(pixels_of(1024)) >= 0.2 * (pixels_of(1024) / pixels_of(256)) ** 0.85
    assert cpu.batch_ratio is None and "not measured" in cpu.lines()[1]
    with pytest.raises(nstcore.ConfigError, match="quick-seconds must be"):
        RunTargets(quick_seconds=0)
    with pytest.raises(nstcore.ConfigError, match="full-size must be at least 16"):
        RunTargets(full_size=8)


def test_a_calibrated_server_sizes_its_pages_seeds_its_estimates_and_batches_where_it_pays(monkeypatch) -> None:
    """The dashboard side of the same path: a fast fake device gives larger Quick and Full with their times on the
    buttons before any job has run, queue estimates from the start, and batching turned on (--batch-jobs auto)."""
    gpu = calibrate(CPU, measure=fake_device(0.004, batch_ratio=0.3, fixed=0.002))
    monkeypatch.setattr(nstcore, "calibrate", lambda network, before_each=None: gpu)
    backend = Backend(weights="random", device_name="cpu")
    try:
        assert backend.scheduler.batch_jobs == 1
        thread = backend.calibrate_in_background()
        assert thread is not None
        thread.join(60)
        assert backend.calibration is gpu and backend.scheduler.batch_jobs == AUTO_BATCH_JOBS
        assert len([t for t in backend.scheduler._workers.values() if t.is_alive()]) == AUTO_BATCH_JOBS
        state = SessionState(backend, Limits())
        dashboard = Dashboard(state)
        quick, full = dashboard.controls.run_length.options
        q, f = sizes(gpu)
        assert quick.startswith("Quick ~") and quick.endswith(f" · {q} px") and full.endswith(f" · {f} px"), quick
        dashboard.controls.run_length.value = "quick"
        assert state.size == q  # Quick at this device's size
        assert backend.scheduler.estimate(plan_of(q, QUICK_PLAN)) == pytest.approx(predicted(gpu, "quick", q), 0.2)
        pinned = Backend(weights="random", device_name="cpu", batch_jobs=2)
        pinned.calibrate_in_background().join(60)  # type: ignore[union-attr]
        assert pinned.scheduler.batch_jobs == 2  # the host's --batch-jobs stays
        pinned.scheduler.shutdown()
    finally:
        backend.scheduler.shutdown()


def test_a_fresh_server_s_first_estimates_come_from_the_calibration() -> None:
    """'about 2 min' for a 23-s wait: a fresh server had nothing to go on. Seeded, the first estimate of a queued
    job and the time left at step 1 of a coarse-to-fine run are near the truth (the fake steps take what the
    calibration says)."""
    step = 0.02
    calibration = calibrate(CPU, measure=lambda side, n: (0.0, step, step), batch=False)  # every step 0.02 s
    costs = StepCosts()
    plan = [(pixels_of(64), 10), (pixels_of(128), 10), (pixels_of(256), 10)]
    assert costs.plan_seconds(plan) is None  # nothing to go on
    costs.prior = calibration
    assert costs.plan_seconds(plan) == pytest.approx(30 * step, rel=0.1)
    job = Job("page", fake_run(steps=30, step_seconds=step), steps=30, pixels=plan[-1][0], plan=plan)
    job.started_at = time.time()
    job.latest = nstcore.Progress(1, 30, LOSSES, 0.05)  # the first step built the scale: slow
    job.marks[1] = 0.05
    left = costs.remaining(job, time.time())
    assert left is not None and left == pytest.approx(29 * step, rel=0.5)  # not 3x too long


def test_this_cpu_calibrates_in_seconds_through_the_engine() -> None:
    network = nstcore.load_network("vgg19", "random", torch.device("cpu"))
    began = time.perf_counter()
    calibration = calibrate(network, sides=(32, 64), batch=True)
    assert time.perf_counter() - began < 60
    assert all(seconds > 0 for seconds in calibration.step.values())
    assert calibration.step[pixels_of(64)] > calibration.step[pixels_of(32)] * 0.5
    assert calibration.batch_ratio is not None and calibration.batch_ratio > 0
    assert calibration.precision in ("fp32", "bf16") and calibration.device.startswith("cpu")


def test_the_calibration_waits_for_the_room_s_jobs_and_gives_up_when_the_server_stops(monkeypatch) -> None:
    """Pages that come first work normally: a job running at start makes the calibration wait (a job beside it would
    skew both); a server stopping meanwhile ends it without figures (a thread inside torch at exit aborts it)."""
    import threading

    measured: list[int] = []

    def calibrate_fake(network, before_each=None):
        def measure(side: int, pictures: int):
            measured.append(side)
            return fake_device(0.2)(side, pictures)

        return calibrate(CPU, measure=measure, before_each=before_each)

    monkeypatch.setattr(nstcore, "calibrate", calibrate_fake)
    for stop in (False, True):
        measured.clear()
        backend = Backend(weights="random", device_name="cpu")
        gate = threading.Event()
        job = Job("page", fake_run(steps=2, gate=gate), steps=2, pixels=1)
        backend.scheduler.submit(job)
        thread = backend.calibrate_in_background()
        assert thread is not None
        thread.join(1.0)
        assert thread.is_alive() and measured == [] and backend.calibration is None  # waiting for the room's job
        if stop:
            backend.scheduler.shutdown(timeout=5)
            gate.set()
            thread.join(10)
            assert not thread.is_alive() and backend.calibration is None and measured == []
        else:
            gate.set()
            thread.join(30)
            assert backend.calibration is not None and measured[:3] == [64, 128, 256]
            backend.scheduler.shutdown(timeout=5)


def test_the_default_max_size_follows_the_device_unless_the_host_names_one(monkeypatch) -> None:
    """Bigger and --max-size follow the same model: without a --max-size, the largest picture is what one Bigger pass
    makes within 2x Full's target, held to what one job's memory may use (--max-job-gb), at least 1024 px."""
    from demo_app.__main__ import build_parser, max_size_follows
    from demo_app.jobs.memory import largest_side_in_memory
    from nstcore.calibration import default_max_size

    monkeypatch.delenv("NST_MAX_SIZE", raising=False)
    slow, cpu, gpu = (calibrate(CPU, measure=fake_device(s), batch=False) for s in (0.4, 0.2, 0.005))
    memory = largest_side_in_memory(8.0)
    assert 1024 <= default_max_size(slow, RunTargets(), memory) < default_max_size(cpu, RunTargets(), memory)
    assert default_max_size(gpu, RunTargets(), memory) == memory // 32 * 32  # the memory estimate holds it
    assert default_max_size(gpu, RunTargets(), largest_side_in_memory(2.0)) == 1024
    chosen: list[Limits] = []
    follow = max_size_follows(build_parser().parse_args([]), Limits(), RunTargets(), chosen.append)
    assert follow is not None
    follow(cpu)
    assert chosen == [Limits(max_size=default_max_size(cpu, RunTargets(), memory))]
    assert max_size_follows(build_parser().parse_args(["--max-size", "800"]), Limits(), RunTargets(), print) is None
    monkeypatch.setenv("NST_MAX_SIZE", "900")
    assert max_size_follows(build_parser().parse_args([]), Limits(), RunTargets(), print) is None


def test_a_job_arriving_mid_measurement_stops_it_between_layers_and_it_is_made_again_after(monkeypatch) -> None:
    """A measurement under way when a page presses Run (or when the server stops) ends at the next layer
    (nstcore.stop_when), so the room's first run never waits for it and a stopping process leaves no thread inside
    torch; the calibration measures again once the device is idle."""
    import threading

    from nstcore.interrupt import Stopped, stop_requested

    for stop in (False, True):
        interrupted = threading.Event()

        def measure(side: int, pictures: int, interrupted=interrupted):
            if not interrupted.is_set():  # the first measurement would run on until its owner asks it to stop
                while not stop_requested():
                    time.sleep(0.01)
                interrupted.set()
                raise Stopped()
            return fake_device(0.2)(side, pictures)

        monkeypatch.setattr(
            nstcore,
            "calibrate",
            lambda network, before_each=None, m=measure: calibrate(CPU, measure=m, before_each=before_each),
        )
        backend = Backend(weights="random", device_name="cpu")
        thread = backend.calibrate_in_background()
        assert thread is not None
        time.sleep(0.3)
        assert not interrupted.is_set()  # measuring, with nothing else to do
        if stop:
            backend.scheduler.shutdown(timeout=5)
            thread.join(10)
            assert interrupted.is_set() and not thread.is_alive() and backend.calibration is None
            continue
        job = Job("page", fake_run(steps=3), steps=3, pixels=1)
        backend.scheduler.submit(job)
        assert interrupted.wait(5) and job.wait(10) and job.state == "done"
        thread.join(30)
        assert backend.calibration is not None
        backend.scheduler.shutdown(timeout=5)
