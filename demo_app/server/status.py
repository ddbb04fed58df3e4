"""A small status page for the host (``/status``): sessions, queue, jobs done, device memory. Refreshes itself."""

from __future__ import annotations

import json
from collections.abc import Callable

import panel as pn
from tornado import web

import nstcore

from ..jobs.backend import Backend
from ..views.loop import quiet_periodic


class LivenessHandler(web.RequestHandler):
    """``/liveness``: 200 while the scheduler can make progress, 503 (with the reason) when it cannot, e.g. a dead
    watchdog or a worker thread that died and was not replaced. Load balancers and Docker's health check read it."""

    def initialize(
        self, health: Callable[[], tuple[bool, str]], details: Callable[[], dict[str, int]] | None = None
    ) -> None:
        self._health, self._details = health, details

    def get(self) -> None:
        ok, why = self._health()
        self.set_header("Content-Type", "application/json")
        if not ok:
            self.set_status(503)
        details = self._details() if self._details is not None else {}
        self.write(json.dumps({"liveness": ok, **({"reason": why} if why else {}), **details}))


def liveness_route(backend: Backend) -> tuple[str, type, dict]:
    """``/liveness``; its body also counts job threads still inside an ended job (they hold a device slot; past
    ``--stuck-thread-seconds`` one makes it fail, so an orchestrator restarts the server), and says whether the
    device's speed is still being measured (the figures a load test should wait for)."""

    def details() -> dict[str, int]:
        return {
            "stuck_threads": int(backend.scheduler.stats()["stuck_threads"]),
            "calibrating": int(backend.calibrating),
        }

    return ("/liveness", LivenessHandler, {"health": lambda: backend.scheduler.health(), "details": details})


def sharing(stats: dict[str, float | int]) -> str:
    """', up to 8 of one shape stepping together (now: 3)' where jobs batch; '' where they do not."""
    if int(stats["batch_jobs"]) < 2:
        return ""
    return f", each up to {stats['batch_jobs']} of one shape stepping together (now: {stats['sharing_now']})"


def speed_text(backend: Backend) -> str:
    """The device's measured speed, as the calibration at start found it (or why there is none)."""
    if backend.calibration is not None:
        return " ".join(backend.calibration.lines())
    if backend.calibrating:
        return "being measured (estimates use the defaults meanwhile)"
    return "not measured (jobs run on a Dask cluster)" if backend.dask_address else "not measured"


def status_text(backend: Backend, sessions: int) -> str:
    stats, gate = backend.scheduler.stats(), backend.gate.snapshot()
    limit = backend.scheduler.memory_budget
    budget = f" of {limit / 2**30:.1f} GB allowed at once" if limit else ""
    return (
        f"### Workshop server status\n\n"
        f"| | |\n|---|---|\n"
        f"| device | {backend.device_label}, {backend.weights_label('vgg19')} weights |\n"
        f"| device speed (measured at start) | {speed_text(backend)} |\n"
        f"| active sessions | {sessions} |\n"
        f"| jobs running | {stats['running']} of at most {stats['max_concurrent']} at once{sharing(stats)} |\n"
        f"| jobs queued | {stats['queued']} (limit {stats['max_queue']}) |\n"
        f"| jobs done / failed / cancelled | {stats['done']} / {stats['failed']} / {stats['cancelled']} |\n"
        f"| running jobs without progress for over a minute | {stats['stalled']} |\n"
        f"| scheduler threads replaced (stuck or dead) | {stats['workers_replaced']} |\n"
        f"| job threads still inside an ended job (each holds a device slot) | {stats['stuck_threads']} |\n"
        f"| jobs' memory by their estimates | {stats['memory_in_use'] / 2**30:.1f} GB{budget} |\n"
        f"| pictures being made (instant styles, time-lapses) | {gate['tasks']} |\n"
        f"| unfinished uploads | {gate['uploads']} ({gate['upload_bytes'] / 2**20:.1f} MB) |\n"
        f"| pieces of work refused by the limits | {gate['refused']} |\n"
        f"| memory | {nstcore.memory_report(backend.device)} |\n"
    )


def status_app(backend: Backend, sessions) -> pn.viewable.Viewable:
    """``sessions`` is a callable returning how many dashboard sessions are alive."""
    pane = pn.pane.Markdown(status_text(backend, sessions()), css_classes=["nst-server-status"])

    def refresh() -> None:
        pane.object = status_text(backend, sessions())

    quiet_periodic(refresh, 2000)
    return pn.Column(pane, width=700)
