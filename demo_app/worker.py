"""Runs one style-transfer job in a background thread and hands over its results to the session.

The thread iterates nstcore's run generator; the session's event loop calls :meth:`RunWorker.take` from a periodic
callback and gets only what is new: the loss rows since the last call and the latest frame (older frames are
dropped, never queued). Stopping sets an event checked after every step and closes the generator.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

import nstcore

log = logging.getLogger("demo_app")


@dataclass
class Handover:
    """What the worker produced since the last :meth:`RunWorker.take`."""

    rows: list[tuple[int, tuple[nstcore.Losses, ...]]] = field(default_factory=list)
    frames: tuple[np.ndarray, ...] | None = None
    latest: nstcore.Progress | None = None
    finished: bool = False
    error: str | None = None


class RunWorker:
    """One job's thread. ``start_run`` is called *in* the thread, so image preparation and target computation never
    block the server's event loop."""

    def __init__(self, start_run: Callable[[], Iterator[nstcore.Progress]], name: str = "nst-run") -> None:
        self._start_run = start_run
        self._lock = threading.Lock()
        self._pending = Handover()
        self._stop = threading.Event()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def join(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def take(self) -> Handover:
        with self._lock:
            out, self._pending = self._pending, Handover()
            return out

    def _loop(self) -> None:
        snapshots = None
        error = None
        try:
            snapshots = self._start_run()
            for progress in snapshots:
                with self._lock:
                    self._pending.rows.append((progress.step, progress.losses))
                    self._pending.latest = progress
                    if progress.images is not None:
                        self._pending.frames = progress.images
                if self._stop.is_set():
                    break
        except nstcore.NSTError as exc:
            error = str(exc)
        except MemoryError:
            error = "The run ran out of memory; try a smaller image size or fewer variants."
        except Exception as exc:  # an engine fault ends this run only; the session and server go on
            log.exception("run failed")
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "out of memory" in text.lower():
                error = "The run ran out of GPU memory; try a smaller image size or fewer variants."
            else:
                error = f"The run failed ({type(exc).__name__}: {text}); the settings are kept, try again."
        finally:
            if snapshots is not None:
                snapshots.close()
            with self._lock:
                self._pending.finished = True
                self._pending.error = error
            self._done.set()
