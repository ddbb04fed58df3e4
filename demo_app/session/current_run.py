"""One session's current run, from submission to its collected end.

:class:`CurrentRun` owns what exists only while a run does: its :class:`~demo_app.jobs.scheduler.Job` in the shared
scheduler, the ``nstcore.Controls`` the engine reads at every step (Gatys et al.'s weights, steered live), the
config and labels it started with, and the sentences the page shows about it (queue position, step, rate, ETA,
how it ended). :class:`~demo_app.session.state.SessionState` keeps the settings and images and mirrors what this reports
into the parameters the page watches.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import nstcore

from ..jobs.backend import Backend
from ..jobs.memory import memory_estimate
from ..jobs.scheduler import Handover, Job
from .limits import Limits
from .visitor import Visitor

# A queued page's estimate is recomputed at most this often: a countdown that jumps five times a second reads as noise.
ETA_EVERY_SECONDS = 3.0


def about(seconds: float, short: bool = False) -> str:
    """A wait as people say it: 'a few seconds', 'about 25 s', 'about 3 min'; ``short``, in the few characters a
    phone's run bar has room for: '~5 s', '~25 s', '~4 min'."""
    if seconds >= 60:
        amount = f"{round(seconds / 60):.0f} min"
    elif seconds < 8 and not short:
        return "a few seconds"
    else:
        amount = f"{5 * max(1, round(seconds / 5)):.0f} s"
    return f"~{amount}" if short else f"about {amount}"


def scale_areas(config: nstcore.StyleConfig, content_size: tuple[int, int], variants: int = 1) -> list[tuple[int, int]]:
    """(output pixels x variants, steps) per coarse-to-fine scale of ``config`` on a content picture of that size:
    what a step costs, for estimates."""
    width, height = content_size
    return [
        (round(width * height * (size / max(width, height)) ** 2) * variants, steps)
        for size, steps in config.scale_plan()
    ]


class CurrentRun:
    """The run of one session (at most one at a time); every method is called on the session's event loop."""

    def __init__(self, backend: Backend, limits: Limits, session_id: str, visitor: Visitor) -> None:
        self.backend, self.limits, self.session_id, self.visitor = backend, limits, session_id, visitor
        self.job: Job | None = None
        self.controls: nstcore.Controls | None = None
        self.config: nstcore.StyleConfig | None = None
        self.request: nstcore.RunRequest | None = None  # the last run's job (its images), kept for Bigger
        self.labels: tuple[str, ...] = ()  # the last run's variant labels (kept after it ends, for its grid)
        self.mode = "single"
        self.variants: list[nstcore.Variant] = []  # the last run's variants (a comparison's cells)
        # The last run's sweep (nstcore.Sweep.as_dict), when its cells were a loaded two-way sweep's; else {}.
        self.sweep: dict[str, Any] = {}
        # The settings the last run started with, as the config export writes them, with the live weights updated
        # as they were steered: what its result PNG carries (kept after it ends).
        self.record: dict[str, Any] = {}
        # Every change steered into the last run, in order: {"step", "field", "old", "value"}; "step" is the first
        # step that can have used it (the page's last seen step + 1).
        self.changes: list[dict[str, Any]] = []
        # What the record says besides the settings: input hashes, device, precision, versions (set at submit).
        self.run_info: dict[str, Any] = {}
        self._ran_on: dict[str, Any] = {}  # a Dask worker's environment for the record (filled while it runs)
        self._version_steps: dict[int, int] = {}
        self.steps_done = 0
        self.styles = 1  # style images of the last run (its blend has one weight each)
        self._eta_text: str | None = None  # the queue estimate as last shown, and when
        self._eta_at = 0.0

    @property
    def active(self) -> bool:
        """A run was started and its end has not been collected by :meth:`poll` yet."""
        return self.job is not None

    def submit(
        self,
        request: nstcore.RunRequest,
        mode: str,
        record: Mapping[str, Any] | None = None,
        run_info: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue the job ``request`` describes (without variants: one run of its config with every conv layer
        available to switch on). Raises ``SchedulerError`` (a sentence) when the scheduler refuses it."""
        config = request.config
        if request.variants is None:
            # Every conv layer joins the run at weight 0 unless chosen, so switching one on mid-run works (the CLI
            # replays a record from the same list).
            config = nstcore.every_layer(config)
            request = request.replace(config=config, variants=(nstcore.Variant("", config.loss_weights()),))
        variants = request.variants or ()
        controls = nstcore.Controls([v.weights for v in variants], lr=config.effective_lr)
        ran_on: dict[str, Any] = {}  # a Dask worker's environment, when the job runs on one
        start_run = self.backend.runner(request, controls, ran_on.update)
        plan = scale_areas(config, request.content.size, len(variants))
        minutes = self.limits.max_train_minutes if config.generator == "hrnet" else self.limits.max_job_minutes
        job = Job(
            self.session_id,
            start_run,
            steps=config.steps,
            pixels=plan[-1][0],
            plan=plan,
            label=mode,
            visitor=self.visitor,
            time_cap=minutes * 60,
            memory=memory_estimate(request, self.backend.device_type),
            batch_key=self.backend.batch_key(request),
        )
        self.backend.scheduler.submit(
            job, max_per_client=self.limits.max_jobs_per_client, max_per_address=self.limits.max_jobs_per_address
        )
        self.job, self.controls, self.config, self.request = job, controls, config, request
        self.styles = len(request.styles)
        self.labels = tuple(v.label for v in variants)
        self.variants = list(variants)
        self.mode = mode
        self.record = dict(record or {})
        self.run_info = dict(run_info or {})
        self._ran_on = ran_on
        self.changes = []
        self._version_steps = {}  # controls version -> first step that used it
        self.steps_done = 0
        self._eta_text = None

    def estimate(self, config: nstcore.StyleConfig, content_size: tuple[int, int]) -> float | None:
        """Seconds a run of ``config`` would take on this server once started (None before it finished a job)."""
        return self.backend.scheduler.estimate(scale_areas(config, content_size))

    def queue_text(self) -> str | None:
        """'Queued: position 2 of 5 · starts in about 40 s.' while the job waits (the estimate changes at most every
        few seconds, so it does not flicker; 'the host paused the queue' instead while it is paused); None
        otherwise."""
        job = self.job
        if job is None or job.state != "queued":
            return None
        scheduler = self.backend.scheduler
        position = scheduler.position(job)
        if position == 0:
            return None
        if scheduler.paused:
            when = " · the host paused the queue; it goes on when they resume it"
        else:
            now = time.monotonic()
            if self._eta_text is None or now - self._eta_at >= ETA_EVERY_SECONDS:
                eta = scheduler.eta(job)
                self._eta_text, self._eta_at = (f" · starts in {about(eta)}" if eta is not None else ""), now
            when = self._eta_text
        return f"Queued: position {position} of {scheduler.stats()['queued']}{when}."

    def poll(self, size: int, step: int, total_steps: int) -> tuple[Handover, str | None]:
        """What the job handed over since the last call, and the page's new status line (None: unchanged).
        ``size`` is the run's full size (coarse-to-fine steps say theirs); ``step``/``total_steps`` what the page
        shows now (for "Stopped at step N")."""
        if self.job is None:
            return Handover(), None
        handover = self.job.take()
        latest = handover.latest
        if handover.version_steps:
            for version, first in handover.version_steps.items():
                self._version_steps.setdefault(version, first)
            self._place_changes()
        if handover.frames is not None:  # the record's last step is the step of the picture the page keeps
            self.steps_done = handover.frames_step
        status = self.queue_text() if latest is None and not handover.finished else None
        if latest is not None:
            left = self.backend.scheduler.time_left(self.job)  # scale by scale; the steps-based guess otherwise
            left = latest.eta if left is None else left
            eta = f"{left:.0f}s" if left != float("inf") else "?"
            scale = f" · {latest.size} px" if latest.size and latest.size != size else ""
            status = (
                f"Step {latest.step} of {latest.total_steps}{scale} · {latest.rate:.2f} it/s · "
                f"elapsed {latest.elapsed:.1f}s · ETA {eta}"
            )
            step = latest.step
        if handover.finished:
            job, self.job, self.controls = self.job, None, None
            if job.most_shared > 1:  # for the record: batched kernels round differently (nstcore.records)
                self.run_info["shared_passes_with_jobs"] = job.most_shared
            self.run_info.update(self._ran_on)  # where it ran, when that was not this process
            if handover.error:
                status = "Run failed."
            elif job.state == "done" and job.latest is not None:
                done = job.latest
                status = f"Done: {done.total_steps} steps in {done.elapsed:.1f}s ({done.rate:.2f} it/s)."
            else:
                why = f" {handover.reason}" if handover.reason else ""
                ended = "Removed from the queue" if not job.started_at else f"Stopped at step {step} of {total_steps}"
                status = f"{ended}.{why}"
        return handover, status

    def stop(self) -> str | None:
        """End the run for the page (a queued job leaves the queue; a running one stops after its step)."""
        if self.job is None:
            return None
        queued = self.job.state == "queued"
        self.backend.scheduler.cancel(self.job)
        return "Removing from the queue." if queued else "Stopping after this step."

    def request_frame(self) -> None:
        """Ask the engine for the current image at its next step (the page's own frame clock)."""
        if self.controls is not None:
            self.controls.request_image()

    def steer(self, changes: Mapping[str, Any], step: int = 0) -> None:
        """Weights changed in the page (alpha, beta, tv, lr, layer mappings) reach the next step of a single run;
        a comparison's variants keep the weights of its table. Raises ``ConfigError`` for a value it refuses."""
        controls, config = self.controls, self.config
        if controls is None or config is None or self.mode != "single":
            return
        for name, value in dict(changes).items():
            old = self.record.get(name)
            if old == value:
                continue
            # layer mappings replace the running ones: a layer switched off in the page goes to 0
            version = nstcore.apply_change(controls, name, value, config)
            # "step" is a guess (the next one) until a snapshot says which step first used this version
            at = time.monotonic()  # when it was made: the chart joins the changes of one drag into one marker
            change = {"step": step + 1, "field": name, "old": old, "value": value, "version": version, "at": at}
            self.changes.append(change)
            self.record[name] = value

    def _place_changes(self) -> None:
        """Give each change the step that first used it, now that snapshots have said so."""
        seen = sorted(self._version_steps.items())
        for change in self.changes:
            first = next((step for version, step in seen if version >= change["version"]), None)
            if first is not None:
                change["step"], change["placed"] = first, True

    def record_dict(self) -> dict[str, Any]:
        """The last run as a record: its settings as started (live weights as steered), and under ``"run"`` every
        change at the step it took effect, the last step reached, the input hashes, device, precision, versions."""
        # A change no step used (the run ended first) did not happen to this run: it is not part of its record.
        changes = [
            {"step": c["step"], "field": c["field"], "value": c["value"]} for c in self.changes if c.get("placed")
        ]
        started = {**self.record}
        for change in reversed(self.changes):  # back to the values the run started with
            started[change["field"]] = change["old"]
        return nstcore.run_record(started, changes, self.steps_done, self.run_info)

    @staticmethod
    def describe_change(change: Mapping[str, Any]) -> str:
        """A short label for the chart: ``β 1e+06→1e+10``, ``TV off→1e-05``, ``conv1_1 1→0``."""
        symbols = {"alpha": "α", "beta": "β", "tv": "TV", "lr": "lr", "style_blend": "blend"}
        name, old, new = change["field"], change["old"], change["value"]
        if name == "style_blend":
            return "blend " + ":".join(f"{w:.2g}" for w in new)
        if isinstance(new, Mapping):
            old = old if isinstance(old, Mapping) else {}
            moved = [k for k in sorted(set(old) | set(new)) if old.get(k, 0.0) != new.get(k, 0.0)]
            parts = [f"{k} {old.get(k, 0.0):g}→{new.get(k, 0.0):g}" for k in moved[:2]]
            return ", ".join(parts) + (" …" if len(moved) > 2 else "") if parts else name.replace("_", " ")

        def shown(value: Any) -> str:
            if value is None:
                return "auto"
            return "off" if value == 0 and name == "tv" else f"{value:.2g}"

        return f"{symbols.get(name, name)} {shown(old)}→{shown(new)}"

    def cell_record(self, index: int) -> dict[str, Any]:
        """The settings of a comparison's cell ``index``: the shared record with that variant's own weights."""
        variant = self.variants[index]
        own = variant.own_fields(self.record.get("pooling", "avg"), self.record.get("preserve_colors", "none"))
        return {**self.record, **own, "style_blend": list(own["style_blend"])}

    @property
    def sweep_shape(self) -> tuple[list[str], list[str]] | None:
        """(row labels, column labels) of the last run's sweep; None for a plain comparison."""
        if not self.sweep:
            return None
        return list(self.sweep["row_labels"]), list(self.sweep["column_labels"])

    def record_json(self) -> str | None:
        """The last run's record as JSON (what its PNG carries), or None before any run."""
        return json.dumps(self.record_dict(), indent=2) if self.record else None

    def wait(self, timeout: float) -> bool:
        return self.job.wait(timeout) if self.job is not None else True

    def close(self) -> None:
        """The session ended: its job leaves the queue or stops."""
        if self.job is not None:
            self.backend.scheduler.cancel(self.job)
