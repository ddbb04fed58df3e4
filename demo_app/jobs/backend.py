"""What one server process shares between sessions: the device and the loaded feature networks.

The network is loaded once per process (nstcore caches it), not per session. If the pretrained weights cannot be
fetched, the app still starts on random weights and every page shows a banner that says so, why, and how to fix it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nstcore

from ..session.limits import Limits
from ..session.text import MAX_NAME
from .gate import Gate
from .priority import give_way
from .scheduler import AUTO_BATCH_JOBS, Scheduler, default_concurrency

log = logging.getLogger("demo_app")

# The share of a device's memory the running jobs' estimates may take together: (GPU, CPU).
MEMORY_SHARE = (0.85, 0.6)


@dataclass
class Backend:
    """Device and network access for every session of this process."""

    weights: str = "imagenet"
    device_name: str = "auto"
    max_concurrent: int | None = None  # None: default_concurrency(device)
    batch_jobs: int | None = None  # jobs of one shape stepping together; None: auto (AUTO_BATCH_JOBS where it pays)
    max_queue: int = Limits.max_queue
    dask_address: str | None = None  # run jobs on a Dask cluster (demo_app.jobs.dask_runner) instead of here
    stall_seconds: float = Limits.job_stall_seconds  # the scheduler's watchdog (see Limits)
    stuck_seconds: float = Limits.stuck_thread_seconds  # a left-behind thread this long fails /liveness (see Limits)
    generators_dir: str | None = None  # trained generators (*.pt) the page offers as instant styles
    targets: nstcore.RunTargets = field(default_factory=nstcore.RunTargets)  # Quick's and Full's time targets
    # This device's measured speed (calibrate_in_background); None before it is measured: run lengths and
    # estimates then come from the defaults.
    calibration: nstcore.Calibration | None = None
    calibrating: bool = False
    banner: str | None = None
    gate: Gate = field(default_factory=Gate, repr=False)  # admits every piece of work a visitor can cause
    _scheduler: Scheduler | None = field(default=None, repr=False)
    _device: object = field(default=None, repr=False)
    _effective: dict[str, str] = field(default_factory=dict, repr=False)
    _generators: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # max size -> (the calibration they were worked out for, Quick's and Full's settings): a search over sizes
    # (~20 ms) that every page's run-length buttons ask for on its loop, the same until the next calibration.
    _lengths: dict[int, tuple[Any, dict[str, dict[str, Any]]]] = field(default_factory=dict, repr=False)

    @property
    def device(self):
        if self._device is None:
            self._device = nstcore.resolve_device(self.device_name)
        return self._device

    @property
    def device_type(self) -> str:
        """ "cpu", "cuda" ...: what the memory estimates depend on (a CPU steps large images one per pass)."""
        return str(getattr(self.device, "type", "cpu"))

    @property
    def device_label(self) -> str:
        return nstcore.describe_device(self.device)

    def run_environment(self, precision: str) -> dict[str, Any]:
        """Device, the arithmetic a run of ``precision`` uses here (and its CPU threads), torch's and nstcore's versions
        (for records)."""
        from nstcore.device import use_bf16
        from nstcore.records import environment

        return environment(self.device_label, "bf16" if use_bf16(precision, self.device) else "fp32")

    def network(self, model: str) -> nstcore.Network:
        """The shared network for ``model``. Only a failed *download* of the pretrained weights falls back to random
        weights (once, with a banner); a local weights file that is missing or does not fit raises
        ``WeightsError`` (its message names the file: for the server log and the terminal, not for the page)."""
        with self._lock:
            weights = self._effective.get(model, self.weights)
            try:
                network = nstcore.load_network(model, weights, self.device, progress=True)
            except nstcore.WeightsError as exc:
                if weights != "imagenet":
                    raise
                log.warning("falling back to random weights: %s", exc)
                self.banner = (
                    "Running with RANDOM network weights, so results will not look like paintings: the server could "
                    "not download the pretrained VGG weights. The host can fix this by starting it once with "
                    "internet access, or with --weights pointing to a local copy."
                )
                weights = "random"
                network = nstcore.load_network(model, weights, self.device)
            self._effective[model] = weights
            return network

    def weights_label(self, model: str = "vgg19") -> str:
        """What visitors are told about the weights: never a server path."""
        weights = self.effective_weights(model)
        if weights in ("imagenet", "random"):
            return {"imagenet": "pretrained ImageNet", "random": "random"}[weights]
        return "local weights file"

    @property
    def scheduler(self) -> Scheduler:
        """The one scheduler of this process (created on first use)."""
        with self._lock:
            if self._scheduler is None:
                concurrency = self.max_concurrent or default_concurrency(self.device.type)
                total = nstcore.memory_total(self.device)
                self._scheduler = Scheduler(
                    concurrency,
                    self.max_queue,
                    after_job=lambda job: nstcore.release_memory(self.device),
                    stall_seconds=self.stall_seconds,
                    stuck_seconds=self.stuck_seconds,
                    # Jobs' estimates together at most this share of the device (the rest: the network, the
                    # server, the pages' images; on a CPU the operating system too).
                    memory_budget=total * MEMORY_SHARE[self.device.type == "cpu"] if total else None,
                    batch_jobs=self.batch_jobs or 1,  # auto: 1 until the calibration says batching pays
                )
            return self._scheduler

    def batch_key(self, request: nstcore.RunRequest) -> Hashable | None:
        """What jobs must share to step together (nstcore.batching): model, pooling, precision, optimiser and the
        sizes of every scale; None for jobs that never share (trainings, and any job on a Dask cluster: its workers
        run one job at a time)."""
        config = request.config
        if self.dask_address or request.photos or config.generator != "pixels" or request.content is None:
            return None
        width, height = request.content.size
        poolings = tuple(sorted({v.pooling or config.pooling for v in request.variants or ()}))
        shapes = tuple(nstcore.target_size(width, height, size) for size, _ in config.scale_plan())
        return (config.model, poolings or (config.pooling,), config.precision, config.optimizer, shapes)

    def runner(
        self,
        request: nstcore.RunRequest,
        controls: nstcore.Controls,
        ran_on: Callable[[dict[str, Any]], None] | None = None,
    ) -> Callable[[], Iterator[nstcore.Progress]]:
        """A callable that starts ``request`` where this backend runs jobs: this process's device, or a Dask
        worker; ``controls`` carry its live weights. On a worker, ``ran_on`` is told the worker's environment
        (device, CPU threads: what a record must say; here it is :meth:`run_environment`'s)."""
        if self.dask_address:
            from .dask_runner import RemoteRun

            return RemoteRun(self.dask_address, self.weights, self.device_name, request, controls, ran_on)

        def start_run() -> Iterator[nstcore.Progress]:
            network = self.network(request.config.model)
            return request.snapshots(device=network.device, network=network, controls=controls)

        return start_run

    def generator_names(self) -> list[str]:
        """The trained generators in ``generators_dir`` by file name (never a path), sorted; [] without a folder.
        A name longer than the page shows (MAX_NAME) is left out rather than cut: the name is also the key."""
        if not self.generators_dir:
            return []
        try:
            names = sorted(p.name for p in Path(self.generators_dir).glob("*.pt") if p.is_file())
        except OSError:
            return []
        return [name for name in names if len(name) <= MAX_NAME][:100]

    def generator(self, name: str) -> Any:
        """Load (once) and return the server's generator ``name`` as ``(model, config)`` (slow: call from a worker).
        Raises ConfigError with a sentence for a name that is not one of :meth:`generator_names` or a bad file."""
        from nstcore.generator import load_generator

        if name not in self.generator_names():
            raise nstcore.ConfigError("That instant style is not on this server (any more); pick another.")
        with self._lock:
            cached = self._generators.get(name)
        if cached is None:
            path = Path(str(self.generators_dir)) / name
            data = path.read_bytes() if path.stat().st_size < 64 * 2**20 else b""
            model, config = load_generator(data, f"The instant style {name}")
            cached = (model.to(self.device), config)
            with self._lock:
                self._generators[name] = cached
        return cached

    def effective_weights(self, model: str) -> str:
        return self._effective.get(model, self.weights)

    def warm_up(self, model: str = "vgg19") -> None:
        """Load the default network at start-up so the first visitor does not wait for it."""
        self.network(model)

    def run_lengths(self, max_size: int) -> dict[str, dict[str, Any]]:
        """The settings of Quick and Full on this device (sizes from its measured speed, at most ``max_size``); shared
        by every page: read them, never change them."""
        cached = self._lengths.get(max_size)
        if cached is None or cached[0] is not self.calibration:
            cached = (self.calibration, nstcore.run_lengths(self.calibration, self.targets, max_size))
            self._lengths[max_size] = cached
        return cached[1]

    def calibrate_in_background(
        self, then: Callable[[nstcore.Calibration], None] | None = None
    ) -> threading.Thread | None:
        """Measure this device (:func:`nstcore.calibrate`, seconds on a CPU) on a thread of its own, then let the run
        lengths and the queue estimates follow it and, with ``--batch-jobs`` auto, batch jobs where a batched pass
        pays; ``then`` is called with the figures last. Pages that come meanwhile work with the defaults. Not with
        Dask: the jobs run on its workers."""
        if self.dask_address or self.calibrating:
            return None
        self.calibrating = True

        def measure() -> None:
            give_way()  # measured at the priority the jobs run at
            try:
                # A job that arrives, or the server stopping, ends a measurement between two layers (nstcore.interrupt):
                # the room's first run never waits for it, and a stopping process has no thread left inside torch.
                with nstcore.stop_when(self._busy):
                    calibration = nstcore.calibrate(self.network("vgg19"), before_each=self._wait_for_idle)
            except ServerClosing:
                return
            except Exception:  # noqa: BLE001 - the server goes on with the defaults; the log says why
                log.exception("calibrating the device failed; run lengths and estimates keep their defaults")
                return
            finally:
                self.calibrating = False
            self.calibration = calibration
            self.scheduler.seed(calibration)
            if self.batch_jobs is None and calibration.batching_pays:
                self.scheduler.set_batch_jobs(AUTO_BATCH_JOBS)
            log.info("calibrated: %s", " ".join(calibration.lines()))
            if then is not None:
                then(calibration)

        thread = threading.Thread(target=measure, name="nst-calibrate", daemon=True)
        thread.start()
        return thread

    def _busy(self) -> bool:
        """Jobs run or wait, or the server is shutting down: the calibration leaves the device alone."""
        stats = self.scheduler.stats()
        return bool(stats["closed"] or stats["running"] or stats["queued"])

    def _wait_for_idle(self) -> None:
        """Before each of the calibration's measurements: wait while jobs run or wait (the room comes first, and a
        job beside it would skew the figures); give up when the server is shutting down."""
        while self._busy():
            if self.scheduler.stats()["closed"]:
                raise ServerClosing
            time.sleep(0.25)


class ServerClosing(Exception):
    """The server is shutting down: the calibration gives up."""
