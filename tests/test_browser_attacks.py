"""Resources are assertions: a visitor pressing Run and Stop in turn leaves no thread computing on the server
(a separate process, its CPU time read from /proc, a memory guard that kills it past half the machine)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


def test_run_stop_cycles_leave_no_thread_computing() -> None:
    """Before the gate, three Run/Stop cycles at 512 px left the server busy on 0.73 cores after the last Stop
    (stopped jobs' threads went on in their steps while new ones started); 768 px, six cycles: 1.91 cores, +1.6 GB."""
    from bench_attacks import run_stop

    root = Path(__file__).resolve().parents[1]
    result = run_stop(root, size=512, cycles=2, quiet_seconds=4, settle=1)
    assert not result["guard"]
    assert result["cores_after_stop"] < 0.3, result
    assert result["stuck"] == 0, result


def test_a_script_that_throws_its_cookies_away_is_held_at_the_address_ceiling_in_memory_too() -> None:
    """A visitor is a browser, so a script that starts every page from a fresh browser (no cookie) is a new visitor
    each time: from one address it meets the page ceiling, and the pages refused there cost the server (a separate
    process, its resident memory read from /proc, guarded) a fraction of the pages it admitted."""
    from bench_attacks import Watch, _rss_mb, _server
    from browser import chromium

    root = Path(__file__).resolve().parents[1]
    admitted, refused = 4, 12
    with _server(root, "--max-sessions-per-address", str(admitted)) as (url, proc), chromium() as chrome:
        watch = Watch(url, proc)
        contexts = []

        def fresh_page(expect: str):
            context = chrome.new_context(viewport={"width": 1280, "height": 720})
            contexts.append(context)
            page = context.new_page()
            page.goto(url)
            page.get_by_text(expect, exact=expect.startswith("▶")).first.wait_for()
            page.wait_for_timeout(300)

        try:
            fresh_page("▶ Run")  # the first page builds what every page shares (imports, samples)
            before = _rss_mb(proc.pid)
            for _ in range(admitted - 1):
                fresh_page("▶ Run")
            with_admitted = _rss_mb(proc.pid)
            for _ in range(refused):
                fresh_page(f"{admitted} pages of the workbench are already open from your network")
            with_refused = _rss_mb(proc.pid)
        finally:
            watch.stop()
            for context in contexts:
                context.close()
        assert not watch.guarded
        per_admitted = (with_admitted - before) / (admitted - 1)
        per_refused = (with_refused - with_admitted) / refused
        print(f"server memory: {per_admitted:.1f} MB per admitted page, {per_refused:.2f} MB per refused page")
        assert per_refused < max(per_admitted / 4, 0.5), (per_admitted, per_refused)
