"""Who a visitor is: the client address that per-client limits (pages, jobs, tasks, uploads, the host password's
lockout, wall shares) count by.

Behind a reverse proxy every visitor arrives from the proxy's address, so the proxy's ``X-Forwarded-For`` must name
them. But any client can send that header itself: Tornado's ``xheaders`` trusted it (and ``X-Real-Ip``) from
anyone, and one machine varying it got 12 of 12 jobs and 40 of 40 pages. So a forwarded header is read only when
the connection comes from a **trusted proxy** (``--trusted-proxies``, default none), and then its right-most entry
that is not a trusted proxy is the client: everything left of it was written by the client and proves nothing.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

import nstcore

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# --behind-proxy: the usual set-up, a proxy (nginx, Caddy) on the same machine.
LOCAL_PROXY = ("127.0.0.1", "::1")


def parse_proxies(items: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or networks (``10.0.0.5``, ``10.0.0.0/24``, ``::1``; comma-separated items allowed). Raises
    ConfigError with one sentence for one that is not."""
    networks = []
    for item in items:
        for part in str(item).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise nstcore.ConfigError(
                    f"--trusted-proxies takes addresses or networks such as 10.0.0.5 or 10.0.0.0/24, got "
                    f"{nstcore.shown(part)}."
                ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _trusted(text: str, proxies: tuple[Network, ...]) -> bool:
    address = _address(text)
    return address is not None and any(address in network for network in proxies)


def client_of(peer: str, headers: Mapping[str, Any], proxies: tuple[Network, ...]) -> str:
    """The client address of a request whose connection came from ``peer`` with ``headers``."""
    if not _trusted(peer, proxies):
        return peer  # not through a proxy we trust: whatever the headers say was written by the client
    forwarded = headers.get("X-Forwarded-For") or ""
    if isinstance(forwarded, list):
        forwarded = ",".join(forwarded)
    hops = [hop.strip() for hop in str(forwarded).split(",") if hop.strip()]
    for hop in reversed(hops):  # right to left: the nearest hop first
        if _address(hop) is None:
            return peer  # a malformed entry: nothing further left can be trusted
        if not _trusted(hop, proxies):
            return str(_address(hop))
    if hops:
        return str(_address(hops[0]))  # every hop is a trusted proxy: the first one is the client
    real = _address(str(headers.get("X-Real-Ip") or headers.get("X-Real-IP") or ""))
    return str(real) if real is not None else peer


def over_https(protocol: str, peer: str, headers: Mapping[str, Any], proxies: tuple[Network, ...]) -> bool:
    """Whether the visitor reached us over https: this connection's own protocol, or, from a trusted proxy only, its
    ``X-Forwarded-Proto`` (a cookie marked Secure then)."""
    forwarded = str(headers.get("X-Forwarded-Proto") or "").strip().lower()
    return protocol == "https" or (_trusted(peer, proxies) and forwarded == "https")
