"""Scale-out: a job runs on a Dask worker (LocalCluster, separate process) and streams its progress back."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from conftest import drain

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState


@pytest.fixture(scope="module")
def cluster():
    from distributed import LocalCluster

    # Worker processes import demo_app.jobs.dask_runner: make the repository importable there too. And Dask's nanny
    # writes its workers' environment (OMP_NUM_THREADS=1, MKL_NUM_THREADS=1 ...) into *this* process's os.environ
    # for good: every process the later tests start (the CLI, servers) then ran torch on one thread. Put it back.
    saved = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, old) if p)
    try:
        with LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        ) as local:
            yield local
            from demo_app.jobs.dask_runner import _clients

            for client in list(_clients.values()):  # before the cluster goes, or they retry connecting at exit
                client.close()
            _clients.clear()
    finally:
        os.environ.clear()
        os.environ.update(saved)


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
    from demo_app.jobs.dask_runner import _client

    prefixes = _client(cluster.scheduler_address).run_on_scheduler(
        lambda dask_scheduler: list(dask_scheduler.task_prefixes)
    )
    assert "nst-job" in prefixes


def test_training_for_any_photo_runs_on_the_cluster(state) -> None:
    """The page's "Train for any photo" job goes to a worker like a run, and its generator comes back."""
    state.param.update(size=32, steps=4, precision="fp32")
    assert state.start_training(), state.error
    rows, _ = drain(state, timeout=120)
    assert [step for step, _ in rows] == [1, 2, 3, 4]
    assert state.error == "" and state.trained is not None and state.trained[1].generator == "hrnet"
    assert "One generator for 2 photos" in " ".join(state.notes)


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
    for beta in (2e6, 3e6, 4e6):  # three quick changes: the worker applies them at once
        state.beta = beta
    seen = state.step
    drain(state, until=lambda s, h: s.step >= seen + 4, timeout=60)
    state.stop()
    drain(state, timeout=30)
    assert state.status.startswith("Stopped at step") and state.step < 2000
    # the worker reports the server's Controls versions, so every change is placed at the step that used it
    assert all(change.get("placed") and change["step"] > 3 for change in state.run.changes), state.run.changes


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


def leftovers(cluster) -> dict:
    """What the cluster still holds of this app's jobs: queues, variables, and tasks not yet done."""
    from demo_app.jobs.dask_runner import _client

    def look(dask_scheduler=None):
        queues = dask_scheduler.extensions["queues"].queues
        variables = dask_scheduler.extensions["variables"].variables
        return {
            "queues": [n for n in queues if n.startswith("nst-")],
            "variables": [n for n in variables if n.startswith("nst-")],
            "tasks": [
                str(k)
                for k, ts in dask_scheduler.tasks.items()
                if str(k).startswith("nst-job") and ts.state in ("processing", "waiting", "no-worker", "queued")
            ],
        }

    return _client(cluster.scheduler_address).run_on_scheduler(look)


def _wait_clean(cluster, timeout: float) -> dict:
    import time

    deadline = time.time() + timeout
    while True:
        left = leftovers(cluster)
        if not any(left.values()) or time.time() > deadline:
            return left
        time.sleep(0.5)


def test_a_stopped_job_leaves_nothing_on_the_cluster(state, cluster) -> None:
    state.steps = 2000
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 2, timeout=120)
    state.stop()
    drain(state, timeout=30)
    assert state.wait(30)
    assert _wait_clean(cluster, 15) == {"queues": [], "variables": [], "tasks": []}


def test_a_lost_worker_fails_the_job_without_rerunning_it(state, cluster) -> None:
    from demo_app.jobs.dask_runner import _client

    state.steps = 5000
    assert state.start()
    rows, _ = drain(state, until=lambda s, h: s.step >= 3, timeout=120)
    try:  # the worker process dies mid-job; its nanny starts a new one, to which Dask hands the task again
        _client(cluster.scheduler_address).run(os._exit, 1)
    except Exception:  # noqa: BLE001 - the call itself fails with the worker
        pass
    more, _ = drain(state, timeout=180)
    steps = [step for step, _ in rows + more]
    assert steps == sorted(set(steps)), "the chart went backwards"
    assert "worker running this job was lost" in state.error and not state.running
    assert _wait_clean(cluster, 30) == {"queues": [], "variables": [], "tasks": []}
    _client(cluster.scheduler_address).wait_for_workers(1, timeout=120)


def test_a_crashed_server_stops_its_remote_task(cluster, tmp_path) -> None:
    import subprocess
    import sys
    import textwrap

    root = Path(__file__).resolve().parents[1]
    script = tmp_path / "crashing_server.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, sys, time
        sys.path[:0] = [{str(root)!r}, {str(root / "tests")!r}]
        import demo_app.jobs.dask_runner as runner
        runner.HEARTBEAT_TIMEOUT = 3.0
        from demo_app.jobs.backend import Backend
        from demo_app.session.limits import Limits
        from demo_app.session.state import SessionState
        backend = Backend(weights="random", device_name="cpu", dask_address={cluster.scheduler_address!r})
        state = SessionState(backend, Limits())
        state.param.update(size=40, steps=5000, preview_every=0)
        assert state.start()
        deadline = time.time() + 120
        while state.step < 2 and time.time() < deadline:
            state.poll()
            time.sleep(0.05)
        print("running", state.step, flush=True)
        os._exit(1)  # a crash: no cleanup, no goodbye
    """)
    )
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert "running" in result.stdout, result.stderr[-2000:]
    assert _wait_clean(cluster, 40) == {"queues": [], "variables": [], "tasks": []}


@pytest.fixture(scope="module")
def empty_cluster(cluster):
    """A scheduler with no worker (after the module's cluster: its fixture keeps the environment clean)."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=0, processes=True, dashboard_address=None, silence_logs=40) as local:
        yield local
        from demo_app.jobs.dask_runner import _clients

        client = _clients.pop(local.scheduler_address, None)
        if client is not None:
            client.close()


def _state_on(cluster) -> SessionState:
    backend = Backend(weights="random", device_name="cpu", dask_address=cluster.scheduler_address)
    state = SessionState(backend, Limits())
    state.param.update(size=40, steps=8, preview_every=4)
    return state


def test_with_no_worker_a_job_fails_with_a_sentence_and_leaves_nothing(empty_cluster, monkeypatch) -> None:
    """It used to wait for the 300-s stall watchdog without a word."""
    from demo_app.jobs import dask_runner

    monkeypatch.setattr(dask_runner, "NO_WORKER_SECONDS", 2.0)
    state = _state_on(empty_cluster)
    try:
        assert state.start()
        drain(state, timeout=60)
        assert "No cluster worker is there to run this job" in state.error and not state.running
        assert _wait_clean(empty_cluster, 15) == {"queues": [], "variables": [], "tasks": []}
    finally:
        state.close()
        state.backend.scheduler.shutdown()


def test_stop_while_waiting_for_a_worker_ends_the_job_and_cleans_up(empty_cluster) -> None:
    """Stop (and a server's shutdown) reached a job only when it yielded a step: one waiting for a worker kept its
    thread, and its queue and variables stayed on the scheduler after the server stopped."""
    state = _state_on(empty_cluster)
    try:
        assert state.start()
        time.sleep(1.5)  # queued on the cluster, no worker
        assert any(leftovers(empty_cluster).values())
        t = time.perf_counter()
        assert state.backend.scheduler.shutdown(timeout=10)  # as on SIGTERM: every thread returns
        assert time.perf_counter() - t < 3
        assert _wait_clean(empty_cluster, 10) == {"queues": [], "variables": [], "tasks": []}
    finally:
        state.close()


def test_the_jobs_of_a_crashed_server_are_swept_away(empty_cluster) -> None:
    from distributed import Queue, Variable

    from demo_app.jobs.dask_runner import _client, _names, sweep

    client = _client(empty_cluster.scheduler_address)
    names = _names("orphan")
    Queue(names["progress"], client=client).put(b"x")
    for what in ("stop", "controls", "attempt"):
        Variable(names[what], client=client).set("x")
    Variable(names["beat"], client=client).set(time.time() - 700)  # its server last beat 700 s ago
    fresh = _names("alive")
    Variable(fresh["beat"], client=client).set(time.time())
    sweep(client)
    left = leftovers(empty_cluster)
    assert left["queues"] == [] and left["variables"] == [fresh["beat"]]
    Variable(fresh["beat"], client=client).delete()


def test_the_record_names_the_worker_the_job_ran_on(state, cluster) -> None:
    """A Dask nanny starts its workers with OMP_NUM_THREADS=1: the record gave the server's CPU thread count, so a
    replay ran on other threads than the job had (other last bits). It now gives the worker's device and threads."""
    import torch

    from demo_app.jobs.dask_runner import _client

    assert state.start()
    drain(state, timeout=120)
    answers = _client(cluster.scheduler_address).run(lambda: __import__("torch").get_num_threads())
    (worker_threads,) = answers.values()
    if (os.cpu_count() or 1) > 1:  # what makes this test able to fail: the two differ
        assert worker_threads != torch.get_num_threads()
    run = state.run.record_dict()["run"]
    assert run["cpu_threads"] == worker_threads and run["device"] == f"cpu ({worker_threads} threads)"
