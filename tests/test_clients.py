"""Client addresses (demo_app/server/clients.py): forwarded headers count only from a trusted proxy, and then the
right-most entry that is not a trusted proxy is the client. Tornado's xheaders (the old --behind-proxy) trusted a
client-sent X-Real-Ip from anyone: one machine got 12 of 12 jobs and 40 of 40 pages by varying it."""

from __future__ import annotations

import urllib.request

import pytest
from browser import served_dashboard

from demo_app.__main__ import build_parser, proxies_from
from demo_app.jobs.backend import Backend
from demo_app.server import app
from demo_app.server.clients import client_of, parse_proxies
from demo_app.session.limits import Limits

PROXY = parse_proxies(["10.0.0.2", "10.1.0.0/16"])


@pytest.mark.parametrize(
    ("peer", "headers", "client"),
    [
        ("203.0.113.5", {"X-Forwarded-For": "1.1.1.1", "X-Real-Ip": "2.2.2.2"}, "203.0.113.5"),  # not via a proxy
        ("10.0.0.2", {"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"),
        ("10.0.0.2", {"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}, "198.51.100.7"),  # left part: client-written
        ("10.0.0.2", {"X-Forwarded-For": "198.51.100.7, 10.1.4.4"}, "198.51.100.7"),  # two proxies
        ("10.0.0.2", {"X-Forwarded-For": "not-an-ip"}, "10.0.0.2"),
        ("10.0.0.2", {"X-Forwarded-For": "10.1.0.9, 10.1.0.8"}, "10.1.0.9"),  # only proxies: the first
        ("10.0.0.2", {"X-Real-Ip": "198.51.100.9"}, "198.51.100.9"),  # a trusted proxy that sets only X-Real-Ip
        ("10.0.0.2", {}, "10.0.0.2"),
        ("10.0.0.2", {"X-Forwarded-For": "2001:db8::1"}, "2001:db8::1"),
    ],
)
def test_the_client_is_the_rightmost_untrusted_hop(peer, headers, client) -> None:
    assert client_of(peer, headers, PROXY) == client
    assert client_of(peer, headers, ()) == peer  # no trusted proxy (the default): headers are ignored


def test_proxy_flags() -> None:
    def proxies(*argv: str) -> list[str]:
        return [str(n) for n in proxies_from(build_parser().parse_args(list(argv)))]

    assert proxies() == []
    assert proxies("--behind-proxy") == ["127.0.0.1/32", "::1/128"]
    assert proxies("--trusted-proxies", "10.0.0.2,10.1.0.0/16", "--trusted-proxies", "::1") == [
        "10.0.0.2/32",
        "10.1.0.0/16",
        "::1/128",
    ]
    with pytest.raises(Exception, match="trusted-proxies takes addresses"):
        proxies("--trusted-proxies", "nginx.local")


def test_a_served_page_counts_by_the_trusted_address_only() -> None:
    backend, limits = Backend(weights="random", device_name="cpu"), Limits()
    with served_dashboard(backend, limits) as url:

        def client_of_page(**headers: str) -> str:
            before = set(map(id, app.live_dashboards()))
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60).read()
            new = [d for d in app.live_dashboards() if id(d) not in before]
            assert len(new) == 1
            return new[0].state.visitor.address

        spoof = {"X-Forwarded-For": "198.51.100.7", "X-Real-Ip": "198.51.100.8"}
        app.configure(backend, limits, "", parse_proxies(["10.9.9.9"]))  # the test client is not a trusted proxy
        assert client_of_page(**spoof) == "127.0.0.1"
        app.configure(backend, limits, "", parse_proxies(["127.0.0.1"]))  # now it is
        assert client_of_page(**spoof) == "198.51.100.7"
        assert client_of_page() == "127.0.0.1"


def test_a_visitor_cookie_is_secure_over_https_or_behind_a_trusted_proxy_that_says_so() -> None:
    from demo_app.server.clients import over_https

    proxy = parse_proxies(["10.0.0.2"])
    https = {"X-Forwarded-Proto": "https"}
    assert over_https("https", "203.0.113.5", {}, ())
    assert over_https("http", "10.0.0.2", https, proxy)  # the trusted proxy ended TLS (with or without XFF)
    assert not over_https("http", "203.0.113.5", https, proxy)  # anyone else may write the header
    assert not over_https("http", "10.0.0.2", {"X-Forwarded-Proto": "http"}, proxy)
