"""The host's console at ``/host``: who is running what, and the controls to steer a room of 30.

Locked by its own password (``--host-password``, ``NST_HOST_PASSWORD`` or ``NST_HOST_PASSWORD_FILE``; never the
participants' one). Without one, ``/host`` says it is locked and shows nothing. After unlocking: a live table of the
pages (who: the visitor's nickname beside the name they share to the wall under, as text; state, size, steps, it/s,
elapsed, queue position; no images), and actions: cancel a job, take a person (every tab of their browser) off the
wall, pause/resume the queue, change the size and step limits for new jobs, and broadcast a one-line message that every
page shows as a notification. A small chart follows device memory and the room's throughput.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

import nstcore

from ..jobs.backend import Backend
from ..session.limits import Limits
from ..session.text import as_html, capped
from ..views.loop import quiet_periodic
from ..views.reach import PageFixes, primary_button
from ..views.widgets import clicks
from .status import speed_text
from .unlock import Unlock
from .wall import WALL, Wall

log = logging.getLogger("demo_app")

MAX_BROADCAST = 200  # one line on a notification
HISTORY_POINTS = 600  # 20 minutes at one sample every 2 s
COLUMNS = ["page", "who", "on the wall as", "state", "size", "steps", "it/s", "elapsed (s)", "queue"]


def session_rows(
    dashboards: Iterable[Any], position: Callable[[Any], int], wall: Wall | None = None
) -> list[dict[str, Any]]:
    """One row per open page, numbered in opening order and named by its visitor's nickname (the page shows its
    owner the same one; every tab of one browser has it), beside the name that visitor's picture is on the wall
    under: the only visitor text, capped, and shown as text (the table writes each cell as a text node)."""
    wall = wall or WALL
    rows = []
    for number, dashboard in enumerate(dashboards, start=1):
        state = dashboard.state
        job = state.run.job
        latest = job.latest if job is not None else None
        rows.append(
            {
                "page": number,
                "who": state.nickname,
                "on the wall as": shared_as(wall, state.visitor.key),
                "state": job.state if job is not None else "idle",
                "size": state.size,
                "steps": f"{latest.step}/{latest.total_steps}" if latest is not None else "-",
                "it/s": round(latest.rate, 2) if latest is not None else 0.0,
                "elapsed (s)": round(latest.elapsed, 1) if latest is not None else 0.0,
                "queue": position(job) if job is not None and job.state == "queued" else 0,
            }
        )
    return rows


def shared_as(wall: Wall, visitor: str) -> str:
    """The name the visitor's wall entry is shown under (plain text, capped by the wall); "-" without one."""
    name = wall.name_of(visitor)
    return "-" if name is None else name or "(no name)"


class HostConsole(pn.viewable.Viewer):
    """One host's console page (made per session, like every page)."""

    def __init__(
        self,
        backend: Backend,
        password: str | None,
        dashboards: Callable[[], list[Any]],
        limits: Callable[[], Limits],
        set_limits: Callable[[Limits], None],
        client: str = "",
        wall: Wall | None = None,
    ) -> None:
        super().__init__()
        self.wall = wall or WALL  # the projector wall the host clears
        self.client = client  # the host's address (the password guard and the page cap count by it)
        self.backend, self._dashboards = backend, dashboards
        self._pages: dict[int, Any] = {}  # the table's rows by their index: the page each row shows
        self._keys: dict[str, int] = {}  # open page's session id -> its row's index (refresh)
        self._counter = itertools.count(1)
        self._limits, self._set_limits = limits, set_limits
        self.lock = Unlock(password, "the host console", self._build_console, client)
        self.message = self.lock.message
        # Made now and hidden (empty) until unlocked: a table added to a page later came up without Tabulator's
        # scripts, as raw text.
        self.table = pn.widgets.Tabulator(
            pd.DataFrame(columns=COLUMNS),
            show_index=False,
            disabled=True,
            selectable=1,
            sizing_mode="stretch_width",
            height=320,
            visible=False,
            css_classes=["nst-host-sessions"],
        )
        self.body = pn.Column(self.lock, self.table, sizing_mode="stretch_width")

    @property
    def unlocked(self) -> bool:
        return self.lock.unlocked

    # -- the console ----------------------------------------------------------------------------------------------
    def _build_console(self) -> None:
        self._queue_and_wall_controls()
        self._limit_and_message_controls()
        self.summary = pn.pane.Markdown("", css_classes=["nst-host-summary"])
        self.speed = pn.pane.Markdown("", css_classes=["nst-host-speed"], styles={"font-size": "12px"})
        self.chart = self._chart()
        self._started = time.monotonic()
        self.body.objects = [
            self.summary,
            self.speed,
            self.table,
            pn.FlexBox(self.cancel, self.pause, align_items="end"),
            pn.FlexBox(self.wall_entries, self.remove_entry, self.clear_wall, self.hide_visitor, align_items="end"),
            pn.FlexBox(self.max_size, self.max_steps, self.apply_limits, align_items="end"),
            pn.FlexBox(self.broadcast_text, self.broadcast, align_items="end"),
            self.message,
            self.chart,
        ]
        # Unlocking runs in a click's event handler, where Panel does not hold the document's lock: streaming to the
        # chart's source there raised (Bokeh's "_pending_writes should be non-None"). The first refresh goes on the
        # next tick, under the lock, like the periodic ones.
        doc = pn.state.curdoc
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(self.refresh)
        else:
            self.refresh()
        quiet_periodic(self.refresh, 2000)

    def _queue_and_wall_controls(self) -> None:
        """Cancel a page's job, pause the queue; take entries or a visitor off the wall."""
        self.cancel = pn.widgets.Button(
            label="Cancel the selected page's job", width=240, css_classes=["nst-host-cancel"]
        )
        self.cancel.on_click(clicks(self._cancel_selected))
        self.pause = pn.widgets.Toggle(label="Pause the queue", width=180, css_classes=["nst-host-pause"])
        self.clear_wall = pn.widgets.Button(label="Clear the wall", width=140, css_classes=["nst-host-clear-wall"])
        self.clear_wall.on_click(clicks(self._clear_wall))
        self.hide_visitor = pn.widgets.Button(
            label="Take the selected person off the wall", width=300, css_classes=["nst-host-hide-visitor"]
        )
        self.hide_visitor.on_click(clicks(self._hide_visitor))
        self.wall_entries = pn.widgets.Select(
            label="Shared on the wall", options={}, width=260, css_classes=["nst-host-wall-entries"]
        )
        self.remove_entry = pn.widgets.Button(label="Take it off the wall", width=180, css_classes=["nst-host-remove"])
        self.remove_entry.on_click(clicks(self._remove_entry))
        pn.bind(self._pause, self.pause, watch=True)

    def _limit_and_message_controls(self) -> None:
        """Limits for new jobs, and a message to every page."""
        limits = self._limits()
        self.max_size = pn.widgets.IntInput(
            label="Max size (px) for new jobs", value=limits.max_size, start=16, width=200
        )
        self.max_steps = pn.widgets.IntInput(label="Max steps for new jobs", value=limits.max_steps, start=1, width=200)
        self.apply_limits = pn.widgets.Button(label="Apply limits", width=140, css_classes=["nst-host-limits"])
        self.apply_limits.on_click(clicks(self._apply_limits))
        self.broadcast_text = pn.widgets.TextInput(
            label="Message to every page", max_length=MAX_BROADCAST, width=420, css_classes=["nst-host-broadcast-text"]
        )
        self.broadcast = primary_button("Send", width=100, css_classes=["nst-host-broadcast"])
        self.broadcast.on_click(clicks(self._broadcast))

    def _chart(self) -> pn.pane.Bokeh:
        """Memory and throughput since the console opened (its source is streamed by refresh)."""
        self._source = ColumnDataSource({"t": [], "memory": [], "rate": []})
        fig = figure(
            height=220,
            sizing_mode="stretch_width",
            x_axis_label="minutes since this console opened",
            title="Memory and throughput",
        )
        fig.line("t", "memory", source=self._source, legend_label="memory (MiB)", color="#0072b5", line_width=2)
        fig.line("t", "rate", source=self._source, legend_label="steps/s (all jobs) × 100", color="#d55e00")
        fig.legend.location = "top_left"
        return pn.pane.Bokeh(fig, sizing_mode="stretch_width")

    def refresh(self) -> None:
        """Every 2 s on this page's loop: the table, the summary and a chart point."""
        if not self.unlocked:
            return
        scheduler = self.backend.scheduler
        dashboards = self._dashboards()
        rows = session_rows(dashboards, scheduler.position, self.wall)
        # Each row's index is its page's own key, not its place: when an older page leaves between the host's click
        # and Cancel, Tabulator moves the selection with its row (or drops it with a page that left) instead of
        # leaving it on the place, where it would name the next page. The keys are this console's own count (no
        # session id goes to the browser), kept for the pages still open.
        self._keys = {d.state.session_id: self._keys.get(d.state.session_id) or next(self._counter) for d in dashboards}
        self._pages = dict(zip(self._keys.values(), dashboards))
        self.table.value = pd.DataFrame(rows, columns=COLUMNS, index=list(self._keys.values()))
        # An empty grid is one that screen readers are told holds rows and finds none (axe: critical), and it
        # shows nothing anyway: the table comes when the first page does; the summary says "0 pages" till then.
        self.table.visible = bool(rows)
        self._refresh_wall()
        stats = scheduler.stats()
        paused = " · **queue paused**" if scheduler.paused else ""
        self.summary.object = (
            f"**{len(rows)} page{'' if len(rows) == 1 else 's'}** · {stats['running']} running · "
            f"{stats['queued']} queued{paused} · "
            f"done {stats['done']} / failed {stats['failed']} / cancelled {stats['cancelled']} · "
            f"{stats['stuck_threads']} stuck thread(s) · {self.backend.gate.snapshot()['refused']} refused · "
            f"{nstcore.memory_report(self.backend.device)}"
        )
        lengths = self.backend.run_lengths(self._limits().max_size)
        self.speed.object = (
            f"Quick makes {lengths['quick']['size']} px, Full {lengths['full']['size']} px. "
            f"Device speed: {speed_text(self.backend)}"
            + (f"\n\n**{self.backend.banner}**" if self.backend.banner else "")  # the pages say only "test mode"
        )
        rate = sum(row["it/s"] for row in rows if row["state"] == "running")
        minutes = (time.monotonic() - self._started) / 60
        self._source.stream(
            {"t": [minutes], "memory": [nstcore.memory_mib(self.backend.device)], "rate": [100 * rate]},
            rollover=HISTORY_POINTS,
        )

    def _selected_dashboard(self) -> Any:
        selection, shown = self.table.selection, self.table.value
        if not selection or selection[0] >= len(shown):
            return None
        return self._pages.get(shown.index[selection[0]])

    def _cancel_selected(self) -> None:
        dashboard = self._selected_dashboard()
        job = dashboard.state.run.job if dashboard is not None else None
        if job is None:
            self.message.object = as_html("Select a page with a queued or running job first.")
            return
        dashboard.state.announce("The host cancelled this page's run.")
        job.stop_reason = "The host cancelled this run."  # stays in the page's status line after the toast
        self.backend.scheduler.cancel(job)
        log.info("host console: cancelled a job of session %s", dashboard.state.session_id[:8])
        self.message.object = as_html("Cancelled.")
        self.refresh()

    def _remove_entry(self) -> None:
        key = self.wall_entries.value
        if key and self.wall.remove(int(key)):
            self.message.object = as_html("Taken off the wall.")
        self._refresh_wall()

    def _refresh_wall(self) -> None:
        """The wall's entries, newest first, by number and name (plain text in the menu)."""
        nicknames = {d.state.visitor.key: d.state.nickname for d in self._dashboards() if d.state.visitor.key}
        options = {}
        for e in self.wall.entries():
            whose = f" ({nicknames[e.visitor]})" if e.visitor in nicknames else ""
            options[f"#{e.key} {e.name or '(no name)'}{whose}"] = e.key
        if options != self.wall_entries.options:
            self.wall_entries.options = options

    def _clear_wall(self) -> None:
        self.wall.clear()
        log.info("host console: wall cleared")
        self.message.object = as_html("The wall is empty.")

    def _hide_visitor(self) -> None:
        dashboard = self._selected_dashboard()
        if dashboard is None or not dashboard.state.visitor.key:
            self.message.object = as_html("Select a page first.")
            return
        gone = self.wall.hide(dashboard.state.visitor.key)
        log.info("host console: a visitor taken off the wall (%d entries)", gone)
        self.message.object = as_html(
            f"Taken off the wall ({gone} result{'s' if gone != 1 else ''}); their later shares are refused."
        )

    def _pause(self, paused: bool) -> None:
        scheduler = self.backend.scheduler
        scheduler.pause() if paused else scheduler.resume()
        self.pause.label = "Resume the queue" if paused else "Pause the queue"
        log.info("host console: queue %s", "paused" if paused else "resumed")
        self.refresh()

    def _apply_limits(self) -> None:
        size, steps = self.max_size.value, self.max_steps.value
        if size is None or steps is None:
            self.message.object = as_html("Give both a size and a number of steps.")
            return
        try:
            new = dataclasses.replace(self._limits(), max_size=int(size), max_steps=int(steps))
        except (nstcore.ConfigError, TypeError, ValueError) as exc:
            self.message.object = as_html(str(exc))
            return
        self._set_limits(new)
        self.message.object = as_html(f"New jobs may use up to {new.max_size} px and {new.max_steps} steps.")
        log.info("host console: limits now %d px, %d steps", new.max_size, new.max_steps)

    def _broadcast(self) -> None:
        text = capped(self.broadcast_text.value or "", MAX_BROADCAST)
        if not text:
            self.message.object = as_html("Type a message first.")
            return
        pages = self._dashboards()
        for dashboard in pages:
            dashboard.state.announce(text)
        self.broadcast_text.value = ""
        self.message.object = as_html(f"Sent to {len(pages)} pages.")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            PageFixes(skip_to="", width=0, height=0, margin=0),  # names for Bokeh's unnamed controls
            pn.pane.HTML("<h2>Host console</h2>"),
            self.body,
            sizing_mode="stretch_width",
            max_width=1100,
        )
