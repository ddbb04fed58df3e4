"""Scale-out: run jobs on a Dask distributed cluster, each worker with its own device and cached network.

The server's scheduler still decides *when* a job runs (FIFO, limits); with ``--dask-scheduler tcp://host:port`` the
job's optimisation itself runs on a Dask worker. Progress snapshots stream back through a ``distributed.Queue``
named after the job; Stop, the live weight changes and a heartbeat travel the other way through
``distributed.Variable``s, read by the worker at every step. The worker needs this repository importable (start
``dask worker`` from its root).

No surprises: a job runs at most once (Dask would re-run the task of a lost worker from step 1; the re-run sees the
job's attempt marker and ends at once, and the page gets a sentence); a job with no worker to run it fails after
NO_WORKER_SECONDS with a sentence (it used to wait for the 300-s stall watchdog, without a word); Stop and a server's
shutdown end a job that still waits for a worker at once; a task whose server stops heartbeating (gone, crashed)
stops by itself; the job's queue and variables are removed from the scheduler whatever the ending, and those of a
server that crashed before its task started are swept away after ORPHAN_SECONDS by the next job of any server.
"""

from __future__ import annotations

import dataclasses
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import nstcore

from ..session.imaging import encode_png

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
POLL_SECONDS = 0.05


def _client(address: str):
    from distributed import Client

    with _clients_lock:
        client = _clients.get(address)
        if client is None or client.status not in ("running", "connecting"):
            client = Client(address, timeout="10s")
            _clients[address] = client
        return client


def _controls_payload(controls: nstcore.Controls, image_requests: int) -> bytes:
    state = controls.read()
    return pickle.dumps((state.version, state.variants, state.lr, image_requests))


# A task stops when the server's heartbeat has not changed for this long (by the worker's own clock, so clock skew
# between machines does not matter). The server beats every HEARTBEAT_EVERY seconds while it streams.
HEARTBEAT_TIMEOUT = 15.0
HEARTBEAT_EVERY = 1.0
LOST = -1  # what a task returns when it finds it is a re-run (its first run's worker was lost)
# A job fails with a sentence when the cluster has had no worker for this long.
NO_WORKER_SECONDS = 30.0
# A job whose heartbeat (the server's wall clock) is older than this is an orphan: its server is gone.
ORPHAN_SECONDS = 600.0


def _names(key: str) -> dict[str, str]:
    return {what: f"nst-{what}-{key}" for what in ("progress", "stop", "controls", "beat", "attempt")}


def forget(client, key: str) -> None:
    """Remove a job's queue and variables from the Dask scheduler (any ending; safe to call more than once)."""
    names = _names(key)

    def drop(dask_scheduler=None) -> None:
        queues = dask_scheduler.extensions.get("queues")
        if queues is not None and names["progress"] in queues.queues:
            queues.client_refcount[names["progress"]] = 1
            queues.release(name=names["progress"])
        variables = dask_scheduler.extensions.get("variables")
        if variables is not None:
            for what in ("stop", "controls", "beat", "attempt"):
                variables.variables.pop(names[what], None)
                variables.waiting_conditions.pop(names[what], None)

    try:
        client.run_on_scheduler(drop)
    except Exception:  # noqa: BLE001 - the cluster may be gone: then so is everything on it
        pass


def sweep(client, older_than: float = ORPHAN_SECONDS) -> None:
    """Forget every job whose server has not beaten for ``older_than`` seconds (it crashed before its task ran, so
    no task is there to clean up after it)."""

    def stale(dask_scheduler=None) -> list[str]:
        variables = dask_scheduler.extensions.get("variables")
        if variables is None:
            return []
        now, keys = time.time(), []
        for name, record in list(variables.variables.items()):
            value = record.get("value") if isinstance(record, dict) else None
            if name.startswith("nst-beat-") and isinstance(value, (int, float)) and now - value > older_than:
                keys.append(name.removeprefix("nst-beat-"))
        return keys

    try:
        orphans = client.run_on_scheduler(stale)
    except Exception:  # noqa: BLE001 - the cluster may be gone
        return
    for key in orphans:
        forget(client, key)


def _workers(client) -> int:
    try:
        return len(client.scheduler_info(n_workers=1).get("workers", {}))
    except Exception:  # noqa: BLE001 - the scheduler is unreachable: no worker either
        return 0


def remote_job(
    key: str, weights: str, device_name: str, request: nstcore.RunRequest, heartbeat_timeout: float = HEARTBEAT_TIMEOUT
) -> int:
    """Runs on a Dask worker: optimise and put every snapshot (pickled) on the job's queue. Returns steps done, or
    LOST when this is Dask re-running the task of a lost worker (the job already ran, partly, elsewhere)."""
    from distributed import Queue, Variable, get_client

    client = get_client()
    names = _names(key)
    attempt = Variable(names["attempt"], client=client)
    if _read(attempt, "gone") != "new":
        return LOST
    attempt.set("started")
    queue = Queue(names["progress"], client=client)
    stop = Variable(names["stop"], client=client)
    steer = Variable(names["controls"], client=client)
    beat = Variable(names["beat"], client=client)
    device = nstcore.resolve_device(device_name)
    network = nstcore.load_network(request.config.model, weights, device)  # cached per worker process
    version, _, lr, requests = pickle.loads(steer.get())
    controls = nstcore.Controls([v.weights for v in request.variants or ()], lr=lr)
    seen_version, seen_requests = version, requests
    # The engine here numbers its own Controls' versions; the page knows the server's. Every snapshot goes back with
    # the server's version in effect, so the page can tell at which step a change it made took effect (records).
    server_of = {controls.read().version: version}
    last_beat, beat_seen_at = _read(beat, None), time.monotonic()
    steps = 0
    snapshots = request.snapshots(device=device, network=network, controls=controls)
    try:
        for progress in snapshots:
            steps = progress.step
            here = max((v for v in server_of if v <= progress.controls_version), default=None)
            progress = dataclasses.replace(progress, controls_version=server_of[here] if here is not None else 0)
            queue.put(pickle.dumps(progress))
            if progress.done:
                break
            if _read(stop, True):  # stopped (or the server forgot the job): it reads nothing more from the queue
                forget(client, key)
                break
            now_beat = _read(beat, None)
            if now_beat != last_beat:
                last_beat, beat_seen_at = now_beat, time.monotonic()
            elif time.monotonic() - beat_seen_at > heartbeat_timeout:
                forget(client, key)  # the server is gone: nobody else will clean up
                break
            version, remote_variants, lr, requests = pickle.loads(
                _read(steer, pickle.dumps((seen_version, None, lr, seen_requests)))
            )
            if version != seen_version and remote_variants is not None:
                for i, weights_i in enumerate(remote_variants):
                    controls.replace(i, **dataclasses.asdict(weights_i))
                controls.set_lr(lr)
                seen_version = version
                server_of[controls.read().version] = version
            if requests != seen_requests:
                controls.request_image()
                seen_requests = requests
    finally:
        snapshots.close()
        nstcore.release_memory(device)
    return steps


class WorkerLost(nstcore.NSTError):
    """The Dask worker running a job went away mid-run."""


class NoWorker(nstcore.NSTError):
    """The cluster has no worker to run the job."""


def _read(variable, missing):
    """A Variable's value, or ``missing`` if it was deleted or the scheduler is unreachable (a Variable.get without
    timeout would wait for ever for a deleted one)."""
    try:
        return variable.get(timeout=5)
    except Exception:  # noqa: BLE001 - TimeoutError, or the cluster went away: both mean "not there"
        return missing


def remote_runner(
    address: str, weights: str, device_name: str, request: nstcore.RunRequest, controls: nstcore.Controls
) -> Callable[[], Iterator[nstcore.Progress]]:
    """A ``start_run`` for :class:`demo_app.jobs.scheduler.Job` that runs ``request`` on the cluster at
    ``address`` (its images travel as PNG bytes)."""

    def start_run() -> Iterator[nstcore.Progress]:
        return _stream(address, weights, device_name, request, controls)

    return start_run


LOST_SENTENCE = (
    "The cluster worker running this job was lost (stopped or crashed); the settings are kept, so try again."
)
NO_WORKER_SENTENCE = (
    "No cluster worker is there to run this job; the host needs to start one (dask worker), so try again later."
)


def _stream(
    address: str, weights: str, device_name: str, request: nstcore.RunRequest, controls: nstcore.Controls
) -> Iterator[nstcore.Progress]:
    from distributed import Queue, Variable

    client = _client(address)
    key = uuid.uuid4().hex
    names = _names(key)
    Variable(names["attempt"], client=client).set("new")
    queue = Queue(names["progress"], client=client)
    stop = Variable(names["stop"], client=client)
    steer = Variable(names["controls"], client=client)
    beat = Variable(names["beat"], client=client)
    stop.set(False)
    beat.set(time.time())  # the server's wall clock: a sweep tells an orphan by it
    requests = 0
    steer.set(_controls_payload(controls, requests))
    seen_version = controls.read().version
    future = client.submit(
        remote_job,
        key,
        weights,
        device_name,
        request.with_images(encode_png),
        HEARTBEAT_TIMEOUT,
        key=f"nst-job-{key}",
        pure=False,
        retries=0,
    )
    sweep(client)
    finished = False
    last_step = 0
    last_beat = workers_seen = time.monotonic()
    try:
        while not finished:
            items = queue.get(batch=True)  # whatever is waiting, without blocking (a timeout logs errors)
            for item in items:
                progress = pickle.loads(item)
                if progress.step <= last_step:  # Dask re-ran the task from step 1: never show that
                    raise WorkerLost(LOST_SENTENCE)
                last_step = progress.step
                yield progress
                finished = finished or progress.done
            if finished:
                break
            if not items:
                if future.done():
                    if future.status == "error":
                        future.result()  # re-raises the worker's exception (ImageError, OOM ...) here
                    if future.status == "finished" and future.result() == LOST:
                        raise WorkerLost(LOST_SENTENCE)
                    for item in queue.get(batch=True):  # stopped: hand over what is still queued
                        progress = pickle.loads(item)
                        if progress.step > last_step:
                            last_step = progress.step
                            yield progress
                    finished = True
                    break
                time.sleep(POLL_SECONDS)
            if time.monotonic() - last_beat > HEARTBEAT_EVERY:
                beat.set(time.time())
                last_beat = time.monotonic()
                workers_seen = time.monotonic() if _workers(client) else workers_seen
                if time.monotonic() - workers_seen > NO_WORKER_SECONDS:
                    raise NoWorker(NO_WORKER_SENTENCE)
            if nstcore.stop_requested():  # Stop, or the server stops: also while the job waits for a worker
                break
            version = controls.read().version
            if controls.take_image_request():
                requests += 1
                steer.set(_controls_payload(controls, requests))
            elif version != seen_version:
                steer.set(_controls_payload(controls, requests))
            seen_version = version
    finally:
        if not finished:
            try:
                stop.set(True)  # a running task sees it after its current step
            except Exception:  # noqa: BLE001 - the cluster may be gone
                pass
        try:  # a running task ends within a step; one that never started (no step came) is cancelled at once
            future.result(timeout=STOP_WAIT_SECONDS if last_step else 0.01)
        except Exception:  # noqa: BLE001 - its error, if any, was raised above already; or it never started
            future.cancel()
        forget(client, key)  # a task still running finds its stop variable gone, and stops


# How long a stopped job waits for its task to finish its step before cancelling it. Under the server's 3-s stop
# budget: a task that goes on past it sees its variables gone and stops by itself.
STOP_WAIT_SECONDS = 2.0
