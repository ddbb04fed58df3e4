"""A workshop room behind the venue's one NAT address, in a real browser: every person is their own browser context,
all from 127.0.0.1. The server counted visitors by address, so the room was one person: one wall tile, one share every
10 s, 8 jobs for everyone, and the host's "take off the wall" took everyone off. Now a visitor is a browser."""

from __future__ import annotations

import pytest
from browser import (
    ARTIFACTS,
    chromium,
    open_dashboard,
    open_tab,
    serious_violations,
    served_dashboard,
    start_small_run,
    token_payload,
    wait_until,
)

from demo_app.jobs import gate as gate_module
from demo_app.jobs.backend import Backend
from demo_app.server.visitors import COOKIE, VisitorCookies
from demo_app.server.wall import WALL
from demo_app.session.limits import Limits

pytestmark = pytest.mark.browser

HOST_PASSWORD = "room host password"
ROOM = 12
SHARERS = 6


@pytest.fixture(scope="module")
def backend():
    return Backend(weights="random", device_name="cpu")


@pytest.fixture(scope="module")
def url(backend):
    with served_dashboard(backend, Limits(), HOST_PASSWORD) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


@pytest.fixture
def clean_wall():
    for entry in WALL.entries():
        WALL.remove(entry.key)
    yield WALL
    WALL.clear()


def _unlocked(browser, url: str, path: str, viewport: tuple[int, int]):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(url + path)
    page.locator(".nst-host-password input").fill(HOST_PASSWORD)
    page.locator(".nst-host-password input").press("Enter")  # Enter unlocks, as in any password form
    return context, page


def _share(page, dashboard, name: str) -> None:
    box = page.locator(".nst-wall-name input")
    box.fill(name)
    box.press("Tab")  # the name is committed before Share is pressed
    wait_until(lambda: dashboard.single.wall_name.value == name)
    page.locator(".nst-share button").click()


def _finished(dashboard) -> bool:
    return not dashboard.state.running and not dashboard.single.share.disabled


def test_twelve_people_behind_one_address_run_and_six_get_a_tile_each(browser, url, backend, clean_wall) -> None:
    """12 browsers from one address press Run while the queue is paused (so all 12 jobs wait at once), then 6 share
    under their own names: every run is accepted, the wall shows 6 tiles, the host's console names each row by its
    person beside the name they share under, and taking one person off the wall leaves the other five."""
    room = [open_dashboard(browser, url, (1280, 720)) for _ in range(ROOM)]
    nicknames = [dashboard.state.nickname for _, _, dashboard in room]
    assert len(set(nicknames)) == ROOM  # twelve people, twelve names
    assert len({dashboard.state.visitor.key for _, _, dashboard in room}) == ROOM
    assert {dashboard.state.visitor.address for _, _, dashboard in room} == {"127.0.0.1"}  # one NAT address
    backend.scheduler.pause()
    try:
        for _, page, _ in room:
            start_small_run(page, steps=3)
        wait_until(lambda: all(d.state.run.job is not None or d.state.error for _, _, d in room), timeout=60)
        assert [d.state.error for _, _, d in room] == [""] * ROOM  # no per-address job cap refused anyone
    finally:
        backend.scheduler.resume()
    wait_until(lambda: all(_finished(d) for _, _, d in room), timeout=120)
    sharers = room[:SHARERS]
    for i, (_, page, dashboard) in enumerate(sharers):
        _share(page, dashboard, f"Guest {i + 1}")
    wait_until(lambda: len(WALL.entries()) == SHARERS, timeout=30)
    assert [d.state.error for _, _, d in sharers] == [""] * SHARERS  # no throttle for the whole room
    assert sorted(e.name for e in WALL.entries()) == sorted(f"Guest {i + 1}" for i in range(SHARERS))

    wall_context, wall = _unlocked(browser, url, "wall", (1920, 1080))
    wait_until(lambda: wall.locator(".nst-wall-tile").count() == SHARERS)
    wall.locator(".nst-wall-item figcaption").get_by_text("Guest 6", exact=True).wait_for()
    wall.wait_for_timeout(500)  # the pictures decoded and laid out
    ARTIFACTS.mkdir(exist_ok=True)
    wall.screenshot(path=str(ARTIFACTS / "wall-nat-room.png"), full_page=False)

    host_context, host = _unlocked(browser, url, "host", (1280, 900))
    cells = host.locator(".nst-host-sessions .tabulator-cell")
    cells.get_by_text("Guest 6", exact=True).wait_for()
    for nickname in nicknames:
        cells.get_by_text(nickname, exact=True).first.wait_for()
    host.wait_for_timeout(2500)  # the page's names for Bokeh's controls are set every 2 s
    assert serious_violations(host) == []
    host.screenshot(path=str(ARTIFACTS / "host-nat-room.png"), full_page=True)
    cells.get_by_text("Guest 2", exact=True).click()  # the host selects that person's row
    host.locator(".nst-host-hide-visitor button").click()
    host.get_by_text("Taken off the wall (1 result)").wait_for()
    wait_until(lambda: wall.locator(".nst-wall-tile").count() == SHARERS - 1)
    assert sorted(e.name for e in WALL.entries()) == sorted(f"Guest {i + 1}" for i in range(SHARERS) if i != 1)
    for context in (wall_context, host_context, *(c for c, _, _ in room)):
        context.close()


def test_one_person_with_three_tabs_is_one_visitor(browser, url, clean_wall, monkeypatch) -> None:
    """Tabs of one browser are one person: one nickname, one share now and then, and one tile that their newest
    share replaces. Another browser (a private window) is another person."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    tabs = [open_tab(context, url) for _ in range(3)]
    (_, first), *_ = tabs
    assert len({d.state.visitor.key for _, d in tabs}) == 1 and first.state.visitor.key
    assert {d.state.nickname for _, d in tabs} == {first.state.nickname}
    for page, _ in tabs:
        page.get_by_text(f"You are {first.state.nickname}").wait_for()
    for page, dashboard in tabs:
        start_small_run(page, steps=3)
        wait_until(lambda dashboard=dashboard: _finished(dashboard), timeout=60)
    _share(tabs[0][0], tabs[0][1], "Mine")
    wait_until(lambda: [e.name for e in WALL.entries()] == ["Mine"])
    _share(tabs[1][0], tabs[1][1], "Mine again")  # at once, from another tab: the same person's throttle
    tabs[1][0].locator(".nst-alert").get_by_text("You shared a moment ago").wait_for()
    monkeypatch.setattr(gate_module, "SHARE_EVERY_SECONDS", 0.0)  # time passes
    _share(tabs[2][0], tabs[2][1], "Mine, newest")
    wait_until(lambda: [e.name for e in WALL.entries()] == ["Mine, newest"])  # replaced, not added
    private, _, stranger = open_dashboard(browser, url, (1280, 720))
    assert stranger.state.visitor.key != first.state.visitor.key
    assert stranger.state.visitor.address == first.state.visitor.address
    for c in (context, private):
        c.close()


def test_a_forged_cookie_gets_a_fresh_identity_and_the_cookie_is_out_of_scripts_reach(browser, url) -> None:
    from demo_app.server.app import visitor_cookies

    context = browser.new_context(viewport={"width": 1280, "height": 720})
    forged = VisitorCookies("a guess at the secret").sign("someone-else")
    context.add_cookies([{"name": COOKIE, "value": forged, "url": url}])
    page, dashboard = open_tab(context, url)  # the page, not an error
    assert dashboard.state.visitor.key and "someone-else" not in dashboard.state.visitor.key
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["value"].strip('"') != forged
    assert visitor_cookies().read(cookie["value"].strip('"')) == dashboard.state.visitor.key.split(":", 1)[1]
    assert COOKIE not in page.evaluate("document.cookie")
    mine = dashboard.state.visitor.key.split(":", 1)[1]
    assert token_payload(page.content()).get("nst_visitor") == mine  # its own page carries its own id ...
    _, other, _ = open_dashboard(browser, url, (1280, 720))
    assert mine not in other.content() and mine not in str(token_payload(other.content()))  # ... no one else's
    assert cookie["value"].strip('"') not in str(token_payload(page.content()))  # nor the signed cookie
    context.close()
    other.context.close()


def test_a_script_that_throws_its_cookies_away_meets_the_address_ceilings(browser) -> None:
    """Every page from a fresh browser context (no cookie) is a new visitor: the address's ceilings stop it, each with
    a sentence, while the server stays up for everyone else."""
    from demo_app.server.app import LIVE_HOST_PAGES, LIVE_SESSIONS

    # The pages of this module's earlier tests count from the same address until their sessions are destroyed (a
    # closed tab's within seconds; longer on a loaded machine).
    wait_until(lambda: not LIVE_SESSIONS and not LIVE_HOST_PAGES, timeout=60)
    backend = Backend(weights="random", device_name="cpu")
    limits = Limits(max_sessions_per_address=3, max_jobs_per_address=2)
    with served_dashboard(backend, limits) as url:
        pages = [open_dashboard(browser, url, (1280, 720)) for _ in range(3)]
        backend.scheduler.pause()
        try:
            for _, page, _ in pages:
                start_small_run(page, steps=3)
            page = pages[2][1]
            wait_until(lambda: "Your network already has 2 runs" in pages[2][2].state.error)
            page.locator(".nst-alert").get_by_text("Your network already has 2 runs queued or running").wait_for()
            assert [d.state.run.job is not None for _, _, d in pages] == [True, True, False]
        finally:
            backend.scheduler.resume()
        refused = browser.new_context(viewport={"width": 1280, "height": 720})
        page = refused.new_page()
        page.goto(url)
        page.get_by_text("3 pages of the workbench are already open from your network").wait_for()
        assert page.get_by_role("button", name="▶ Run", exact=True).count() == 0
        for context in (refused, *(c for c, _, _ in pages)):
            context.close()
