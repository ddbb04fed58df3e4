"""A short, stable nickname for each page ("Blue Fox"): the host console's rows name pages by it, and each page shows
its own, so a participant can say which job is theirs ("cancel Blue Fox's run") without the console ever showing
text a visitor typed."""

from __future__ import annotations

import hashlib

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


def nickname(session_id: str) -> str:
    """The page's nickname: the same for the same session, 1,024 of them."""
    digest = hashlib.sha256(session_id.encode()).digest()
    return f"{COLOURS[digest[0] % len(COLOURS)]} {ANIMALS[digest[1] % len(ANIMALS)]}"
