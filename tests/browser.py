"""Helpers for browser tests: serve the dashboard in-process on a free port; drive Debian's chromium."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
# Headless chromium on a machine without internet: no background fetches, no sandbox (we run as root in CI).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # a fake webcam that needs no permission prompt (the page's Take a photo on a laptop)
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def served_dashboard(backend, limits, host_password: str = "") -> Iterator[str]:
    import panel as pn
    import torch

    from demo_app.server.app import applications, configure, serve_options

    threads = torch.get_num_threads()  # configure() sets the server's job threads for the whole process
    configure(backend, limits, host_password)
    port = free_port()
    server = pn.serve(
        applications(),
        port=port,
        address="127.0.0.1",
        show=False,
        threaded=True,
        start=True,
        websocket_origin=[f"127.0.0.1:{port}", f"localhost:{port}"],
        verbose=False,
        **serve_options(),
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError as exc:
            if time.time() > deadline:  # it used to go on regardless, and the tests failed later, far from here
                server.stop()
                raise AssertionError(f"the in-process server on port {port} did not start listening: {exc}") from None
            time.sleep(0.2)
    try:
        yield url
    finally:
        server.stop()
        # A stopped server destroys no sessions, so their jobs would run on and starve the next module's tests:
        # end them with the server.
        backend.scheduler.shutdown(timeout=10.0)
        from demo_app.server.app import LIVE_HOST_PAGES, LIVE_SESSIONS

        LIVE_SESSIONS.clear()
        LIVE_HOST_PAGES.clear()  # they count in their address's page ceiling: none may outlive its server
        torch.set_num_threads(threads)  # the next module's in-process runs get the process's own count back


@contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():  # fail, never skip: CI must run these
        raise AssertionError(f"{CHROMIUM} is missing: install Debian's chromium (scripts/test does it as root).")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def server_process(
    *args: str, stderr=subprocess.DEVNULL, root: Path | None = None
) -> Iterator[tuple[str, subprocess.Popen]]:
    """``python -m demo_app`` in its own process (random weights, CPU) on a free port: ``(url, process)``; of the
    checkout at ``root`` (default: this one; the benchmarks attack older ones too)."""
    root = root or Path(__file__).resolve().parents[1]
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demo_app",
            "--weights",
            "random",
            "--device",
            "cpu",
            "--no-show",
            "--port",
            str(port),
            "--address",
            "127.0.0.1",
            *args,
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + 120
        while True:  # up, and done measuring its device (a load test's figures would count the calibration)
            try:
                body = json.loads(urllib.request.urlopen(url + "liveness", timeout=2).read())
                if not body.get("calibrating"):
                    break
            except (OSError, ValueError):
                if time.time() > deadline or proc.poll() is not None:
                    raise RuntimeError("the server did not start") from None
            if time.time() > deadline:
                raise RuntimeError("the server did not finish measuring its device")
            time.sleep(0.3)
        yield url, proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def wait_until(predicate, timeout: float = 30.0) -> None:
    """Poll ``predicate`` (server-side state, usually) until it holds; fail the test after ``timeout`` seconds.

    A limit for "never", not a speed: on a 2-core CI machine with three test workers a browser round trip has taken
    over 8 s (a late button label, an upload), and waiting longer costs a passing test nothing. The same 30 s as
    Playwright's own default, which the tests' ``wait_for()`` calls use (a wait that needs longer says so)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def open_dashboard(browser, url: str, viewport: tuple[int, int] = (1400, 1000), **context_options):
    """A new browser context on the dashboard, once its Run button is drawn; returns (context, page, the session's
    server-side Dashboard)."""
    width, height = viewport
    options = {"device_scale_factor": 1, **context_options}
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    return (context, *open_tab(context, url))


def open_tab(context, url: str):
    """Another tab of the browser ``context`` on the dashboard, once its Run button is drawn: (page, the session's
    server-side Dashboard)."""
    from demo_app.server.app import LIVE_SESSIONS

    before = {id(d) for d in LIVE_SESSIONS}
    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="▶ Run", exact=True).wait_for()
    deadline = time.time() + 10
    while time.time() < deadline:
        new = [d for d in list(LIVE_SESSIONS) if id(d) not in before]
        if new:
            return page, new[-1]
        time.sleep(0.1)
    raise AssertionError("no server session appeared")


def token_payload(html: str) -> dict:
    """What a served page's Bokeh session token carries (its headers, cookies and our visitor id)."""
    import re

    from bokeh.util.token import get_token_payload

    token = re.search(r'"token":\s*"([^"]+)"', html)
    assert token is not None, "no session token in the page"
    return dict(get_token_payload(token.group(1)))


def open_card(page, card_class: str, inside: str) -> None:
    """Expand the sidebar card with CSS class ``card_class`` (Advanced, Run settings start collapsed) until the
    element ``inside`` is visible."""
    target = page.locator(inside).first
    if not target.is_visible():
        page.locator(f".{card_class} .card-header").first.click()
        target.wait_for(state="visible", timeout=10_000)


def start_small_run(page, steps: int = 5000, size_key: str = "") -> None:
    """Through the page, as a visitor: size 32 px (Home = the smallest size, 16 px, then one 16 px step; or the
    slider key ``size_key``, e.g. End for the largest the server allows), ``steps`` steps at one scale (a fresh page
    is on Quick, coarse to fine, whose coarsest scale of 32 px is too small for VGG), press Run."""
    open_card(page, "nst-settings-card", ".size-slider")
    handle = page.locator(".size-slider .noUi-handle")
    handle.focus()
    if size_key:
        handle.press(size_key)
    else:
        handle.press("Home")
        handle.press("ArrowRight")
    for selector, value in ((".nst-scales input", 1), (".steps-input input", steps)):
        box = page.locator(selector)
        box.fill(str(value))
        box.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="▶ Run", exact=True).click()


# The stylesheet links of the page and of every shadow root (each Panel widget has its own) not loaded yet.
UNLOADED_STYLESHEETS = """() => {
  const roots = [document], pending = [];
  for (let i = 0; i < roots.length; i++) {
    for (const el of roots[i].querySelectorAll("*")) if (el.shadowRoot) roots.push(el.shadowRoot);
    for (const link of roots[i].querySelectorAll('link[rel="stylesheet"]')) if (!link.sheet) pending.push(link.href);
  }
  return [...new Set(pending)];
}"""


def serious_violations(page, stylesheet_timeout: float = 15.0) -> list[str]:
    """axe-core's serious and critical findings on ``page`` (shadow roots included), one line each.

    Only once every stylesheet has loaded: a widget drawn a moment before wears Bokeh's own colours until Panel's
    arrive (a primary button's blue is 3.4:1 on white before button.css, 5.1:1 after), and axe once failed the host
    console's new Send button in that moment, under load."""
    from axe_playwright_python.sync_playwright import Axe

    deadline = time.time() + stylesheet_timeout
    while pending := page.evaluate(UNLOADED_STYLESHEETS):
        if time.time() > deadline:
            raise AssertionError(f"stylesheets still loading after {stylesheet_timeout:g} s: {pending}")
        page.wait_for_timeout(100)
    found = Axe().run(page).response["violations"]
    return [
        f"{v['impact']} {v['id']}: {v['help']} ({len(v['nodes'])}: {v['nodes'][0]['target']})"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]
