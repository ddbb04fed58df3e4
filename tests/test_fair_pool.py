"""The worker pool's fair share (issue 39): visitors take turns, and no visitor holds every thread."""

from __future__ import annotations

import threading
import time

import pytest
from browser import wait_until

from demo_app.views.fair_pool import FairPool


def _blocked(started: list[str], name: str, release: threading.Event):
    def work() -> str:
        started.append(name)
        assert release.wait(10)
        return name

    return work


def test_a_second_visitors_task_starts_while_the_first_visitor_floods_the_pool() -> None:
    """One visitor's six long tasks hold both threads of two; another visitor's task starts at once, on a spare, and
    once the others wait, the flooder gets one thread at a time. A first-come executor made the newcomer wait for
    the flood (16.4 s instead of 3.2 s for an upload, on a 2-core server)."""
    pool, release, started = FairPool(2, extra=1), threading.Event(), []
    flood = [pool.submit("alice", _blocked(started, f"alice-{i}", release)) for i in range(6)]
    wait_until(lambda: sorted(started) == ["alice-0", "alice-1"], timeout=10)  # alone, she may use every thread
    bob_gate = threading.Event()
    first = pool.submit("bob", _blocked(started, "bob-1", bob_gate))
    wait_until(lambda: "bob-1" in started, timeout=10)  # at once, while both of Alice's tasks still run
    second = pool.submit("bob", _blocked(started, "bob-2", bob_gate))
    time.sleep(0.2)
    assert "bob-2" not in started  # a spare is for an owner with nothing running, not a second flood
    assert pool.waiting() == {"alice": 4, "bob": 1}
    bob_gate.set()
    assert first.result(timeout=10) == "bob-1" and second.result(timeout=10) == "bob-2"
    assert sorted(started[:2]) == ["alice-0", "alice-1"] and started[2:] == ["bob-1", "bob-2"]
    release.set()
    assert [f.result(timeout=10) for f in flood] == [f"alice-{i}" for i in range(6)]  # her own order kept
    assert started.index("bob-2") < started.index("alice-2")  # Bob's second did not wait for the flood


def test_while_others_wait_one_visitor_holds_at_most_all_threads_but_one() -> None:
    pool, release, started = FairPool(3, extra=0), threading.Event(), []
    for i in range(4):
        pool.submit("alice", _blocked(started, f"alice-{i}", release))
    wait_until(lambda: len(started) == 3, timeout=10)
    gate = threading.Event()
    pool.submit("bob", _blocked(started, "bob-0", gate))
    pool.submit("bob", _blocked(started, "bob-1", gate))
    release.set()  # Alice's three end; the next three threads go bob, alice, bob (not alice, alice, ...)
    wait_until(lambda: len(started) == 6, timeout=10)
    assert started[3:] in (["bob-0", "alice-3", "bob-1"], ["bob-0", "bob-1", "alice-3"])
    gate.set()


def test_visitors_take_turns_each_waiting_behind_one_task_of_each_other() -> None:
    """With one thread busy and three visitors queued, tasks start in turns: a, b, c, a, b, c..."""
    pool, gate, order = FairPool(1, extra=0), threading.Event(), []
    first = pool.submit("held", lambda: gate.wait(10))
    futures = [pool.submit("a", lambda i=i: order.append(f"a{i}")) for i in range(3)]
    futures += [pool.submit(owner, lambda o=owner, i=i: order.append(f"{o}{i}")) for i in range(2) for owner in "bc"]
    gate.set()
    first.result(timeout=10)
    for future in futures:
        future.result(timeout=10)
    assert order == ["a0", "b0", "c0", "a1", "b1", "c1", "a2"]


def test_a_failure_reaches_its_future_and_the_thread_serves_on() -> None:
    pool = FairPool(2)

    def boom() -> None:
        raise ValueError("not a picture")

    with pytest.raises(ValueError, match="not a picture"):
        pool.submit("a", boom).result(timeout=10)
    assert pool.submit("a", lambda: 7).result(timeout=10) == 7
    assert pool.waiting() == {}
