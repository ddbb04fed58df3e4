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
from dataclasses import dataclass
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


class _Server:
    """A task's view of its server: the live weights and frame requests it sends (``steer``), and its heartbeat."""

    def __init__(self, steer, beat, request: nstcore.RunRequest, heartbeat_timeout: float) -> None:
        self.steer, self.beat, self.timeout = steer, beat, heartbeat_timeout
        version, _, self.lr, requests = pickle.loads(steer.get())
        self.controls = nstcore.Controls([v.weights for v in request.variants or ()], lr=self.lr)
        self.seen_version, self.seen_requests = version, requests
        # The engine here numbers its own Controls' versions; the page knows the server's. Every snapshot goes back
        # with the server's version in effect, so the page can tell at which step a change took effect (records).
        self.server_of = {self.controls.read().version: version}
        self.last_beat, self.beat_seen_at = _read(beat, None), time.monotonic()

    def as_sent(self, progress: nstcore.Progress) -> nstcore.Progress:
        """The snapshot with the server's controls version."""
        here = max((v for v in self.server_of if v <= progress.controls_version), default=None)
        return dataclasses.replace(progress, controls_version=self.server_of[here] if here is not None else 0)

    def gone(self) -> bool:
        """The server has not beaten for the heartbeat timeout (by this worker's clock)."""
        now_beat = _read(self.beat, None)
        if now_beat != self.last_beat:
            self.last_beat, self.beat_seen_at = now_beat, time.monotonic()
        return time.monotonic() - self.beat_seen_at > self.timeout

    def follow(self) -> None:
        """Apply the weights steered since the last step, and a frame the page asked for."""
        version, remote_variants, lr, requests = pickle.loads(
            _read(self.steer, pickle.dumps((self.seen_version, None, self.lr, self.seen_requests)))
        )
        if version != self.seen_version and remote_variants is not None:
            for i, weights_i in enumerate(remote_variants):
                self.controls.replace(i, **dataclasses.asdict(weights_i))
            self.controls.set_lr(lr)
            self.lr, self.seen_version = lr, version
            self.server_of[self.controls.read().version] = version
        if requests != self.seen_requests:
            self.controls.request_image()
            self.seen_requests = requests


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
    server = _Server(
        Variable(names["controls"], client=client), Variable(names["beat"], client=client), request, heartbeat_timeout
    )
    device = nstcore.resolve_device(device_name)
    network = nstcore.load_network(request.config.model, weights, device)  # cached per worker process
    queue.put(pickle.dumps((RAN_ON, _environment(device, request.config.precision))))
    steps = 0
    snapshots = request.snapshots(device=device, network=network, controls=server.controls)
    try:
        for progress in snapshots:
            steps = progress.step
            queue.put(pickle.dumps(server.as_sent(progress)))
            if progress.done:
                break
            # stopped (or the server forgot the job: it reads nothing more), or the server is gone (nobody else
            # will clean up)
            if _read(stop, True) or server.gone():
                forget(client, key)
                break
            server.follow()
    finally:
        snapshots.close()
        nstcore.release_memory(device)
    return steps


RAN_ON = "ran on"  # the first item a task queues: (RAN_ON, the worker's environment for the record)


def _environment(device: Any, precision: str) -> dict[str, Any]:
    """Where the task runs, as a record says it (the worker's device and CPU threads: a Dask nanny starts its
    workers with OMP_NUM_THREADS=1, so they are not the server's, and a replay needs the worker's count)."""
    from nstcore.device import use_bf16
    from nstcore.records import environment

    return environment(nstcore.describe_device(device), "bf16" if use_bf16(precision, device) else "fp32")


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


LOST_SENTENCE = (
    "The cluster worker running this job was lost (stopped or crashed); the settings are kept, so try again."
)
NO_WORKER_SENTENCE = (
    "No cluster worker is there to run this job; the host needs to start one (dask worker), so try again later."
)


class _Remote:
    """One job's side of the cluster as the server sees it: the task, its progress queue, and the variables that
    carry Stop, the live weights and the heartbeat to it."""

    def __init__(
        self, address: str, controls: nstcore.Controls, ran_on: Callable[[dict[str, Any]], None] | None = None
    ) -> None:
        from distributed import Queue, Variable

        self.client = _client(address)
        self.key = uuid.uuid4().hex
        names = _names(self.key)
        Variable(names["attempt"], client=self.client).set("new")
        self.queue = Queue(names["progress"], client=self.client)
        self.stop = Variable(names["stop"], client=self.client)
        self.steer = Variable(names["controls"], client=self.client)
        self.beat = Variable(names["beat"], client=self.client)
        self.stop.set(False)
        self.beat.set(time.time())  # the server's wall clock: a sweep tells an orphan by it
        self.controls, self.requests = controls, 0
        self.steer.set(_controls_payload(controls, self.requests))
        self.seen_version = controls.read().version
        self.last_beat = self.workers_seen = time.monotonic()
        self.last_step = 0
        self.future: Any = None
        self.ran_on = ran_on

    def submit(self, weights: str, device_name: str, request: nstcore.RunRequest) -> None:
        self.future = self.client.submit(
            remote_job,
            self.key,
            weights,
            device_name,
            request.with_images(encode_png),
            HEARTBEAT_TIMEOUT,
            key=f"nst-job-{self.key}",
            pure=False,
            retries=0,
        )
        sweep(self.client)

    def received(self, after_end: bool = False) -> list[nstcore.Progress]:
        """The snapshots waiting on the queue, without blocking (a timeout logs errors). A step that goes back means
        Dask re-ran the task from step 1: never shown (``after_end``: a stopped task's last ones, just dropped)."""
        fresh = []
        for item in self.queue.get(batch=True):
            progress = pickle.loads(item)
            if isinstance(progress, tuple):  # (RAN_ON, the worker's environment)
                if self.ran_on is not None:
                    self.ran_on(progress[1])
                continue
            if progress.step <= self.last_step:
                if after_end:
                    continue
                raise WorkerLost(LOST_SENTENCE)
            self.last_step = progress.step
            fresh.append(progress)
        return fresh

    def ended(self) -> list[nstcore.Progress] | None:
        """None while the task goes on; when it ended, what it still queued (its error raised here)."""
        if not self.future.done():
            return None
        if self.future.status == "error":
            self.future.result()  # re-raises the worker's exception (ImageError, OOM ...) here
        if self.future.status == "finished" and self.future.result() == LOST:
            raise WorkerLost(LOST_SENTENCE)
        return self.received(after_end=True)

    def keep_alive(self) -> None:
        """Beat every HEARTBEAT_EVERY seconds; fail the job once the cluster has had no worker for too long."""
        if time.monotonic() - self.last_beat <= HEARTBEAT_EVERY:
            return
        self.beat.set(time.time())
        self.last_beat = time.monotonic()
        self.workers_seen = time.monotonic() if _workers(self.client) else self.workers_seen
        if time.monotonic() - self.workers_seen > NO_WORKER_SECONDS:
            raise NoWorker(NO_WORKER_SENTENCE)

    def forward_controls(self) -> None:
        """Live weight changes and the page's frame requests, to the task."""
        version = self.controls.read().version
        if self.controls.take_image_request():
            self.requests += 1
            self.steer.set(_controls_payload(self.controls, self.requests))
        elif version != self.seen_version:
            self.steer.set(_controls_payload(self.controls, self.requests))
        self.seen_version = version

    def close(self, finished: bool) -> None:
        """Whatever the ending: stop the task if it still runs, and remove the job's queue and variables."""
        if not finished:
            try:
                self.stop.set(True)  # a running task sees it after its current step
            except Exception:  # noqa: BLE001 - the cluster may be gone
                pass
        if self.future is not None:
            try:  # a running task ends within a step; one that never started (no step came) is cancelled now
                self.future.result(timeout=STOP_WAIT_SECONDS if self.last_step else 0.01)
            except Exception:  # noqa: BLE001 - its error, if any, was raised already; or it never started
                self.future.cancel()
        forget(self.client, self.key)  # a task still running finds its stop variable gone, and stops


@dataclass(frozen=True)
class RemoteRun:
    """A ``start_run`` for :class:`demo_app.jobs.scheduler.Job` that runs ``request`` on the cluster at ``address``
    (its images travel as PNG bytes); ``ran_on`` is told the worker's environment (for the record)."""

    address: str
    weights: str
    device_name: str
    request: nstcore.RunRequest
    controls: nstcore.Controls
    ran_on: Callable[[dict[str, Any]], None] | None = None

    def __call__(self) -> Iterator[nstcore.Progress]:
        remote = _Remote(self.address, self.controls, self.ran_on)
        finished = False
        try:
            remote.submit(self.weights, self.device_name, self.request)
            while not finished:
                items = remote.received()
                for progress in items:
                    yield progress
                    finished = finished or progress.done
                if finished:
                    break
                if not items:
                    last = remote.ended()
                    if last is not None:  # the task ended (stopped): hand over what it still queued
                        yield from last
                        finished = True
                        break
                    time.sleep(POLL_SECONDS)
                remote.keep_alive()
                if nstcore.stop_requested():  # Stop, or the server stops: also while the job waits for a worker
                    break
                remote.forward_controls()
        finally:
            remote.close(finished)


# How long a stopped job waits for its task to finish its step before cancelling it. Under the server's 3-s stop
# budget: a task that goes on past it sees its variables gone and stops by itself.
STOP_WAIT_SECONDS = 2.0
