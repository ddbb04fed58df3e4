"""The host password form of /host and /wall, and the guard that makes guessing it slow.

Five wrong tries used to lock one *page* for 30 s, and a reload gave a fresh page: ~120 guesses a minute from one
tab. :class:`PasswordGuard` (one per process) counts wrong tries per **client address**, so a reload changes
nothing: five wrong tries lock that address for 30 s, doubling with every further lockout (up to 15 min); and
many wrong tries from anywhere (a guesser with many addresses) make **every** try wait a minute (the host, who
knows the password, then waits too: a lockout is better than a guessed password).
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import panel as pn

from ..session.text import as_html
from ..views.reach import primary_button
from ..views.widgets import clicks

log = logging.getLogger("demo_app")

WRONG_TRIES = 5  # wrong passwords from one address before it must wait
LOCKOUT_SECONDS = 30.0  # the first wait; each further lockout of the address doubles it
MAX_LOCKOUT_SECONDS = 900.0
SERVER_WRONG_TRIES = 30  # wrong passwords from all addresses within SERVER_WINDOW_SECONDS ...
SERVER_WINDOW_SECONDS = 60.0
SERVER_BACKOFF_SECONDS = 60.0  # ... make every try wait this long


def check_password(given: str, expected: str | None) -> bool:
    """Constant-time comparison; False when no host password is configured."""
    return bool(expected) and hmac.compare_digest(given.encode(), (expected or "").encode())


@dataclass
class _Client:
    wrong: int = 0
    lockouts: int = 0
    until: float = 0.0


class PasswordGuard:
    """Wrong host-password tries per client address and server-wide (thread-safe; one per process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._clients: dict[str, _Client] = {}
        self._recent: deque[float] = deque()  # times of wrong tries from anywhere, within the window
        self._server_until = 0.0

    def wait(self, client: str) -> float:
        """Seconds ``client`` must wait before its next try (0: it may try now)."""
        now = time.monotonic()
        with self._lock:
            entry = self._clients.get(client)
            return max(0.0, self._server_until - now, (entry.until if entry else 0.0) - now)

    def wrong(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            entry = self._clients.setdefault(client, _Client())
            entry.wrong += 1
            if entry.wrong >= WRONG_TRIES:
                seconds = min(MAX_LOCKOUT_SECONDS, LOCKOUT_SECONDS * 2**entry.lockouts)
                entry.wrong, entry.lockouts, entry.until = 0, entry.lockouts + 1, now + seconds
                log.warning("host password: %d wrong tries from %s; locked for %.0f s", WRONG_TRIES, client, seconds)
            self._recent.append(now)
            while self._recent and now - self._recent[0] > SERVER_WINDOW_SECONDS:
                self._recent.popleft()
            if len(self._recent) >= SERVER_WRONG_TRIES:
                self._recent.clear()
                self._server_until = now + SERVER_BACKOFF_SECONDS
                log.warning("host password: %d wrong tries within a minute; every try waits", SERVER_WRONG_TRIES)

    def right(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


GUARD = PasswordGuard()


class Unlock(pn.viewable.Viewer):
    """The host password form: calls ``on_unlock`` once the right password is given. Without a configured password
    it only says the page is locked. Wrong tries are counted by ``guard`` for the page's ``client``."""

    def __init__(
        self,
        password: str | None,
        what: str,
        on_unlock: Callable[[], None],
        client: str = "",
        guard: PasswordGuard | None = None,
    ) -> None:
        super().__init__()
        self._password, self._on_unlock = password, on_unlock
        self._client, self._guard = client, guard or GUARD
        self.unlocked = False
        self.message = pn.pane.HTML("", sizing_mode="stretch_width", css_classes=["nst-host-message"])
        self.password = pn.widgets.PasswordInput(label="Host password", width=260, css_classes=["nst-host-password"])
        self.button = primary_button("Unlock", width=120, css_classes=["nst-host-unlock"])
        self.button.on_click(clicks(self.try_unlock))
        # Enter in the field unlocks too (the browser sends the value on Enter, and when the field loses focus)
        self.password.param.watch(lambda event: self.try_unlock() if event.new else None, "value")
        if password:
            self._layout: pn.viewable.Viewable = pn.Column(
                pn.Row(self.password, self.button, align="end"), self.message
            )
        else:
            self._layout = pn.pane.HTML(
                f'<div class="nst-alert nst-alert-danger" role="alert">{as_html(what.capitalize())} is locked: the '
                "server was started without a host password (--host-password or NST_HOST_PASSWORD).</div>",
                css_classes=["nst-host-locked"],
            )

    def try_unlock(self) -> None:
        if self.unlocked:
            return
        if not self.password.value:  # Unlock pressed on an empty field (or after the field's own try): no guess
            if not self.message.object:
                self.message.object = as_html("Type the host password first.")
            return
        wait = self._guard.wait(self._client)
        if wait > 0:
            self.password.value = ""
            self.message.object = as_html(f"Too many wrong passwords; wait {wait:.0f} s.")
            return
        if not check_password(self.password.value or "", self._password):
            self._guard.wrong(self._client)
            self.password.value = ""
            self.message.object = as_html("That is not the host password.")
            return
        self._guard.right(self._client)
        self.password.value = ""
        self.unlocked = True
        self._on_unlock()

    def __panel__(self) -> pn.viewable.Viewable:
        return self._layout
