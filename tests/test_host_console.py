"""The host's console (/host): its own password, the live table of pages, and each action (cancel, pause/resume,
limits for new jobs, broadcast), without a browser; the browser test with two participants is in
test_browser_host.py."""

from __future__ import annotations

import argparse
import time

import pytest
from conftest import drain

import nstcore
from demo_app.__main__ import host_password
from demo_app.jobs.backend import Backend
from demo_app.server import app, unlock
from demo_app.server.host_console import HostConsole, session_rows
from demo_app.server.unlock import check_password
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.session.visitor import Visitor
from demo_app.views.dashboard import Dashboard


@pytest.fixture()
def room():
    """A backend with two open pages, as the app keeps them."""
    backend = Backend(weights="random", device_name="cpu")
    limits = Limits()
    app.configure(backend, limits, "host-secret")
    pages = [Dashboard(SessionState(backend, limits)) for _ in range(2)]
    for page in pages:
        page.state.param.update(size=32, steps=5000, preview_every=0)
        app.LIVE_SESSIONS.add(page)
    yield backend, pages
    for page in pages:
        app.LIVE_SESSIONS.discard(page)
        page.state.close()
        page.state.wait(30)
    backend.scheduler.resume()


def _console(backend, password="host-secret") -> HostConsole:
    return HostConsole(backend, password, app.live_dashboards, app.current_limits, app.set_limits)


def test_without_a_host_password_the_console_is_locked(room) -> None:
    backend, _ = room
    console = _console(backend, password=None)
    console.lock.password.value = ""
    console.lock.try_unlock()
    assert not console.unlocked and "locked" in console.lock._layout.object
    assert not check_password("", None) and not check_password("x", "")


def test_wrong_passwords_are_refused_then_locked_out(room, monkeypatch) -> None:
    backend, _ = room
    console = _console(backend)
    for _ in range(5):
        console.lock.password.value = "guess"
        console.lock.try_unlock()
        assert not console.unlocked
    console.lock.password.value = "host-secret"  # right, but too late: locked out for a while
    console.lock.try_unlock()
    assert not console.unlocked and "Too many wrong passwords" in console.message.object
    now = unlock.time.monotonic()
    monkeypatch.setattr(unlock.time, "monotonic", lambda: now + unlock.LOCKOUT_SECONDS + 1)
    console.lock.password.value = "host-secret"
    console.lock.try_unlock()
    assert console.unlocked and console.lock.password.value == "" and console.table is not None


def _guess(client: str, password: str = "guess") -> unlock.Unlock:
    """A fresh /host page (a reload) from ``client`` and one try."""
    form = unlock.Unlock("host-secret", "the host console", lambda: None, client)
    form.password.value = password
    form.try_unlock()
    return form


def test_the_lockout_is_per_address_and_survives_a_reload(monkeypatch) -> None:
    """A reload used to reset the count: ~120 guesses a minute from one tab."""
    for _ in range(unlock.WRONG_TRIES):
        assert "not the host password" in _guess("10.0.0.5").message.object
    assert "Too many wrong passwords" in _guess("10.0.0.5").message.object  # a new page, same address
    assert not _guess("10.0.0.5", "host-secret").unlocked
    assert _guess("10.0.0.6", "host-secret").unlocked  # the host at another address is not locked out
    # the next lockout of the same address lasts twice as long
    now = unlock.time.monotonic()
    monkeypatch.setattr(unlock.time, "monotonic", lambda: now + unlock.LOCKOUT_SECONDS + 1)
    for _ in range(unlock.WRONG_TRIES):
        _guess("10.0.0.5")
    assert 2 * unlock.LOCKOUT_SECONDS - 2 < unlock.GUARD.wait("10.0.0.5") <= 2 * unlock.LOCKOUT_SECONDS


def test_guesses_from_many_addresses_slow_every_try() -> None:
    for i in range(unlock.SERVER_WRONG_TRIES):
        _guess(f"10.1.{i // 4}.{i % 4}")  # never five from one address
    form = _guess("10.9.9.9", "host-secret")
    assert not form.unlocked and "Too many wrong passwords" in form.message.object


def test_the_table_the_actions_and_the_broadcast(room) -> None:
    backend, pages = room
    console = _console(backend)
    console.lock.password.value = "host-secret"
    console.lock.try_unlock()
    first, second = (page.state for page in pages)
    assert first.start()
    drain(first, until=lambda s, h: s.step >= 1)
    console.refresh()
    rows = console.table.value.to_dict(orient="records")
    mine = [row for row in rows if row["state"] in ("running", "idle")]
    assert len(mine) >= 2 and any(row["state"] == "running" for row in mine)
    # pause: a second page's job waits in the queue, even once the first page's job is cancelled
    console.pause.value = True
    assert backend.scheduler.paused and console.pause.label == "Resume the queue"
    assert second.start()
    index = app.live_dashboards().index(pages[0])
    console.table.selection = [index]  # cancel the first page's job from the console; the page is told why
    console.refresh()
    console._cancel_selected()
    drain(first)
    assert not first.running and "The host cancelled this page's run." in first.announcements
    assert first.status.endswith("The host cancelled this run.")  # stays after the notification has gone
    time.sleep(0.5)
    assert second.run.job.state == "queued"
    second.poll()
    assert "the host paused the queue" in second.status and "starts in" not in second.status  # no countdown
    console.pause.value = False  # resumed: it starts
    drain(second, until=lambda s, h: s.step >= 1)
    # limits for new jobs reach every open page
    console.max_size.value, console.max_steps.value = 64, 100
    console._apply_limits()
    assert first.limits.max_size == 64 and second.limits.max_steps == 100 and app.current_limits().max_size == 64
    first.size = 128
    assert not first.start() and "at most 64 px" in first.error
    # broadcast: every page shows it, as text
    console.broadcast_text.value = "<b>Break</b> in 5 minutes"
    console._broadcast()
    assert all("<b>Break</b> in 5 minutes" in page.state.announcements for page in pages)
    pages[1].tick()
    assert pages[1].announced >= 1 and not pages[1].state.announcements
    second.stop()
    drain(second)


def test_a_queued_job_cancelled_by_the_host_says_so(room) -> None:
    backend, pages = room
    console = _console(backend)
    console.lock.password.value = "host-secret"
    console.lock.try_unlock()
    console.pause.value = True
    waiting = pages[1].state
    assert waiting.start()
    console.refresh()
    console.table.selection = [app.live_dashboards().index(pages[1])]
    console._cancel_selected()
    drain(waiting)
    assert waiting.status == "Removed from the queue. The host cancelled this run."


def test_a_selection_stays_on_its_page_when_an_older_page_leaves(room) -> None:
    """The room changes between the host's click and Cancel. The selection was a row's place: when an older page
    left, the next refresh moved every page up a row and Cancel ended the job of the page after the one chosen."""
    backend, pages = room
    older = Dashboard(SessionState(backend, Limits()))
    older.state.created = min(page.state.created for page in pages) - 1.0  # opened before both
    app.LIVE_SESSIONS.add(older)
    try:
        console = _console(backend)
        console.lock.password.value = "host-secret"
        console.lock.try_unlock()
        chosen, after = (page.state for page in pages)
        assert chosen.start() and after.start()
        drain(chosen, until=lambda s, h: s.step >= 1)
        console.refresh()
        console.table.selection = [app.live_dashboards().index(pages[0])]  # the host clicks the chosen page's row
        app.LIVE_SESSIONS.discard(older)  # ...and the older page closes before Cancel
        console.refresh()
        console._cancel_selected()
        drain(chosen)
        assert not chosen.running and "The host cancelled this page's run." in chosen.announcements
        assert after.run.job is not None and not after.announcements  # the next page's job goes on
        # A selected page that leaves takes its selection with it: Cancel then ends nobody's job.
        console.table.selection = [app.live_dashboards().index(pages[1])]
        app.LIVE_SESSIONS.discard(pages[1])
        console.refresh()
        console._cancel_selected()
        assert "Select a page" in console.message.object and after.run.job is not None
    finally:
        app.LIVE_SESSIONS.discard(older)
        app.LIVE_SESSIONS.add(pages[1])
        older.state.close()


def test_queue_waits_are_said_as_people_say_them() -> None:
    from demo_app.session.current_run import about

    assert [about(s) for s in (3, 21, 44, 61, 175)] == [
        "a few seconds",
        "about 20 s",
        "about 45 s",
        "about 1 min",
        "about 3 min",
    ]


def test_session_rows_name_the_visitor_and_the_name_they_share_under() -> None:
    """The host could not tell which row was "Guest 2" on the wall: a row shows the visitor's nickname beside the
    name their picture is on the wall under (the one visitor text, capped; the table writes cells as text)."""
    from demo_app.server.wall import Wall

    class Page:
        def __init__(self, name: str, key: str) -> None:
            backend = Backend(weights="random", device_name="cpu")
            self.state = SessionState(backend, Limits(), visitor=Visitor(key, "10.0.0.1"))
            self.state.content_name = name

    wall = Wall()
    pages = [Page("<script>x</script>.png", "browser:a"), Page("b.png", "browser:b"), Page("c.png", "browser:a")]
    wall.share("tab", "<b>Guest 2</b>" + "x" * 40, b"j", b"s", visitor="browser:a")
    rows = session_rows(pages, lambda job: 0, wall)
    who = pages[0].state.nickname
    assert rows[0] == {
        "page": 1,
        "who": who,
        "on the wall as": "<b>Guest 2</b>" + "x" * 15 + "…",
        "state": "idle",
        "size": 256,
        "steps": "-",
        "it/s": 0.0,
        "elapsed (s)": 0.0,
        "queue": 0,
    }
    assert [r["who"] for r in rows] == [who, pages[1].state.nickname, who]  # a browser's tabs: one person
    assert [r["on the wall as"] for r in rows][1:] == ["-", rows[0]["on the wall as"]]
    assert " " in who and who != pages[1].state.nickname


def test_the_host_password_is_never_the_participants(tmp_path, monkeypatch) -> None:
    args = argparse.Namespace(host_password="same")
    with pytest.raises(nstcore.ConfigError, match="must differ from the participants' password"):
        host_password(args, "same")
    assert host_password(args, "other") == "same"
    monkeypatch.setenv("NST_HOST_PASSWORD_FILE", str(tmp_path / "missing"))
    with pytest.raises(nstcore.ConfigError, match="cannot be read"):
        host_password(argparse.Namespace(host_password=None), None)
    (tmp_path / "empty").write_text("\n")
    monkeypatch.setenv("NST_HOST_PASSWORD_FILE", str(tmp_path / "empty"))
    with pytest.raises(nstcore.ConfigError, match="empty file"):
        host_password(argparse.Namespace(host_password=None), None)


def test_the_host_clears_the_wall_or_takes_a_visitor_off_it(room) -> None:
    from demo_app.server.wall import Wall

    backend, pages = room
    wall = Wall()
    console = HostConsole(backend, "host-secret", app.live_dashboards, app.current_limits, app.set_limits, wall=wall)
    console.lock.password.value = "host-secret"
    console.lock.try_unlock()
    pages[0].state.visitor = Visitor("browser:first", "10.0.0.1")
    wall.share(pages[0].state.session_id, "a", b"j", b"s", visitor="browser:first")
    wall.share("other", "b", b"j", b"s", visitor="browser:second")  # the same address: a room behind one NAT
    console.refresh()
    console.table.selection = [app.live_dashboards().index(pages[0])]
    console.hide_visitor.clicks += 1
    assert [e.name for e in wall.entries()] == ["b"] and "Taken off the wall (1 result)" in console.message.object
    wall.share("third", "<b>c</b>", b"j", b"s", visitor="browser:third")
    console.refresh()
    assert list(console.wall_entries.options) == [f"#{e.key} {e.name}" for e in wall.entries()]  # names as text
    console.wall_entries.value = wall.entries()[0].key
    console.remove_entry.clicks += 1  # the projected wall has no controls: entries are taken down here
    assert [e.name for e in wall.entries()] == ["b"] and "Taken off the wall." in console.message.object
    console.clear_wall.clicks += 1
    assert wall.entries() == [] and "empty" in console.message.object


def test_each_page_shows_its_owner_the_name_the_console_uses(room) -> None:
    import panel as pn

    backend, pages = room
    shown = [p.object for p in pages[0].main()[0].select(pn.pane.HTML) if "nst-nickname" in p.css_classes]
    assert shown == [f"You are <b>{pages[0].state.nickname}</b>"]
    rows = session_rows(app.live_dashboards(), lambda job: 0)
    assert pages[0].state.nickname in [row["who"] for row in rows]
