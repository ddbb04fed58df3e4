"""A visitor is a browser (or a signed-in user), never an address: the signed cookie, the address groups that only
set ceilings, and nicknames that stay one person's."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from browser import served_dashboard, token_payload
from tornado.web import create_signed_value

from demo_app.jobs.backend import Backend
from demo_app.server import app
from demo_app.server.visitors import COOKIE, MAX_AGE_DAYS, VisitorCookies, new_id
from demo_app.session.limits import Limits
from demo_app.session.nickname import NAMES, Nicknames
from demo_app.session.visitor import Visitor, address_group


def test_a_cookie_names_its_visitor_and_nothing_else_passes() -> None:
    cookies = VisitorCookies("room-secret")
    visitor_id = new_id()
    value = cookies.sign(visitor_id)
    assert cookies.read(value) == visitor_id
    month_ago = time.time() - (MAX_AGE_DAYS + 1) * 86400
    expired = create_signed_value("room-secret", COOKIE, visitor_id, clock=lambda: month_ago).decode()
    other_id = create_signed_value("room-secret", COOKIE, "x" * 200).decode()  # signed, but not an id of ours
    for bad in (
        VisitorCookies("another-secret").sign(visitor_id),  # forged: signed with another secret
        value[:-1] + ("0" if value[-1] != "0" else "1"),  # tampered signature
        value.replace("|1:0|", "|1:1|"),  # a field changed under the signature
        expired,
        other_id,
        "garbage",
        "",
        None,
        "2|" + "9" * 5000,  # huge
        "<script>alert(1)</script>",
    ):
        assert cookies.read(bad) is None, bad
    line = cookies.set_cookie(visitor_id, secure=True)
    assert line.startswith(f"{COOKIE}=") and "HttpOnly" in line and "SameSite=Lax" in line and "Secure" in line
    assert "Path=/" in line and f"Max-Age={MAX_AGE_DAYS * 86400}" in line
    assert "Secure" not in cookies.set_cookie(visitor_id, secure=False)


def test_addresses_group_as_a_connection_owns_them() -> None:
    """One home IPv6 connection owns a /64: one person's many addresses are one ceiling."""
    assert address_group("203.0.113.7") == "203.0.113.7"
    assert address_group("2001:db8:1:2:aaaa::1") == address_group("2001:db8:1:2:ffff:1:2:3") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group("::ffff:203.0.113.7") == "203.0.113.7"
    assert address_group("[2001:db8::5]") == "2001:db8::/64"
    assert address_group("") == "" and address_group("not an address") == "not an address"
    room = [Visitor(f"browser:{i}", "203.0.113.7") for i in range(3)]
    assert not room[0].same_person(room[1]) and room[0].same_address(room[1])
    assert not Visitor().same_person(Visitor()) and not Visitor().same_address(Visitor())


def test_nicknames_stay_with_a_visitor_and_differ_within_a_room() -> None:
    names = Nicknames(remembered=2000)
    room = [f"browser:{i}" for i in range(40)]
    first = [names.of(key) for key in room]
    assert len(set(first)) == 40  # by hash alone, 40 of 1,024 names collide about every other room
    assert [names.of(key) for key in reversed(room)] == list(reversed(first))  # a reload: the same name
    crowd = [names.of(f"browser:crowd {i}") for i in range(NAMES)]  # past every name, numbers are added
    assert len(set(crowd + first)) == NAMES + 40 and any(name.endswith(" 2") for name in crowd)
    small = Nicknames(remembered=3)
    for key in ("a", "b", "c", "d"):
        small.of(key)
    assert len(small._names) == 3 and "a" not in small._names  # the least recently seen is forgotten


def test_a_served_page_gives_each_browser_a_visitor_cookie(monkeypatch) -> None:
    """First page: a new id and its cookie. With it: the same visitor. Forged, expired or malformed: a new identity
    and a page like any other, never an error. The signed value never reaches the page's script."""
    backend, limits = Backend(weights="random", device_name="cpu"), Limits()
    with served_dashboard(backend, limits) as url:

        def visit(cookie: str | None = None) -> tuple[Visitor, str | None, str]:
            before = set(map(id, app.live_dashboards()))
            headers = {"Cookie": f"{COOKIE}={cookie}"} if cookie is not None else {}
            response = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60)
            html = response.read().decode()
            assert response.status == 200
            new = [d for d in app.live_dashboards() if id(d) not in before]
            assert len(new) == 1 and "nst-refused" not in html
            set_cookie = response.headers.get("Set-Cookie")
            value = set_cookie.split(";")[0].split("=", 1)[1].strip('"') if set_cookie else None
            return new[0].state.visitor, value, html

        first, cookie, html = visit()
        assert first.key.startswith("browser:") and first.address == "127.0.0.1" and cookie
        payload = token_payload(html)
        assert COOKIE not in json.dumps(payload.get("cookies", {})) and cookie not in json.dumps(payload)
        again, renewed, _ = visit(cookie)
        assert again == first and renewed  # re-signed, so a browser in use keeps its id
        stale = create_signed_value(
            app.visitor_cookies().secret, COOKIE, first.key.split(":", 1)[1], clock=lambda: time.time() - 30 * 86400
        ).decode()
        forged = VisitorCookies("guessed").sign(first.key.split(":", 1)[1])
        for bad in (forged, stale, "garbage%3Cscript%3E", ""):
            other, fresh, _ = visit(bad)
            assert other.key.startswith("browser:") and other.key != first.key and fresh
        monkeypatch.setattr(app, "_signed_in_users", True)  # OAuth or a users file: the user is the visitor
        monkeypatch.setattr(type(app.pn.state), "user", property(lambda self: "alice"))
        assert visit()[0] == visit()[0] == Visitor("user:alice", "127.0.0.1")


def test_a_cookie_secret_from_the_environment_survives_a_restart(monkeypatch) -> None:
    """Every process serving one room (or a restarted one) shares NST_COOKIE_SECRET: a browser stays one visitor."""
    monkeypatch.setenv("NST_COOKIE_SECRET", "shared-by-the-room")
    backend = Backend(weights="random", device_name="cpu")
    app.configure(backend, Limits())
    value = app.visitor_cookies().sign("abc")
    app.configure(backend, Limits())
    assert app.visitor_cookies().read(value) == "abc"
    app.configure(backend, Limits(), secret="given")
    assert app.visitor_cookies().read(value) is None
    monkeypatch.delenv("NST_COOKIE_SECRET")
    app.configure(backend, Limits())
    made = app.visitor_cookies().secret
    app.configure(backend, Limits())
    assert app.visitor_cookies().secret != made and len(made) >= 32


@pytest.mark.parametrize("flag", [["--cookie-secret", "from-flag"], []])
def test_the_server_reads_the_cookie_secret(flag, monkeypatch, tmp_path) -> None:
    from demo_app.__main__ import build_parser, secret_from

    (tmp_path / "secret").write_text("from-file\n")
    monkeypatch.setenv("NST_COOKIE_SECRET_FILE", str(tmp_path / "secret"))
    args = build_parser().parse_args(flag)
    assert secret_from(args.cookie_secret, "NST_COOKIE_SECRET", "cookie secret") == (
        "from-flag" if flag else "from-file"
    )
