"""Who caused a piece of work: a **visitor** is a browser (or a signed-in user), never an address.

A workshop room reaches its server through the venue's one NAT address, so counting by address made the whole room
one person (one wall tile, one share every 10 s, one job cap). Each browser now carries a signed cookie
(:mod:`demo_app.server.visitors`), and every per-person share (the wall's one live entry, the share throttle, the
nickname, the job, task and upload caps, the host's "take off the wall") keys on :attr:`Visitor.key`. The address
(an IPv6 client's whole /64, which one home connection owns) stays only as a **flood ceiling**: a script that throws
its cookies away is a new visitor each time, and meets the per-address ceilings and the server's global caps.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

# One IPv6 connection (a home, a phone) is given a whole /64 and may use any address in it.
IPV6_PREFIX = 64


@dataclass(frozen=True)
class Visitor:
    """``key``: the identity per-person shares count by ("" outside a server: nothing is counted); ``address``: the
    address group the flood ceilings count by ("" when unknown)."""

    key: str = ""
    address: str = ""

    def same_person(self, other: Visitor) -> bool:
        return bool(self.key) and self.key == other.key

    def same_address(self, other: Visitor) -> bool:
        return bool(self.address) and self.address == other.address


NOBODY = Visitor()  # work outside a server (in-process tests, the CLI): counted against no one


def address_group(address: str) -> str:
    """The address as the flood ceilings count it: an IPv4 address as it is, an IPv6 one as its /64 (an
    IPv4-mapped IPv6 address as the IPv4 address); anything else (a Unix socket's "") unchanged."""
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)
