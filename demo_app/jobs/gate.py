"""The admission gate: every piece of work a visitor can cause is admitted here, or refused with one sentence.

A workshop server is shared by a room, so a limit checked in one feature and forgotten in the next lets one visitor
take the server down (an instant style at 2048 px while runs were capped at 1024; ten scripted Apply clicks filling
the worker pool; forty half-sent uploads). So the checks live in one place, and the features ask it:

- **jobs** (a run, a comparison, a training): :meth:`Gate.check_request` validates the ``RunRequest`` once against
  the server's :class:`~demo_app.session.limits.Limits` (size, size x style scale, steps, variants, styles, the
  memory estimate); the scheduler then counts it in the visitor's share (one job per page, ``max_jobs_per_client``,
  and ``max_jobs_per_address`` for the address) and caps its time (``max_job_minutes``, ``max_train_minutes``);
- **worker-pool tasks** (instant styles, time-lapses, grids, comparisons of earlier runs): :meth:`Gate.task` admits
  one task of a kind per page at a time, ``max_tasks_per_client`` per visitor and ``max_tasks_per_address`` per
  address; an instant style is also held to the size limit (:meth:`Gate.check_size`);
- **upload buffering**: :meth:`Gate.buffer` counts every unfinished file of a page against one budget per page, one
  per visitor and one per address; a file that sends nothing for ``UPLOAD_EXPIRY_SECONDS`` is dropped;
- **wall shares**: :meth:`Gate.share` limits how often a visitor may share (the wall keeps one entry per visitor),
  and how many shares one address makes a minute;
- **decoding** a finished upload: one at a time per page (``views/loop.OneAtATime``: it belongs to the page's loop).

A visitor is a browser, not an address (:mod:`demo_app.session.visitor`): each per-visitor share keys on
:attr:`Visitor.key`, and the address only sets a ceiling sized for a workshop room behind one NAT. A button disabled
in the browser is a convenience; these checks are what hold. :meth:`Gate.snapshot` is what the
host's console and ``/status`` show. Thread-safe: pages call it from their loops, worker threads release tasks.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import nstcore

from ..session.limits import Limits
from ..session.visitor import Visitor
from .job import SchedulerError
from .memory import apply_estimate, memory_estimate, timelapse_estimate

# An upload that sends no chunk for this long was abandoned (a closed laptop, a script): its chunks are dropped.
UPLOAD_EXPIRY_SECONDS = 60.0
# Unfinished uploads one page may hold at once: a content and a style image dropped together.
UPLOADS_PER_PAGE = 2
# ... and one visitor over all their pages: a few tabs uploading at once, never dozens.
UPLOADS_PER_CLIENT = 4
# ... and one address: a room of 40 behind one NAT, each dropping a photo at once.
UPLOADS_PER_ADDRESS = 40
# A visitor may share to the wall once per this many seconds (the wall keeps one entry per visitor anyway) ...
SHARE_EVERY_SECONDS = 10.0
# ... and one address this many times per SHARE_WINDOW_SECONDS: a room of 40 sharing within the same minute.
SHARES_PER_ADDRESS = 40
SHARE_WINDOW_SECONDS = 60.0


class Refused(SchedulerError):
    """The gate refused a piece of work; the message is one sentence for the visitor."""


@dataclass(frozen=True)
class Buffered:
    """An unfinished upload: whose, how many bytes so far, when its last chunk came, how to forget its chunks."""

    visitor: Visitor
    size: int
    when: float
    drop: Callable[[], None]


@dataclass(frozen=True)
class UploadBudget:
    """One page's side of :meth:`Gate.buffer`, handed to its upload widgets (``views/uploads.py``)."""

    gate: Gate
    limits: Callable[[], Limits]
    session_id: str
    visitor: Visitor
    told: Callable[[str], None]  # shows a refusal's sentence on the page

    def admit(self, key: str, size: int, drop: Callable[[], None]) -> None:
        self.gate.buffer(self.limits(), self.session_id, self.visitor, key, size, drop)

    def release(self, key: str) -> None:
        self.gate.unbuffer(self.session_id, key)


@dataclass(frozen=True)
class TaskTicket:
    """An admitted worker-pool task; :meth:`Gate.done` (or the ``with`` block of :meth:`Gate.running`) ends it."""

    session_id: str
    visitor: Visitor
    kind: str


class Gate:
    """One per server process (:attr:`Backend.gate <demo_app.jobs.backend.Backend.gate>`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[tuple[str, str], TaskTicket] = {}  # (session, kind) -> the task in flight
        self._buffers: dict[str, dict[str, Buffered]] = {}  # session -> upload key -> its unfinished file
        self._shares: dict[str, float] = {}  # visitor -> when they last shared to the wall
        self._address_shares: dict[str, deque[float]] = {}  # address -> when it shared within the window
        self.refusals = 0  # pieces of work refused since start (for /status and the host)

    # -- jobs ---------------------------------------------------------------------------------------------------
    def check_request(self, limits: Limits, request: nstcore.RunRequest, device: str = "cpu") -> None:
        """Refuse (:class:`Refused`, one sentence) a job the server's limits do not allow (memory as on a ``device``
        of that type)."""
        config = request.config
        if config.size > limits.max_size or config.steps > limits.max_steps:
            self._refuse(
                f"This server allows at most {limits.max_size} px and {limits.max_steps} steps; "
                "lower the size or the number of steps."
            )
        if config.size * config.style_scale > limits.max_size:
            self._refuse(
                f"Style scale {config.style_scale:g} at {config.size} px makes the style image "
                f"{config.size * config.style_scale:.0f} px, over this server's {limits.max_size} px; "
                "lower the style scale or the size."
            )
        variants = len(request.variants or ()) or 1
        cells = max(limits.max_variants, limits.max_sweep_cells)  # a sweep's cells, run in batches that fit
        if variants > cells:
            self._refuse(f"A comparison may have at most {cells} cells on this server.")
        if len(request.styles) > limits.max_styles:
            self._refuse(f"This server blends at most {limits.max_styles} style images; remove one.")
        needed = memory_estimate(request, device)
        if needed > limits.max_job_gb * 2**30:
            self._refuse(
                f"This job would need about {needed / 2**30:.1f} GB of memory, over this server's "
                f"{limits.max_job_gb:g} GB per job; lower the size or use fewer variants."
            )

    def check_size(self, limits: Limits, size: int, content_size: tuple[int, int] = (4, 3)) -> None:
        """An instant style (one pass of a generator) at ``size`` px on a picture of ``content_size``: held to the
        same size limit as a run, and to the memory one job may use."""
        if size > limits.max_size:
            self._refuse(f"This server allows at most {limits.max_size} px; lower the size (Run settings).")
        needed = apply_estimate(content_size, size)
        if needed > limits.max_job_gb * 2**30:
            self._refuse(
                f"This instant style would need about {needed / 2**30:.1f} GB of memory, over this server's "
                f"{limits.max_job_gb:g} GB per job; lower the size."
            )

    def check_timelapse(self, limits: Limits, frames: int, width: int, height: int) -> None:
        """A time-lapse of ``frames`` frames of ``width`` x ``height``: held to the memory one job may use."""
        needed = timelapse_estimate(frames, width, height)
        if needed > limits.max_job_gb * 2**30:
            self._refuse(
                f"This time-lapse would need about {needed / 2**30:.1f} GB of memory, over this server's "
                f"{limits.max_job_gb:g} GB per job; download the result instead."
            )

    # -- worker-pool tasks --------------------------------------------------------------------------------------
    def task(self, limits: Limits, session_id: str, visitor: Visitor, kind: str, what: str) -> TaskTicket:
        """Admit one worker-pool task of ``kind`` ("apply", "timelapse" ...) for a page, or refuse it: the page
        already has one of that kind in flight, its visitor has ``max_tasks_per_client`` in flight, or its address
        ``max_tasks_per_address``."""
        with self._lock:
            tickets = list(self._tasks.values())
            if (session_id, kind) in self._tasks:
                sentence = f"{what} is still being made for this page; wait for it to finish."
            elif sum(t.visitor.same_person(visitor) for t in tickets) >= limits.max_tasks_per_client:
                sentence = (
                    f"You already have {limits.max_tasks_per_client} pictures being made on this server; wait for one "
                    "to finish."
                )
            elif sum(t.visitor.same_address(visitor) for t in tickets) >= limits.max_tasks_per_address:
                sentence = (
                    f"Your network already has {limits.max_tasks_per_address} pictures being made on this server (the "
                    "most one address may have); wait a moment and try again."
                )
            else:
                ticket = TaskTicket(session_id, visitor, kind)
                self._tasks[(session_id, kind)] = ticket
                return ticket
            self.refusals += 1
        raise Refused(sentence)

    def done(self, ticket: TaskTicket) -> None:
        with self._lock:
            if self._tasks.get((ticket.session_id, ticket.kind)) is ticket:
                del self._tasks[(ticket.session_id, ticket.kind)]

    @contextmanager
    def running(self, ticket: TaskTicket) -> Iterator[None]:
        try:
            yield
        finally:
            self.done(ticket)

    # -- upload buffering ---------------------------------------------------------------------------------------
    def buffer(
        self, limits: Limits, session_id: str, visitor: Visitor, key: str, size: int, drop: Callable[[], None]
    ) -> None:
        """Admit ``size`` bytes buffered so far for the unfinished file ``key`` of a page, or refuse it (one
        sentence) when the page's, the visitor's or the address's unfinished uploads would pass their budget.
        ``drop()`` forgets the file's chunks: the gate calls it when the file sends nothing for
        UPLOAD_EXPIRY_SECONDS (checked at every chunk of any page and by :meth:`snapshot`)."""
        now = time.monotonic()
        with self._lock:
            expired = self._expire(now)
            files = self._buffers.setdefault(session_id, {})
            others = sum(f.size for k, f in files.items() if k != key)
            elsewhere = [
                f for s, named in self._buffers.items() for k, f in named.items() if (s, k) != (session_id, key)
            ]
            mine = sum(f.size for f in elsewhere if f.visitor.same_person(visitor))
            near = sum(f.size for f in elsewhere if f.visitor.same_address(visitor))
            sentence = ""
            if others + size > UPLOADS_PER_PAGE * limits.max_upload_bytes or (
                visitor.key and mine + size > UPLOADS_PER_CLIENT * limits.max_upload_bytes
            ):
                sentence = (
                    "Too many unfinished uploads from you; wait for the others to finish, then drop the file again."
                )
            elif visitor.address and near + size > UPLOADS_PER_ADDRESS * limits.max_upload_bytes:
                sentence = (
                    "Too many unfinished uploads from your network (the most one address may send at once); wait a "
                    "moment, then drop the file again."
                )
            if sentence:
                files.pop(key, None)
                self.refusals += 1
            else:
                files[key] = Buffered(visitor, size, now, drop)
        for forget in expired:
            forget()
        if sentence:
            raise Refused(sentence)

    def unbuffer(self, session_id: str, key: str | None = None) -> None:
        """A file arrived whole or was refused (``key``), or the page closed (every file of it)."""
        with self._lock:
            if key is None:
                self._buffers.pop(session_id, None)
            else:
                self._buffers.get(session_id, {}).pop(key, None)

    def buffered(self, session_id: str) -> dict[str, int]:
        """The page's unfinished uploads: key -> bytes."""
        with self._lock:
            return {k: f.size for k, f in self._buffers.get(session_id, {}).items()}

    def _expire(self, now: float) -> list[Callable[[], None]]:
        """Forget files that sent nothing for UPLOAD_EXPIRY_SECONDS (under the lock); their drop callbacks, for the
        caller to call once the lock is released."""
        dropped = []
        for session_id, files in list(self._buffers.items()):
            for key, buffered in list(files.items()):
                if now - buffered.when > UPLOAD_EXPIRY_SECONDS:
                    del files[key]
                    dropped.append(buffered.drop)
            if not files:
                del self._buffers[session_id]
        return dropped

    # -- wall ---------------------------------------------------------------------------------------------------
    def share(self, visitor: Visitor) -> None:
        """Admit a share to the wall, or refuse it when this visitor shared less than SHARE_EVERY_SECONDS ago, or
        their address SHARES_PER_ADDRESS times within SHARE_WINDOW_SECONDS."""
        now = time.monotonic()
        with self._lock:
            self._forget_old_shares(now)
            last = self._shares.get(visitor.key)
            recent = self._address_shares.get(visitor.address, deque())
            if visitor.key and last is not None:
                sentence = f"You shared a moment ago; wait {SHARE_EVERY_SECONDS - (now - last):.0f} s."
            elif visitor.address and len(recent) >= SHARES_PER_ADDRESS:
                sentence = (
                    f"Your network has shared {SHARES_PER_ADDRESS} pictures within a minute (the most one address "
                    f"may); wait {SHARE_WINDOW_SECONDS - (now - recent[0]):.0f} s."
                )
            else:
                if visitor.key:
                    self._shares[visitor.key] = now
                if visitor.address:
                    self._address_shares.setdefault(visitor.address, recent).append(now)
                return
            self.refusals += 1
        raise Refused(sentence)

    def _forget_old_shares(self, now: float) -> None:
        """Drop shares older than their windows (under the lock): a script with a new cookie for every share leaves
        nothing behind."""
        for key in [k for k, when in self._shares.items() if now - when >= SHARE_EVERY_SECONDS]:
            del self._shares[key]
        for address, times in list(self._address_shares.items()):
            while times and now - times[0] >= SHARE_WINDOW_SECONDS:
                times.popleft()
            if not times:
                del self._address_shares[address]

    # -- status ---------------------------------------------------------------------------------------------------
    def snapshot(self) -> dict[str, int]:
        """What the host sees: tasks in flight, unfinished uploads and their bytes, refusals since start."""
        with self._lock:
            expired = self._expire(time.monotonic())
            figures = {
                "tasks": len(self._tasks),
                "uploads": sum(len(files) for files in self._buffers.values()),
                "upload_bytes": sum(f.size for files in self._buffers.values() for f in files.values()),
                "refused": self.refusals,
            }
        for forget in expired:
            forget()
        return figures

    def _refuse(self, sentence: str) -> None:
        with self._lock:
            self.refusals += 1
        raise Refused(sentence)
