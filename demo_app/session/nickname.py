"""A short, stable nickname for each visitor ("Blue Fox"): the host console's rows name pages by it, and each page
shows its own, so a participant can say which job is theirs ("cancel Blue Fox's run") without the console ever
showing text a visitor typed. Every tab of one browser has the same one, and it survives a reload.

1,024 names: a room of 40 drawn by hash alone would share one with a chance of one in two, so :class:`Nicknames`
hands a visitor the next free name after their hash's when it is taken."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

COLOURS = (
    "Amber", "Blue", "Coral", "Crimson", "Cyan", "Golden", "Green", "Grey", "Indigo", "Ivory", "Jade", "Lilac",
    "Lime", "Magenta", "Mint", "Navy", "Ochre", "Olive", "Orange", "Pearl", "Pink", "Plum", "Purple", "Red",
    "Ruby", "Rust", "Sage", "Sand", "Silver", "Teal", "Violet", "White",
)  # fmt: skip
ANIMALS = (
    "Badger", "Bear", "Beaver", "Bison", "Crane", "Crow", "Deer", "Dolphin", "Eagle", "Falcon", "Fox", "Frog",
    "Gecko", "Hare", "Hawk", "Heron", "Ibis", "Koala", "Lynx", "Moose", "Otter", "Owl", "Panda", "Puffin",
    "Raven", "Robin", "Seal", "Stork", "Swan", "Tiger", "Wolf", "Wren",
)  # fmt: skip
NAMES = len(COLOURS) * len(ANIMALS)
# Visitors whose names a process remembers (the least recently seen is forgotten first): many rooms' worth.
REMEMBERED = 4096


def _name(index: int) -> str:
    return f"{COLOURS[index // len(ANIMALS) % len(COLOURS)]} {ANIMALS[index % len(ANIMALS)]}"


def _start(key: str) -> int:
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % NAMES


def nickname(key: str) -> str:
    """The name ``key``'s hash points at (what :class:`Nicknames` gives when it is free)."""
    return _name(_start(key))


class Nicknames:
    """The nicknames of the visitors a server process has seen: stable per visitor, and no two alike among the
    last REMEMBERED (past 1,024 names a number is added: "Blue Fox 2"). Thread-safe."""

    def __init__(self, remembered: int = REMEMBERED) -> None:
        self._lock = threading.Lock()
        self._names: OrderedDict[str, str] = OrderedDict()
        self._taken: set[str] = set()
        self._remembered = remembered

    def of(self, key: str) -> str:
        with self._lock:
            name = self._names.get(key)
            if name is None:
                name = self._free(_start(key))
                self._names[key] = name
                self._taken.add(name)
                while len(self._names) > self._remembered:
                    _, gone = self._names.popitem(last=False)
                    self._taken.discard(gone)
            self._names.move_to_end(key)
            return name

    def _free(self, start: int) -> str:
        for round_ in range(1, len(self._taken) // NAMES + 2):
            for offset in range(NAMES):
                name = _name((start + offset) % NAMES) + ("" if round_ == 1 else f" {round_}")
                if name not in self._taken:
                    return name
        raise AssertionError("unreachable: there are more candidates than names taken")


NICKNAMES = Nicknames()  # plain data shared by the process's pages
