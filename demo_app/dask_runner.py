"""Scale-out: run jobs on a Dask distributed cluster, each worker with its own device and cached network.

The server's scheduler still decides *when* a job runs (FIFO, limits); with ``--dask-scheduler tcp://host:port`` the
job's optimisation itself runs on a Dask worker. Progress snapshots stream back through a ``distributed.Queue``
named after the job; Stop and the live weight changes travel the other way through ``distributed.Variable``s, read
by the worker at every step. The worker needs this repository importable (start ``dask worker`` from its root).
"""

from __future__ import annotations

import io
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from PIL import Image

import nstcore

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


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _controls_payload(controls: nstcore.Controls, image_requests: int) -> bytes:
    state = controls.read()
    return pickle.dumps((state.version, state.variants, state.lr, image_requests))


def remote_job(key: str, weights: str, device_name: str, config_json: str, content_png: bytes, style_png: bytes,
               variants: list[nstcore.Variant]) -> int:
    """Runs on a Dask worker: optimise and put every snapshot (pickled) on the job's queue. Returns steps done."""
    from distributed import Queue, Variable, get_client

    client = get_client()
    queue = Queue(f"nst-progress-{key}", client=client)
    stop = Variable(f"nst-stop-{key}", client=client)
    steer = Variable(f"nst-controls-{key}", client=client)
    config = nstcore.StyleConfig.from_json(config_json)
    device = nstcore.resolve_device(device_name)
    network = nstcore.load_network(config.model, weights, device)  # cached per worker process
    version, _, lr, requests = pickle.loads(steer.get())
    controls = nstcore.Controls([v.weights for v in variants], lr=lr)
    seen_version, seen_requests = version, requests
    steps = 0
    snapshots = nstcore.run(config, content_png, style_png, device=device, network=network, controls=controls,
                            variants=variants)
    try:
        for progress in snapshots:
            steps = progress.step
            queue.put(pickle.dumps(progress))
            if progress.done or _read(stop, True):
                break
            version, remote_variants, lr, requests = pickle.loads(_read(steer, pickle.dumps(
                (seen_version, None, lr, seen_requests))))
            if version != seen_version and remote_variants is not None:
                for i, weights_i in enumerate(remote_variants):
                    controls.update(i, **{f: getattr(weights_i, f) for f in
                                          ("alpha", "beta", "tv", "content_layers", "style_layers")})
                controls.set_lr(lr)
                seen_version = version
            if requests != seen_requests:
                controls.request_image()
                seen_requests = requests
    finally:
        snapshots.close()
        nstcore.release_memory(device)
    return steps


def _read(variable, missing):
    """A Variable's value, or ``missing`` if the server side forgot it (a Variable.get without timeout would wait
    for ever for a deleted one)."""
    try:
        return variable.get(timeout=5)
    except TimeoutError:
        return missing


def remote_runner(address: str, weights: str, device_name: str, config: nstcore.StyleConfig, content: Image.Image,
                  style: Image.Image, controls: nstcore.Controls,
                  variants: Sequence[nstcore.Variant]) -> Callable[[], Iterator[nstcore.Progress]]:
    """A ``start_run`` for :class:`demo_app.scheduler.Job` that runs the job on the cluster at ``address``."""

    def start_run() -> Iterator[nstcore.Progress]:
        return _stream(address, weights, device_name, config, content, style, controls, list(variants))

    return start_run


def _stream(address, weights, device_name, config, content, style, controls, variants) -> Iterator[nstcore.Progress]:
    from distributed import Queue, Variable

    client = _client(address)
    key = uuid.uuid4().hex
    queue = Queue(f"nst-progress-{key}", client=client)
    stop = Variable(f"nst-stop-{key}", client=client)
    steer = Variable(f"nst-controls-{key}", client=client)
    stop.set(False)
    requests = 0
    steer.set(_controls_payload(controls, requests))
    seen_version = controls.read().version
    future = client.submit(remote_job, key, weights, device_name, config.to_json(), _png(content), _png(style),
                           variants, key=f"nst-job-{key}", pure=False)
    finished = False
    try:
        while not finished:
            items = queue.get(batch=True)  # whatever is waiting, without blocking (a timeout logs errors)
            for item in items:
                progress = pickle.loads(item)
                yield progress
                finished = finished or progress.done
            if finished:
                break
            if not items:
                if future.done():
                    if future.status == "error":
                        future.result()  # re-raises the worker's exception (ImageError, OOM ...) here
                    for item in queue.get(batch=True):  # stopped: hand over what is still queued
                        yield pickle.loads(item)
                    finished = True
                    break
                time.sleep(POLL_SECONDS)
            version = controls.read().version
            if controls.take_image_request():
                requests += 1
                steer.set(_controls_payload(controls, requests))
            elif version != seen_version:
                steer.set(_controls_payload(controls, requests))
            seen_version = version
    finally:
        if not finished:
            stop.set(True)  # the worker sees it after its current step
        try:
            future.result(timeout=30)  # the task ends within a step; only then are its variables dropped
        except Exception:  # noqa: BLE001 - its error, if any, was raised above already
            future.cancel()
        for thing in (stop, steer):
            try:
                thing.delete()
            except Exception:  # noqa: BLE001 - cleanup on a cluster that may be gone
                pass
