"""A small status page for the host (``/status``): sessions, queue, jobs done, device memory. Refreshes itself."""

from __future__ import annotations

import panel as pn

import nstcore

from .backend import Backend


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
        f"| memory | {nstcore.memory_report(backend.device)} |\n"
    )


def status_app(backend: Backend, sessions) -> pn.viewable.Viewable:
    """``sessions`` is a callable returning how many dashboard sessions are alive."""
    pane = pn.pane.Markdown(status_text(backend, sessions()), css_classes=["nst-server-status"])

    def refresh() -> None:
        pane.object = status_text(backend, sessions())

    pn.state.add_periodic_callback(refresh, period=2000)
    return pn.Column(pane, width=700)
