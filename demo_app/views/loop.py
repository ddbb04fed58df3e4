"""Slow work off the event loop: a small thread pool, with results applied back on the session's own loop.

Every visitor's page is served by one event loop. Decoding a 16-bit 6000x6000 PNG on it blocked ``/liveness`` for
4.8 s, and a grid with long labels for 28 s; so decoding, resizing, encoding, parsing and rendering run here
instead, and only the (fast) update of the page happens on the loop.

The worker hands its result to the loop with Tornado's ``IOLoop.add_callback`` (thread-safe), and the loop then
schedules the update with ``Document.add_next_tick_callback`` (which runs it under the document's lock). Bokeh calls
that document method thread-safe, but while Panel holds the document (most of each callback) it appends to a list
the loop is reading: measured, about half of the workers' calls landed inside a hold, where one can be lost.
"""

from __future__ import annotations

import itertools
import logging
import os
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import panel as pn
from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop

from ..session.imaging import encode_jpeg
from .fair_pool import FairPool

log = logging.getLogger("demo_app")
T = TypeVar("T")

# Two threads on a 2-core server: decoding releases the GIL, so they run beside the loop and the job; more would
# only queue behind the cores. Work from many sessions waits its turn here, never on the loop, and visitors take
# turns (fair_pool): one visitor's flood of tasks no longer holds every thread.
_POOL = FairPool(max(2, min(4, (os.cpu_count() or 2) // 2)), "nst-io")
# Whose work a session's document asks for: its visitor's key (set when the page is built; none: a queue of its own).
_OWNERS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def belongs_to(doc: Any, owner: str) -> None:
    """Count the work that ``doc``'s session hands to the pool as ``owner``'s (a visitor's key) in its turns."""
    if doc is not None:
        _OWNERS[doc] = owner


def _session_loop(doc) -> IOLoop:
    """The loop serving ``doc`` (found from any thread); the current one if the session does not say."""
    try:
        loop = doc.session_context.server_context.application_context.io_loop
    except AttributeError:
        loop = None
    return loop if loop is not None else IOLoop.current()


def in_background(
    work: Callable[[], T], then: Callable[[T], object], failed: Callable[[BaseException], object] | None = None
) -> Future | None:
    """Run ``work()`` on a worker thread, then ``then(result)`` (or ``failed(exc)``) on the calling session's loop.

    Outside a served session (tests, scripts) both run at once, in order, on the calling thread.
    """
    doc = pn.state.curdoc
    if doc is None or doc.session_context is None:
        try:
            result = work()
        except Exception as exc:  # noqa: BLE001 - handed to the caller's handler
            if failed is None:
                raise
            failed(exc)
            return None
        then(result)
        return None

    loop = _session_loop(doc)

    def apply(callback: Callable[[], object]) -> None:
        def on_loop() -> None:
            with set_curdoc(doc):
                try:
                    callback()
                except Exception:  # noqa: BLE001 - a page update must never take the loop down
                    log.exception("applying background work to the page failed")

        def schedule() -> None:  # on the loop
            try:
                doc.add_next_tick_callback(on_loop)
            except Exception:  # noqa: BLE001 - the session closed in the meantime: nothing to show it to
                log.debug("session gone before background work finished")

        loop.add_callback(schedule)

    def done(future: Future) -> None:
        exc = future.exception()
        if exc is None:
            result = future.result()
            apply(lambda: then(result))
        elif failed is not None:
            apply(lambda: failed(exc))
        else:
            log.error("background work failed", exc_info=exc)

    future = _POOL.submit(_OWNERS.get(doc, f"page-{id(doc)}"), work)
    future.add_done_callback(done)
    return future


def quiet_periodic(callback, period_ms: int):
    """A session's periodic callback that neither logs nor counts as "busy".

    Panel logs every run at INFO, and with ``--admin`` its log page kept every entry (five a second per open page,
    memory that only grew). And Panel counts every run of a foreground periodic callback in one *process-wide*
    busy flag that its template copies into a busy spinner: with every page's clock setting it, the spinner stayed
    on in pages where nothing happened (60 style recalculations a second, ~10 % of a core per open page on a
    2-core server). A clock is background work (``_background``: Panel has no public switch for it on
    ``add_periodic_callback``), and the page template shows no busy indicator."""
    periodic = pn.state.add_periodic_callback(callback, period=period_ms, start=False)
    periodic.log = False
    periodic._background = True
    periodic.start()
    return periodic


class NewestFrames:
    """Preview frames encoded to JPEG on a worker thread, one batch at a time, then ``show(jpegs)`` on the session's
    loop. Only the newest batch waits: frames that arrive while one is being encoded replace each other, so a slow
    encoder skips frames instead of falling behind."""

    def __init__(self, show: Callable[[list[bytes]], object], failed: Callable[[BaseException], object]) -> None:
        self._show, self._failed = show, failed
        self._waiting: tuple | None = None
        self._encoding = False

    def offer(self, frames: tuple) -> None:
        self._waiting = frames
        self._next()

    def reset(self) -> None:
        """A new run: frames of the old one still waiting are dropped."""
        self._waiting = None

    def _next(self) -> None:
        if self._encoding or self._waiting is None:
            return
        frames, self._waiting, self._encoding = self._waiting, None, True

        def show(jpegs: list[bytes]) -> None:
            self._encoding = False
            self._show(jpegs)
            self._next()

        def failed(exc: BaseException) -> None:
            self._encoding = False
            self._failed(exc)

        in_background(lambda: [encode_jpeg(frame) for frame in frames], show, failed)


# A piece of work waiting its turn: (work, then, failed), as in_background takes them.
_Pending = tuple[Callable[[], Any], Callable[[Any], object], Callable[[BaseException], object]]


class OneAtATime:
    """A page's decoding of uploads on the worker pool, one file at a time: files that arrive meanwhile wait, the
    newest per ``key`` replacing an older one still waiting. However many files a script sends, its page then holds
    one pool thread, never all of them (the pool decodes every page's uploads)."""

    def __init__(self) -> None:
        self._busy = False
        self._waiting: dict[str, _Pending] = {}

    def submit(
        self, key: str, work: Callable[[], T], then: Callable[[T], object], failed: Callable[[BaseException], object]
    ) -> None:
        self._waiting.pop(key, None)
        self._waiting[key] = (work, then, failed)
        self._next()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    def _next(self) -> None:
        if self._busy or not self._waiting:
            return
        key = next(iter(self._waiting))
        work, then, failed = self._waiting.pop(key)
        self._busy = True

        def done(callback: Callable[[Any], object], value: Any) -> None:
            self._busy = False
            try:
                callback(value)
            finally:
                self._next()

        in_background(work, lambda result: done(then, result), lambda exc: done(failed, exc))


_DECODERS: weakref.WeakKeyDictionary[Any, OneAtATime] = weakref.WeakKeyDictionary()
_unique = itertools.count()


def decoder(owner: Any) -> OneAtATime:
    """The one decoder of ``owner`` (a page's SessionState), shared by its upload areas."""
    found = _DECODERS.get(owner)
    if found is None:
        found = _DECODERS[owner] = OneAtATime()
    return found


def unique_key(prefix: str) -> str:
    """A key no other submission shares (uploads that must not replace each other, e.g. added style images)."""
    return f"{prefix}-{next(_unique)}"
