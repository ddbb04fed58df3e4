"""A worker pool that serves its visitors in turn: the fair share of the threads that decode, encode and render.

A plain ``ThreadPoolExecutor`` serves work first come, first served: one visitor scripting Apply and time-lapse in two
tabs held both threads of a 2-core server, and another visitor's upload took 16.4 s instead of 3.2 s (issue 39). The
per-visitor caps held; the share did not. Here every owner (a visitor's key) has its own queue, and a free thread
takes the next task of the next owner in a round, so a newcomer's task waits behind at most one task of each other
owner. While others wait, no owner holds more than ``workers - 1`` threads; alone, it may use them all (a training
beside its own preview encoding). And an owner with nothing running whose task finds every thread busy with others'
long tasks gets one of ``extra`` spare threads at once: a task already running is never interrupted, so without a
spare the newcomer would wait for the end of one of them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from ..jobs.priority import give_way


class FairPool:
    """``submit(owner, work)`` -> Future, like an executor's; tasks of one owner start in the order given."""

    def __init__(self, workers: int, name: str = "nst-io", extra: int = 2) -> None:
        self.workers = max(1, workers)
        self.extra = max(0, extra)
        self.per_owner = max(1, self.workers - 1)
        self._name = name
        self._lock = threading.Condition()
        self._queues: OrderedDict[str, deque[tuple[Callable[[], Any], Future]]] = OrderedDict()  # owners in turn
        self._running: dict[str, int] = {}
        self._threads: list[threading.Thread] = []
        self._idle = 0

    def submit(self, owner: str, work: Callable[[], Any]) -> Future:
        future: Future = Future()
        with self._lock:
            self._queues.setdefault(owner, deque()).append((work, future))
            if not self._idle and len(self._threads) < self.workers + self.extra:
                thread = threading.Thread(target=self._serve, name=f"{self._name}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._lock.notify_all()
        return future

    def _may_start(self, owner: str, total: int) -> bool:
        running = self._running.get(owner, 0)
        if total >= self.workers and (running or total >= self.workers + self.extra):
            return False  # every thread busy: only an owner with nothing running takes a spare
        return running < self.per_owner or len(self._queues) == 1  # alone, an owner may use every thread

    def _next(self) -> tuple[str, Callable[[], Any], Future] | None:
        """The first owner in the round whose task may start: its oldest task (under the lock). The owner goes to
        the back of the round."""
        total = sum(self._running.values())
        for owner, queue in self._queues.items():
            if self._may_start(owner, total):
                work, future = queue.popleft()
                del self._queues[owner]
                if queue:
                    self._queues[owner] = queue
                self._running[owner] = self._running.get(owner, 0) + 1
                return owner, work, future
        return None

    def _serve(self) -> None:
        give_way()  # decoding and encoding yield a contested core to the event loop
        while True:
            with self._lock:
                task = self._next()
                while task is None:
                    self._idle += 1
                    self._lock.wait()
                    self._idle -= 1
                    task = self._next()
            owner, work, future = task
            try:
                if future.set_running_or_notify_cancel():
                    try:
                        result = work()
                    except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                        future.set_exception(exc)
                    else:
                        future.set_result(result)
            finally:
                with self._lock:
                    self._running[owner] -= 1
                    if not self._running[owner]:
                        del self._running[owner]
                    self._lock.notify_all()  # a waiting task of this owner may start now

    def waiting(self) -> dict[str, int]:
        """Tasks waiting per owner (for tests and the host's figures)."""
        with self._lock:
            return {owner: len(queue) for owner, queue in self._queues.items()}
