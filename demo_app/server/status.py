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

    def initialize(self, health: Callable[[], tuple[bool, str]]) -> None:
        self._health = health

    def get(self) -> None:
        ok, why = self._health()
        self.set_header("Content-Type", "application/json")
        if not ok:
            self.set_status(503)
        self.write(json.dumps({"liveness": ok, **({"reason": why} if why else {})}))


def liveness_route(backend: Backend) -> tuple[str, type, dict]:
    return ("/liveness", LivenessHandler, {"health": lambda: backend.scheduler.health()})


def status_text(backend: Backend, sessions: int) -> str:
    stats = backend.scheduler.stats()
    return (
        f"### Workshop server status\n\n"
        f"| | |\n|---|---|\n"
        f"| device | {backend.device_label}, {backend.weights_label('vgg19')} weights |\n"
        f"| active sessions | {sessions} |\n"
        f"| jobs running | {stats['running']} of at most {stats['max_concurrent']} at once |\n"
        f"| jobs queued | {stats['queued']} (limit {stats['max_queue']}) |\n"
        f"| jobs done / failed / cancelled | {stats['done']} / {stats['failed']} / {stats['cancelled']} |\n"
        f"| running jobs without progress for over a minute | {stats['stalled']} |\n"
        f"| scheduler threads replaced (stuck or dead) | {stats['workers_replaced']} |\n"
        f"| memory | {nstcore.memory_report(backend.device)} |\n"
    )


def status_app(backend: Backend, sessions) -> pn.viewable.Viewable:
    """``sessions`` is a callable returning how many dashboard sessions are alive."""
    pane = pn.pane.Markdown(status_text(backend, sessions()), css_classes=["nst-server-status"])

    def refresh() -> None:
        pane.object = status_text(backend, sessions())

    quiet_periodic(refresh, 2000)
    return pn.Column(pane, width=700)
