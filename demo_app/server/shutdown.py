"""Graceful shutdown of ``python -m demo_app``: on SIGTERM or SIGINT the server takes no new jobs, tells every page
why its job ended, gives the device's memory back and stops its loop."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

import nstcore

from ..jobs.backend import Backend

log = logging.getLogger("demo_app")


# Pages poll their job every 200 ms: a second is enough for every open page to show why its run ended.
SHUTDOWN_NOTICE_SECONDS = 1.0


def stop_gracefully_on_signals(server, backend: Backend) -> None:
    """On SIGTERM (docker stop, systemd) or SIGINT (Ctrl-C): take no new jobs, end running and queued ones with a
    sentence their pages show, give the device's memory back, and stop the loop, so ``main`` returns 0 within a few
    seconds. A second signal while stopping ends the process at once."""
    stopping = threading.Event()

    def on_signal(signum: int, frame) -> None:
        if stopping.is_set():
            os._exit(1)
        stopping.set()
        name = signal.Signals(signum).name
        server.io_loop.asyncio_loop.call_soon_threadsafe(
            lambda: threading.Thread(target=stop, args=(name,), name="nst-shutdown", daemon=True).start()
        )

    def stop(name: str) -> None:
        scheduler = backend.scheduler
        busy = scheduler.stats()
        log.warning(
            "demo_app: %s received: stopping; %d running and %d queued job(s) are cancelled",
            name,
            busy["running"],
            busy["queued"],
        )
        clean = scheduler.shutdown(timeout=3.0)
        time.sleep(SHUTDOWN_NOTICE_SECONDS)
        if not clean:
            # A thread still inside torch (a step that did not reach a layer boundary) would make the interpreter's
            # exit abort ("terminate called without an active exception", exit -6): the pages have been told, so
            # end here, without tearing the interpreter down around it.
            log.warning("demo_app: a job thread did not stop within 3 s; exiting now")
            logging.shutdown()
            os._exit(0)
        nstcore.release_memory(backend.device)
        server.io_loop.add_callback(server.io_loop.stop)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
