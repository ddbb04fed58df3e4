"""Scale-out: a job runs on a Dask worker (LocalCluster, separate process) and streams its progress back."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from demo_app.backend import Backend
from demo_app.limits import Limits
from demo_app.state import SessionState
from test_state import drain


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    # Worker processes import demo_app.dask_runner: make the repository importable there too.
    root = str(Path(__file__).resolve().parents[1])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, old) if p)
    try:
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                          silence_logs=40) as local:
            yield local
    finally:
        if old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old


@pytest.fixture()
def state(cluster):
    backend = Backend(weights="random", device_name="cpu", dask_address=cluster.scheduler_address)
    s = SessionState(backend, Limits())
    s.param.update(size=40, steps=8, preview_every=4)
    yield s
    s.close()
    s.wait(30)
    backend.scheduler.shutdown()


def test_a_job_runs_remotely_and_streams_progress(state, cluster) -> None:
    assert state.start()
    rows, frames = drain(state, timeout=120)
    assert [step for step, _ in rows] == list(range(1, 9))
    assert frames and frames[-1][0].shape == (30, 40, 3)
    assert state.status.startswith("Done: 8 steps")
    # it really ran as a task on the cluster (whose worker is another process)
    from demo_app.dask_runner import _client

    prefixes = _client(cluster.scheduler_address).run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.task_prefixes))
    assert "nst-job" in prefixes


def test_remote_job_can_be_steered_and_stopped(state) -> None:
    state.steps = 2000
    assert state.start()
    rows, _ = drain(state, until=lambda s, h: s.step >= 3, timeout=120)
    layers = dict(state.style_layers)
    del layers["conv1_1"]
    state.style_layers = layers
    seen = state.step
    later, _ = drain(state, until=lambda s, h: s.step >= seen + 6, timeout=60)
    assert any(losses[0].style["conv1_1"] == 0.0 for step, losses in later if step > seen + 2)
    state.stop()
    drain(state, timeout=30)
    assert state.status.startswith("Stopped at step") and state.step < 2000


def test_remote_errors_come_back_as_sentences(state) -> None:
    state.set_image("content", _strip_png(), "strip.png")
    assert state.start()
    drain(state, timeout=120)
    assert "too thin" in state.error and not state.running


def _strip_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (400, 2)).save(buffer, format="PNG")
    return buffer.getvalue()
