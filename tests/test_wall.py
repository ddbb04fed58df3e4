"""The wall's store: newest first, at most WALL_SIZE, names capped as text, removal; the locked wall page."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from demo_app.server.wall import MAX_NAME, Wall, WallPage, wall_images
from demo_app.session.visitor import Visitor


def test_the_wall_keeps_the_newest_entries_and_removes_on_request() -> None:
    wall = Wall(size=3)
    for i in range(5):
        wall.share(f"s{i}", f"n{i}", b"j", b"s")
    assert [e.name for e in wall.entries()] == ["n4", "n3", "n2"]
    version = wall.version
    assert wall.remove(wall.entries()[1].key) and wall.version == version + 1
    assert [e.name for e in wall.entries()] == ["n4", "n2"] and not wall.remove(999)
    long = wall.share("x", "<script>" + "a" * 100, b"j", b"s")
    assert len(long.name) == MAX_NAME and long.name.startswith("<script>")  # capped; the page shows it as text


def test_wall_images_are_small_jpegs() -> None:
    result = np.zeros((300, 900, 3), dtype=np.uint8)
    jpeg, style = wall_images(result, Image.new("RGB", (400, 400), "red"))
    assert jpeg[:2] == b"\xff\xd8" and style[:2] == b"\xff\xd8"


def test_without_a_host_password_the_wall_is_locked() -> None:
    page = WallPage(Wall(), None)
    assert "locked" in page.lock._layout.object and page.grid.items == []
    opened = WallPage(Wall(), "pw")
    opened.lock.password.value = "nope"
    opened.lock.try_unlock()
    assert not opened.lock.unlocked and len(opened.body.objects) == 1 and opened.grid.items == []
    opened.lock.password.value = "pw"
    opened.lock.try_unlock()
    assert opened.lock.unlocked and opened.grid in opened.body.objects


def test_one_live_entry_per_visitor_and_the_host_clears_or_hides() -> None:
    """60 scripted shares from one visitor once filled all 40 places; the host removed them one by one. A visitor is
    a browser: its tabs share one entry, and the host hides one person while the rest of the room stays."""
    wall = Wall(size=40)
    wall.share("other", "them", b"j", b"s", visitor="browser:them")
    for i in range(60):
        wall.share(f"tab {i % 3}", f"me {i}", b"j", b"s", visitor="browser:me")
    assert [e.name for e in wall.entries()] == ["me 59", "them"]
    assert wall.name_of("browser:me") == "me 59" and wall.name_of("browser:nobody") is None
    assert wall.hide("browser:me") == 1 and [e.name for e in wall.entries()] == ["them"]
    assert wall.share("tab 0", "again", b"j", b"s", visitor="browser:me") is None and len(wall.entries()) == 1
    wall.clear()
    assert wall.entries() == []


def test_a_visitor_may_share_only_now_and_then(monkeypatch) -> None:
    from demo_app.jobs import gate as gate_module
    from demo_app.jobs.gate import Gate, Refused

    gate = Gate()
    me, neighbour = Visitor("browser:me", "10.0.0.1"), Visitor("browser:them", "10.0.0.1")
    gate.share(me)
    try:
        gate.share(me)
        raise AssertionError("a second share at once was admitted")
    except Refused as exc:
        assert "shared a moment ago" in str(exc)
    gate.share(neighbour)  # someone else may, from the same address (a room behind one NAT)
    now = gate_module.time.monotonic()
    monkeypatch.setattr(gate_module.time, "monotonic", lambda: now + gate_module.SHARE_EVERY_SECONDS + 1)
    gate.share(me)


def test_an_address_shares_a_room_s_worth_a_minute(monkeypatch) -> None:
    """A script with a new cookie for every share is a new visitor each time: its address's ceiling stops it with a
    sentence, another address is not held up, and a minute later the address may share again."""
    from demo_app.jobs import gate as gate_module
    from demo_app.jobs.gate import SHARES_PER_ADDRESS, Gate, Refused

    gate = Gate()
    for i in range(SHARES_PER_ADDRESS):
        gate.share(Visitor(f"browser:{i}", "203.0.113.9"))
    with pytest.raises(Refused, match=f"Your network has shared {SHARES_PER_ADDRESS} pictures within a minute"):
        gate.share(Visitor("browser:new", "203.0.113.9"))
    gate.share(Visitor("browser:elsewhere", "198.51.100.1"))
    now = gate_module.time.monotonic()
    monkeypatch.setattr(gate_module.time, "monotonic", lambda: now + gate_module.SHARE_WINDOW_SECONDS + 1)
    gate.share(Visitor("browser:new", "203.0.113.9"))
    assert len(gate._shares) == 1  # what the script left behind was forgotten


def test_the_share_button_asks_the_gate(monkeypatch) -> None:
    """A scripted click past the disabled button is refused on the server."""
    from demo_app.jobs.backend import Backend
    from demo_app.server import wall as wall_module
    from demo_app.session.limits import Limits
    from demo_app.session.state import SessionState
    from demo_app.views.single_run import SingleRunView

    wall = Wall()
    monkeypatch.setattr("demo_app.views.single_run.WALL", wall)
    state = SessionState(
        Backend(weights="random", device_name="cpu"), Limits(), visitor=Visitor("browser:3", "10.0.0.3")
    )
    try:
        view = SingleRunView(state, on_history=lambda item: None)
        state.result = (np.zeros((32, 32, 3), dtype=np.uint8),)
        view.wall_name.value_input = "Typed, not committed"  # no Enter, no blur: a script's (or a quick) click
        view._share()
        assert [e.name for e in wall.entries()] == ["Typed, not committed"] and state.error == ""
        view.share.disabled = False  # a script re-enables it
        view._share()
        assert "shared a moment ago" in state.error and len(wall.entries()) == 1
        assert wall_module.WALL is not wall
    finally:
        state.close()
