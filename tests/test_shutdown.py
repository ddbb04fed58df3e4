"""SIGTERM with a running and a queued job: both pages are told why, the process exits 0 within seconds."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from browser import chromium, server_process, start_small_run

pytestmark = pytest.mark.browser


def test_sigterm_tells_pages_cancels_jobs_and_exits_cleanly() -> None:
    # --batch-jobs 1: the second page's job must wait in the queue (with batching on, it would join the first)
    with server_process("--batch-jobs", "1", stderr=subprocess.PIPE) as (url, proc), chromium() as browser:
        pages = []
        for _ in range(2):
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.goto(url)
            page.get_by_role("button", name="▶ Run", exact=True).wait_for(timeout=60_000)
            pages.append(page)
        start_small_run(pages[0])
        pages[0].locator(".nst-status").get_by_text("Step ").first.wait_for(timeout=60_000)
        start_small_run(pages[1])
        pages[1].locator(".nst-status").get_by_text("Queued: position 1").wait_for()

        t = time.perf_counter()
        proc.send_signal(signal.SIGTERM)
        for page, words in ((pages[0], "your run was stopped"), (pages[1], "your run was not started")):
            page.locator(".nst-error").get_by_text(words).wait_for(timeout=10_000)
        code = proc.wait(15)
        elapsed = time.perf_counter() - t
        log = proc.stderr.read()
    assert code == 0, log
    assert elapsed < 10
    assert "SIGTERM received: stopping; 1 running and 1 queued job(s) are cancelled" in log
    assert "demo_app: stopped" in log and "Traceback" not in log
