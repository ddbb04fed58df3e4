"""The workbench in a Jupyter notebook: the same page in a cell (:class:`Workbench`), and any nstcore run shown in
place as it steps (:func:`show`).

A notebook has no server: each Workbench has its own session state and page, on one backend per kernel (the network
is loaded once), and its clock is a periodic callback on the kernel's loop, which reaches the cell through the
notebook's comm as a served page's reaches its browser. Several workbenches in one notebook each keep their own
settings, run and history. nstcore itself imports no UI: the notebook view of a run lives here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from .jobs.backend import Backend
from .session.imaging import encode_png
from .session.limits import Limits
from .session.state import SessionState
from .views.dashboard import FRAME_PERIOD_MS, Dashboard
from .views.widgets import plain_text, set_text

_BACKENDS: dict[tuple[str, str], Backend] = {}


def notebook_backend(weights: str = "imagenet", device: str = "auto") -> Backend:
    """One backend per kernel, weights and device: every workbench of a notebook shares its network."""
    key = (weights, device)
    if key not in _BACKENDS:
        _BACKENDS[key] = Backend(weights=weights, device_name=device)
    return _BACKENDS[key]


class Workbench(pn.viewable.Viewer):
    """The dashboard's page in a notebook cell: ``Workbench()`` (pretrained weights, the best device) or
    ``Workbench(weights="random", device="cpu")`` offline. ``state`` is its session (settings, run, history)."""

    def __init__(self, weights: str = "imagenet", device: str = "auto", limits: Limits | None = None) -> None:
        super().__init__()
        self.state = SessionState(notebook_backend(weights, device), limits or Limits())
        self.state.start_on_quick()  # as a served page
        self.dashboard = Dashboard(self.state)
        self._clock: Any = None
        self._layout: pn.viewable.Viewable | None = None

    def __panel__(self) -> pn.viewable.Viewable:
        if self._clock is None:  # the page's clock, on the kernel's loop once the cell shows it
            self._clock = pn.state.add_periodic_callback(self.dashboard.tick, period=FRAME_PERIOD_MS)
        if self._layout is None:
            self._layout = self.dashboard.__panel__()
        return self._layout

    def close(self) -> None:
        """Stop its clock and its run (the kernel keeps the backend for other workbenches)."""
        if self._clock is not None:
            self._clock.stop()
        self.state.close()


class RunView(pn.viewable.Viewer):
    """A run's picture, status line and total-loss curve, following the run as it steps; see :func:`show`."""

    def __init__(self, snapshots: Iterable[Any], period_ms: int = FRAME_PERIOD_MS) -> None:
        super().__init__()
        self.picture = pn.pane.PNG(None, width=360, alt_text="The run's latest picture")
        self.status = plain_text("Starting…", css_classes=["nst-status"])
        self.source = ColumnDataSource({"step": [], "total": []})
        self.chart = figure(height=260, width=420, y_axis_type="log", x_axis_label="step", title="Total loss")
        self.chart.line("step", "total", source=self.source, line_width=2)
        self._lock = threading.Lock()
        self._rows: list[tuple[int, float]] = []
        self._latest: Any = None
        self._image: Any = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._consume, args=(snapshots,), daemon=True, name="nst-notebook-run")
        self.thread.start()
        self._clock = pn.state.add_periodic_callback(self.refresh, period=period_ms)

    def _consume(self, snapshots: Iterable[Any]) -> None:
        try:
            for progress in snapshots:
                with self._lock:
                    self._rows.append((progress.step, float(progress.losses[0].total)))
                    self._latest = progress
                    if progress.images is not None:
                        self._image = progress.images[0]
        except BaseException as exc:  # noqa: BLE001 - shown in the status line, kept for the caller
            self.error = exc

    def refresh(self) -> None:
        """Hand what the run produced since the last call to the view (the clock calls it; tests may too)."""
        with self._lock:
            rows, self._rows = self._rows, []
            latest, image, self._image = self._latest, self._image, None
        if rows:
            self.source.stream({"step": [s for s, _ in rows], "total": [max(t, 1e-30) for _, t in rows]})
        if image is not None:
            self.picture.object = encode_png(image)
        if latest is not None:
            set_text(self.status, f"Step {latest.step} of {latest.total_steps}")
        if not self.thread.is_alive() and not rows:
            if self.error is not None:
                set_text(self.status, f"The run failed: {self.error}")
            self._clock.stop()

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(self.status, pn.Row(self.picture, pn.pane.Bokeh(self.chart)))


def show(snapshots: Iterable[Any], period_ms: int = FRAME_PERIOD_MS) -> RunView:
    """Show a run in place as it steps: ``show(nstcore.run(config, content, style))`` (or any iterable of
    :class:`nstcore.Progress`). The run goes on a thread of its own; the cell's picture and loss curve follow it."""
    return RunView(snapshots, period_ms)
