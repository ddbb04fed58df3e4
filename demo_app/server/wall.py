"""The projector wall at ``/wall``: the room's results, but only those their makers chose to share.

A participant presses "Share to wall" under a finished result (with a first name or nickname if they like); the
wall, open on the projector, shows the newest :data:`WALL_SIZE` shared results, one per visitor, in a dark grid that
fills the screen (:mod:`.wall_grid`) and updates live, each with its style image small in a corner and its name as
plain text, beside how to join (the participants' URL and its QR code; an empty wall is the join screen). Nothing
that was not shared ever appears. The wall is locked like the host console (same host password; without one it is
refused); the host takes entries down from /host, so nothing on the projected screen is a control.
"""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import panel as pn
from PIL import Image

from ..session.history import data_url
from ..session.imaging import encode_jpeg
from ..session.text import capped
from ..views.loop import quiet_periodic
from .unlock import Unlock
from .wall_grid import WallGrid

WALL_SIZE = 40  # a room's worth; the oldest leaves when a new one arrives
WALL_SIDE = 512  # px: sharp on a projector in a grid of 3-6 columns
STYLE_SIDE = 96
MAX_NAME = 30


@dataclass(frozen=True)
class WallEntry:
    key: int
    name: str  # capped plain text (a visitor typed it)
    jpeg: bytes
    style_jpeg: bytes
    session_id: str
    when: float
    visitor: str = ""  # the visitor's key (a browser, not an address): one live entry each
    aspect: float = 4 / 3  # the picture's width / height: its cell on the wall has its shape


def wall_images(result: np.ndarray, style: Image.Image) -> tuple[bytes, bytes]:
    """The result and the style image as the wall shows them (slow: call it on a worker thread)."""
    shown = Image.fromarray(result)
    shown.thumbnail((WALL_SIDE, WALL_SIDE))
    small = style.copy()
    small.thumbnail((STYLE_SIDE, STYLE_SIDE))
    return encode_jpeg(np.asarray(shown)), encode_jpeg(np.asarray(small.convert("RGB")), quality=80)


def picture_aspect(jpeg: bytes) -> float:
    """Width / height of an encoded picture, from its header alone (microseconds); 4:3 if it has none."""
    try:
        width, height = Image.open(io.BytesIO(jpeg)).size
    except (OSError, ValueError):
        return 4 / 3
    return min(4.0, max(0.25, width / max(height, 1)))  # a sliver would make a row of one thin line


class Wall:
    """The shared results of the whole server (thread-safe; pages share from their own loops)."""

    def __init__(self, size: int = WALL_SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[WallEntry] = deque(maxlen=size)
        self._keys = itertools.count(1)
        self._hidden: set[str] = set()  # visitors the host took off the wall
        self.version = 0  # grows with every change: walls redraw when it moves

    def share(self, session_id: str, name: str, jpeg: bytes, style_jpeg: bytes, visitor: str = "") -> WallEntry | None:
        """Put a result on the wall, replacing the visitor's earlier one (one live entry per visitor, whichever of
        their tabs shares: 60 scripted shares once filled all 40 places). None when the host hid this visitor."""
        aspect = picture_aspect(jpeg)
        with self._lock:
            if visitor and visitor in self._hidden:
                return None
            entry = WallEntry(
                next(self._keys), capped(name, MAX_NAME), jpeg, style_jpeg, session_id, time.time(), visitor, aspect
            )
            mine = (lambda e: e.visitor == visitor) if visitor else (lambda e: e.session_id == session_id)
            kept = [e for e in self._entries if not mine(e)]
            self._entries = deque([*kept, entry], maxlen=self._entries.maxlen)
            self.version += 1
            return entry

    def clear(self) -> None:
        """The host empties the wall."""
        with self._lock:
            self._entries.clear()
            self.version += 1

    def hide(self, visitor: str) -> int:
        """The host takes a visitor off the wall: their entries go, and their later shares are refused (everyone
        else's stay, from the same address too). Returns how many entries went."""
        with self._lock:
            self._hidden.add(visitor)
            kept = [e for e in self._entries if e.visitor != visitor]
            gone = len(self._entries) - len(kept)
            self._entries = deque(kept, maxlen=self._entries.maxlen)
            self.version += 1
            return gone

    def hidden(self, visitor: str) -> bool:
        with self._lock:
            return visitor in self._hidden

    def name_of(self, visitor: str) -> str | None:
        """The name the visitor's live entry is shown under ("" when they gave none); None when they have none."""
        with self._lock:
            return next((e.name for e in self._entries if visitor and e.visitor == visitor), None)

    def remove(self, key: int) -> bool:
        with self._lock:
            kept = [e for e in self._entries if e.key != key]
            if len(kept) == len(self._entries):
                return False
            self._entries = deque(kept, maxlen=self._entries.maxlen)
            self.version += 1
            return True

    def entries(self) -> list[WallEntry]:
        """Newest first."""
        with self._lock:
            return list(reversed(self._entries))


WALL = Wall()  # plain data shared by the process's pages (no Bokeh model: those are made per session)


def wall_items(entries: list[WallEntry]) -> list[dict]:
    return [
        {"key": e.key, "src": data_url(e.jpeg), "style": data_url(e.style_jpeg), "name": e.name, "aspect": e.aspect}
        for e in entries
    ]


class WallPage(pn.viewable.Viewer):
    """One projector's wall: locked behind the host password, then a line that says how to join (the participants'
    URL in large type and as a QR code) over the live grid. Nothing on it is a control: the host removes entries
    from /host."""

    def __init__(self, wall: Wall, password: str | None, client: str = "", url: str = "") -> None:
        super().__init__()
        self.wall, self.client, self.url = wall, client, url
        self.grid = WallGrid(
            sizing_mode="stretch_width",
            css_classes=["nst-wall"],
            join_url=capped(url, 120),
            join_qr=qr_data_uri(url) if url else "",
        )
        self._seen = -1
        self.lock = Unlock(password, "the wall", self._unlocked, client)
        self.body = pn.Column(self.lock, sizing_mode="stretch_width")

    def _unlocked(self) -> None:
        self.body.objects = [self.grid]
        self.body.styles = {"background": "#111", "min-height": "100vh"}
        self.refresh()
        quiet_periodic(self.refresh, 1000)

    def refresh(self) -> None:
        """Redraw when something was shared or removed (once a second, on this page's loop)."""
        if self._seen != self.wall.version:
            self._seen = self.wall.version
            entries = self.wall.entries()
            self.grid.param.update(items=wall_items(entries), newest=entries[0].key if entries else 0)

    def __panel__(self) -> pn.viewable.Viewable:
        return self.body


def qr_data_uri(url: str) -> str:
    """The URL as a QR code (an SVG ``data:`` URI; black on white with a quiet zone, as phones read best)."""
    import segno

    return str(segno.make(url, error="m").svg_data_uri(scale=8, border=3, dark="#000", light="#fff"))
