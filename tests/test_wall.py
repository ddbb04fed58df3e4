"""The wall's store: newest first, at most WALL_SIZE, names capped as text, removal; the locked wall page."""

from __future__ import annotations

import numpy as np
from PIL import Image

from demo_app.server.wall import MAX_NAME, Wall, WallPage, wall_images


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
    assert opened.lock.unlocked and opened.body.objects[0] is opened.grid
