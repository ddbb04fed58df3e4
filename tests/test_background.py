"""Slow work off the loop: results come back on the session's loop, and no worker thread touches the document."""

from __future__ import annotations

import threading
import weakref
from types import SimpleNamespace

import pytest
from bokeh.document import Document
from panel.io.state import set_curdoc
from tornado.ioloop import IOLoop

from demo_app.views.loop import in_background


class _Context:  # a session context stand-in (weakly referenced, as Bokeh does)
    server_context: SimpleNamespace


@pytest.fixture
def served_doc():
    """A document whose session is served by a Tornado loop running in its own thread (as under ``panel serve``);
    every call of the document's ``add_next_tick_callback`` is recorded with its thread, then run on that loop."""
    ready, holder = threading.Event(), {}

    def serve() -> None:
        loop = IOLoop()
        holder["loop"] = loop
        ready.set()
        loop.start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(5)
    loop = holder["loop"]
    doc = Document()
    context = _Context()
    context.server_context = SimpleNamespace(application_context=SimpleNamespace(io_loop=loop))
    doc._session_context = weakref.ref(context)  # type: ignore[assignment]  # what a served session sets
    calls: list[str] = []

    def add_next_tick_callback(callback):
        calls.append(threading.current_thread().name)
        loop.add_callback(callback)

    doc.add_next_tick_callback = add_next_tick_callback  # type: ignore[method-assign]
    yield doc, loop, thread, calls, context
    loop.add_callback(loop.stop)
    thread.join(5)


def _on_loop(loop: IOLoop, doc: Document, fn) -> None:
    def call() -> None:
        with set_curdoc(doc):
            fn()

    loop.add_callback(call)


def test_results_and_failures_come_back_on_the_loop_and_workers_never_touch_the_document(served_doc) -> None:
    doc, loop, loop_thread, calls, _ = served_doc
    got: list[tuple[str, object]] = []
    done = threading.Event()

    def then(result) -> None:
        got.append((threading.current_thread().name, result))
        if len(got) == 2:
            done.set()

    def failed(exc: BaseException) -> None:
        got.append((threading.current_thread().name, str(exc)))
        if len(got) == 2:
            done.set()

    def boom() -> int:
        raise ValueError("not a picture")

    _on_loop(loop, doc, lambda: in_background(lambda: threading.current_thread().name, then))
    _on_loop(loop, doc, lambda: in_background(boom, then, failed))
    assert done.wait(10)
    # Two workers may finish in either order (under load the failure came back first): each by what it is.
    (worker_name,) = [result for _, result in got if result != "not a picture"]
    assert isinstance(worker_name, str) and worker_name.startswith("nst-io")  # the work ran on a worker
    assert sorted(got) == sorted([(loop_thread.name, worker_name), (loop_thread.name, "not a picture")])
    # Bokeh's document method was called on the loop only: from a worker it could land inside one of Panel's
    # holds, appending to a list the loop is reading
    assert calls and set(calls) == {loop_thread.name}


def test_a_closed_session_drops_the_result_quietly(served_doc) -> None:
    doc, loop, _, calls, context = served_doc
    closed = threading.Event()

    def refuse(_callback) -> None:
        closed.set()
        raise RuntimeError("Attempting to add session callback to already-destroyed Document")

    doc.add_next_tick_callback = refuse  # type: ignore[method-assign]
    shown: list[int] = []
    _on_loop(loop, doc, lambda: in_background(lambda: 1, shown.append))
    assert closed.wait(10)
    ping = threading.Event()
    loop.add_callback(ping.set)  # the loop still runs
    assert ping.wait(5) and shown == []
