"""The visitor cookie: which browser a page belongs to (see :mod:`demo_app.session.visitor` for why not the address).

A browser's first page gets ``nst_visitor``: a random id signed with the server's cookie secret by Tornado's
``create_signed_value`` (the id, Tornado's issue time and the HMAC; no address, no name), HttpOnly, SameSite=Lax,
re-signed on every page so that a browser in use keeps its id. A forged, expired or malformed cookie is ignored and
a new id issued; nothing is ever refused for one. The secret is ``--cookie-secret`` / ``NST_COOKIE_SECRET``
(``_FILE``), else made at start: give every process serving one room the same one (behind a load balancer).

How it travels, through public hooks only: Bokeh asks each application handler's ``process_request`` for the data
a new session's token carries (:func:`identify`, on the page's HTML request), which is where the id is decided; the
response gets its ``Set-Cookie`` from :class:`SetVisitorCookie`, a Tornado output transform given the same request
object; the cookie itself is left out of the token (``exclude_cookies``), so the page's script never sees the signed
value, only the page's own id.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from typing import Any

from tornado.web import OutputTransform, create_signed_value, decode_signed_value

COOKIE = "nst_visitor"
PAYLOAD_KEY = "nst_visitor"  # the verified id in a session's token payload
# A workshop and its follow-up; every page load re-signs it, so only a browser unused this long starts anew.
MAX_AGE_DAYS = 7
ID_BYTES = 16  # 128 random bits: unguessable, and no two browsers of a room collide
MAX_COOKIE_CHARS = 200  # a real one is ~90 characters; anything longer is not ours
_PENDING = "_nst_visitor_set_cookie"  # where identify() leaves the Set-Cookie line on the request for the transform


@dataclass(frozen=True)
class VisitorCookies:
    """Issues and checks visitor cookies with one secret."""

    secret: str
    max_age_days: float = MAX_AGE_DAYS

    def read(self, value: str | None) -> str | None:
        """The visitor id in a cookie value; None for a missing, forged, expired or malformed one."""
        if not value or len(value) > MAX_COOKIE_CHARS:
            return None
        try:
            decoded = decode_signed_value(self.secret, COOKIE, value, max_age_days=self.max_age_days)
            text = decoded.decode("ascii") if decoded is not None else ""
        except (ValueError, TypeError, UnicodeError):
            return None
        return text if _well_formed(text) else None

    def sign(self, visitor_id: str) -> str:
        return create_signed_value(self.secret, COOKIE, visitor_id).decode("ascii")

    def set_cookie(self, visitor_id: str, secure: bool) -> str:
        """The ``Set-Cookie`` header value that gives a browser ``visitor_id``."""
        jar: SimpleCookie = SimpleCookie()
        jar[COOKIE] = self.sign(visitor_id)
        morsel = jar[COOKIE]
        morsel["path"] = "/"
        morsel["max-age"] = str(int(self.max_age_days * 86400))
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if secure:
            morsel["secure"] = True
        return morsel.OutputString()


def _well_formed(visitor_id: str) -> bool:
    """An id as :func:`new_id` makes them (URL-safe base64), nothing longer."""
    return 0 < len(visitor_id) <= 2 * ID_BYTES and visitor_id.replace("-", "").replace("_", "").isalnum()


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def cookie_secret(configured: str | None = None) -> str:
    """The secret: as configured, else NST_COOKIE_SECRET, else a new random one (pages then keep their visitor only
    as long as this process runs)."""
    return configured or os.environ.get("NST_COOKIE_SECRET") or secrets.token_urlsafe(32)


def identify(request: Any, cookies: VisitorCookies, secure: bool) -> dict[str, str]:
    """For Bokeh's ``process_request`` of a page's HTML request: the browser's visitor id (its cookie's, else a new
    one) for the session's token, and the ``Set-Cookie`` line that :class:`SetVisitorCookie` adds to the response."""
    morsel = request.cookies.get(COOKIE) if hasattr(request, "cookies") else None
    visitor_id = cookies.read(morsel.value if morsel is not None else None) or new_id()
    setattr(request, _PENDING, cookies.set_cookie(visitor_id, secure))
    return {PAYLOAD_KEY: visitor_id}


class SetVisitorCookie(OutputTransform):
    """Adds the visitor cookie that :func:`identify` chose for this request to its response (nothing otherwise)."""

    def __init__(self, request: Any) -> None:
        super().__init__(request)
        self.request = request

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        line = getattr(self.request, _PENDING, None)
        if line:
            headers.add("Set-Cookie", line)
        return status_code, headers, chunk


# A Tornado application that names no transforms gets none unless it compresses responses (Bokeh does not): ours
# alone keeps everything else as it was.
TRANSFORMS = [SetVisitorCookie]
