"""The projector wall at ``/wall``: the room's results, but only those their makers chose to share.

A participant presses "Share to wall" under a finished result (with a first name or nickname if they like); the
wall, open on the projector, shows the newest :data:`WALL_SIZE` shared results in a full-screen grid that updates
live, each with its style image small in a corner and its name as plain text. Nothing that was not shared ever
appears. The wall is locked like the host console (same host password; without one it is refused), and from the
unlocked wall the host can take any entry down.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
import panel as pn
import param
from PIL import Image

from ..session.history import data_url
from ..session.imaging import encode_jpeg
from ..session.text import capped
from ..views.loop import quiet_periodic
from .unlock import Unlock

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
    client: str = ""  # the visitor's address: one live entry each


def wall_images(result: np.ndarray, style: Image.Image) -> tuple[bytes, bytes]:
    """The result and the style image as the wall shows them (slow: call it on a worker thread)."""
    shown = Image.fromarray(result)
    shown.thumbnail((WALL_SIDE, WALL_SIDE))
    small = style.copy()
    small.thumbnail((STYLE_SIDE, STYLE_SIDE))
    return encode_jpeg(np.asarray(shown)), encode_jpeg(np.asarray(small.convert("RGB")), quality=80)


class Wall:
    """The shared results of the whole server (thread-safe; pages share from their own loops)."""

    def __init__(self, size: int = WALL_SIZE) -> None:
        self._lock = threading.Lock()
        self._entries: deque[WallEntry] = deque(maxlen=size)
        self._keys = itertools.count(1)
        self._hidden: set[str] = set()  # visitors the host took off the wall
        self.version = 0  # grows with every change: walls redraw when it moves

    def share(self, session_id: str, name: str, jpeg: bytes, style_jpeg: bytes, client: str = "") -> WallEntry | None:
        """Put a result on the wall, replacing the visitor's earlier one (one live entry per visitor: 60 scripted
        shares once filled all 40 places). None when the host hid this visitor."""
        with self._lock:
            if client and client in self._hidden:
                return None
            entry = WallEntry(
                next(self._keys), capped(name, MAX_NAME), jpeg, style_jpeg, session_id, time.time(), client
            )
            mine = (lambda e: e.client == client) if client else (lambda e: e.session_id == session_id)
            kept = [e for e in self._entries if not mine(e)]
            self._entries = deque([*kept, entry], maxlen=self._entries.maxlen)
            self.version += 1
            return entry

    def clear(self) -> None:
        """The host empties the wall."""
        with self._lock:
            self._entries.clear()
            self.version += 1

    def hide(self, client: str) -> int:
        """The host takes a visitor off the wall: their entries go, and their later shares are refused. Returns
        how many entries went."""
        with self._lock:
            self._hidden.add(client)
            kept = [e for e in self._entries if e.client != client]
            gone = len(self._entries) - len(kept)
            self._entries = deque(kept, maxlen=self._entries.maxlen)
            self.version += 1
            return gone

    def hidden(self, client: str) -> bool:
        with self._lock:
            return client in self._hidden

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


class WallGrid(pn.custom.JSComponent):
    """The grid of entries; with ``removable`` each has a button that sets ``remove`` to its key."""

    items = param.List(default=[], doc="[{key, src, style, name}] newest first; name is plain text.")
    removable = param.Boolean(default=False)
    remove = param.Integer(default=0)

    _esm = """
    export function render({ model, el }) {
      const grid = document.createElement("div");
      grid.className = "nst-wall-grid";
      const draw = () => {
        grid.replaceChildren();
        for (const item of model.items) {
          const cell = document.createElement("figure");
          cell.className = "nst-wall-item";
          const img = document.createElement("img");
          img.src = item.src; img.alt = item.name ? "Shared by " + item.name : "Shared result";
          const style = document.createElement("img");
          style.className = "nst-wall-style"; style.src = item.style; style.alt = "";
          cell.append(img, style);
          if (item.name) {
            const caption = document.createElement("figcaption");
            caption.textContent = item.name;  // text, never markup
            cell.append(caption);
          }
          if (model.removable) {
            const remove = document.createElement("button");
            remove.type = "button"; remove.className = "nst-wall-remove"; remove.textContent = "✕";
            remove.setAttribute("aria-label", "Take this result off the wall");
            remove.addEventListener("click", () => { model.remove = item.key; });
            cell.append(remove);
          }
          grid.append(cell);
        }
        if (!model.items.length) {
          const empty = document.createElement("p");
          empty.className = "nst-wall-empty";
          empty.textContent = "Nothing shared yet. Press “Share to wall” under a finished result.";
          grid.append(empty);
        }
      };
      model.on(["items", "removable"], draw);
      draw();
      el.append(grid);
    }
    """

    _stylesheets = [
        """
    .nst-wall-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 12px;
      padding: 12px; }
    .nst-wall-item { position: relative; margin: 0; background: #111; border-radius: 6px; overflow: hidden; }
    .nst-wall-item > img:first-child { width: 100%; display: block; }
    .nst-wall-style { position: absolute; right: 6px; bottom: 6px; width: 22%; border: 2px solid #fff;
      border-radius: 3px; }
    .nst-wall-item figcaption { position: absolute; left: 6px; bottom: 6px; max-width: 70%; padding: 2px 8px;
      background: rgba(0,0,0,.6); color: #fff; font: 600 16px/1.4 system-ui, sans-serif; border-radius: 3px;
      overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .nst-wall-remove { position: absolute; top: 6px; right: 6px; border: 0; border-radius: 50%; width: 28px;
      height: 28px; background: rgba(0,0,0,.6); color: #fff; cursor: pointer; }
    .nst-wall-remove:focus-visible { outline: 3px solid #f0a000; }
    .nst-wall-empty { color: #aaa; font: 20px system-ui, sans-serif; }
    """
    ]


def wall_items(entries: list[WallEntry]) -> list[dict]:
    return [{"key": e.key, "src": data_url(e.jpeg), "style": data_url(e.style_jpeg), "name": e.name} for e in entries]


class WallPage(pn.viewable.Viewer):
    """One projector's wall: locked behind the host password, then the live grid."""

    def __init__(self, wall: Wall, password: str | None, client: str = "") -> None:
        super().__init__()
        self.wall, self.client = wall, client
        self.grid = WallGrid(removable=True, sizing_mode="stretch_width", css_classes=["nst-wall"])
        self.grid.param.watch(lambda e: self._remove(e.new), "remove")
        self._seen = -1
        self.lock = Unlock(password, "the wall", self._unlocked, client)
        self.body = pn.Column(self.lock, sizing_mode="stretch_width")

    def _unlocked(self) -> None:
        self.body.objects = [self.grid]
        self.refresh()
        quiet_periodic(self.refresh, 1000)

    def refresh(self) -> None:
        """Redraw when something was shared or removed (once a second, on this page's loop)."""
        if self._seen != self.wall.version:
            self._seen = self.wall.version
            self.grid.items = wall_items(self.wall.entries())

    def _remove(self, key: int) -> None:
        if key and self.wall.remove(key):
            self.refresh()

    def __panel__(self) -> pn.viewable.Viewable:
        return self.body
