"""One session's current run, from submission to its collected end.

:class:`CurrentRun` owns what exists only while a run does: its :class:`~demo_app.scheduler.Job` in the shared
scheduler, the ``nstcore.Controls`` the engine reads at every step (Gatys et al.'s weights, steered live), the
config and labels it started with, and the sentences the page shows about it (queue position, step, rate, ETA,
how it ended). :class:`~demo_app.state.SessionState` keeps the settings and images and mirrors what this reports
into the parameters the page watches.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import nstcore

from .backend import Backend
from .limits import Limits
from .scheduler import Handover, Job


class CurrentRun:
    """The run of one session (at most one at a time); every method is called on the session's event loop."""

    def __init__(self, backend: Backend, limits: Limits, session_id: str, client: str) -> None:
        self.backend, self.limits, self.session_id, self.client = backend, limits, session_id, client
        self.job: Job | None = None
        self.controls: nstcore.Controls | None = None
        self.config: nstcore.StyleConfig | None = None
        self.labels: tuple[str, ...] = ()  # the last run's variant labels (kept after it ends, for its grid)
        self.mode = "single"
        # The settings the last run started with, as the config export writes them, with the live weights updated
        # as they were steered: what its result PNG carries (kept after it ends).
        self.record: dict[str, Any] = {}
        # Every change steered into the last run, in order: {"step", "field", "old", "value"}; "step" is the first
        # step that can have used it (the page's last seen step + 1).
        self.changes: list[dict[str, Any]] = []

    @property
    def active(self) -> bool:
        """A run was started and its end has not been collected by :meth:`poll` yet."""
        return self.job is not None

    def submit(
        self,
        config: nstcore.StyleConfig,
        variants: Sequence[nstcore.Variant] | None,
        mode: str,
        content: Any,
        style: Any,
        record: Mapping[str, Any] | None = None,
    ) -> None:
        """Queue a run (``variants=None``: one run of ``config`` with every conv layer available to switch on).
        Raises ``SchedulerError`` (a sentence) when the scheduler refuses it."""
        if variants is None:
            # Every conv layer joins the run at weight 0 unless chosen, so switching one on mid-run works; a
            # zero-weight layer costs nothing per step (the engine runs VGG only as deep as the deepest weight).
            everything = dict.fromkeys(nstcore.layer_names(config.model), 0.0)
            config = config.replace(
                content_layers={**everything, **config.content_layers},
                style_layers={**everything, **config.style_layers},
            )
            variants = [nstcore.Variant("", config.loss_weights())]
        controls = nstcore.Controls([v.weights for v in variants], lr=config.effective_lr)
        start_run = self.backend.runner(config, content, style, controls, variants)
        width, height = content.size
        pixels = round(width * height * (config.size / max(width, height)) ** 2) * len(variants)
        job = Job(self.session_id, start_run, steps=config.steps, pixels=pixels, label=mode, client=self.client)
        self.backend.scheduler.submit(job, max_per_client=self.limits.max_jobs_per_client)
        self.job, self.controls, self.config = job, controls, config
        self.labels = tuple(v.label for v in variants)
        self.mode = mode
        self.record = dict(record or {})
        self.changes = []

    def queue_text(self) -> str | None:
        """'Queued: position 2 of 5 · starts in ~40s.' while the job waits; None otherwise."""
        job = self.job
        if job is None or job.state != "queued":
            return None
        scheduler = self.backend.scheduler
        position = scheduler.position(job)
        if position == 0:
            return None
        eta = scheduler.eta(job)
        when = f" · starts in ~{eta:.0f}s" if eta is not None else ""
        return f"Queued: position {position} of {scheduler.stats()['queued']}{when}."

    def poll(self, size: int, step: int, total_steps: int) -> tuple[Handover, str | None]:
        """What the job handed over since the last call, and the page's new status line (None: unchanged).
        ``size`` is the run's full size (coarse-to-fine steps say theirs); ``step``/``total_steps`` what the page
        shows now (for "Stopped at step N")."""
        if self.job is None:
            return Handover(), None
        handover = self.job.take()
        latest = handover.latest
        status = self.queue_text() if latest is None and not handover.finished else None
        if latest is not None:
            eta = f"{latest.eta:.0f}s" if latest.eta != float("inf") else "?"
            scale = f" · {latest.size} px" if latest.size and latest.size != size else ""
            status = (
                f"Step {latest.step} of {latest.total_steps}{scale} · {latest.rate:.2f} it/s · "
                f"elapsed {latest.elapsed:.1f}s · ETA {eta}"
            )
            step = latest.step
        if handover.finished:
            job, self.job, self.controls = self.job, None, None
            if handover.error:
                status = "Run failed."
            elif job.state == "done" and job.latest is not None:
                done = job.latest
                status = f"Done: {done.total_steps} steps in {done.elapsed:.1f}s ({done.rate:.2f} it/s)."
            else:
                status = f"Stopped at step {step} of {total_steps}."
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
        changes = dict(changes)
        for name, value in changes.items():
            old = self.record.get(name)
            if old != value:
                self.changes.append({"step": step + 1, "field": name, "old": old, "value": value})
        self.record.update(changes)
        if "lr" in changes:
            lr = changes.pop("lr")
            controls.set_lr(lr if lr is not None else nstcore.DEFAULT_LR[config.optimizer])
        if changes:  # layer mappings replace the running ones: a layer switched off in the page goes to 0
            controls.replace(**changes)

    @staticmethod
    def describe_change(change: Mapping[str, Any]) -> str:
        """A short label for the chart: ``β 1e+06→1e+10``, ``TV off→1e-05``, ``conv1_1 1→0``."""
        symbols = {"alpha": "α", "beta": "β", "tv": "TV", "lr": "lr"}
        name, old, new = change["field"], change["old"], change["value"]
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

    def record_json(self) -> str | None:
        """The last run's settings as JSON (what its PNG carries), or None before any run."""
        return json.dumps(self.record, indent=2) if self.record else None

    def wait(self, timeout: float) -> bool:
        return self.job.wait(timeout) if self.job is not None else True

    def close(self) -> None:
        """The session ended: its job leaves the queue or stops."""
        if self.job is not None:
            self.backend.scheduler.cancel(self.job)
