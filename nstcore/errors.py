"""Errors meant for people.

Every error the engine raises on purpose derives from :class:`NSTError` and carries one sentence that says what was
wrong and what to do. The edges (CLI, dashboard) show that sentence as it is and never a traceback.
"""

from __future__ import annotations

import math


class NSTError(Exception):
    """Base class: the message is a complete, user-facing sentence."""


class ImageError(NSTError):
    """An input image could not be used (not an image, truncated, empty, too large, too small)."""


class ConfigError(NSTError, ValueError):
    """A configuration value is invalid (unknown layer, negative size, bad JSON ...)."""


class WeightsError(NSTError):
    """Pretrained network weights could not be found, downloaded or loaded."""


# A value quoted back in a sentence is cut to this many characters: a 10,000-character "model" from a config file
# must not become a 10,000-character error message (on a page, in a terminal or in a log).
SHOWN_LIMIT = 60


def capped(text: object, limit: int) -> str:
    """``text`` as one line of at most ``limit`` characters, cut with an ellipsis: white space folded, and anything
    not printable (control characters, bidi overrides that reorder what a reader sees) removed. The one capper for
    everything a user supplied, in the engine's sentences and on the page."""
    line = "".join(ch for ch in " ".join(str(text).split()) if ch.isprintable())
    return line if len(line) <= limit else line[: max(limit - 1, 0)] + "…"


def capped_path(path: object, limit: int) -> str:
    """A file's path for a sentence, capped like :func:`capped` but from the front: the end of a path (the file's
    name) is the part that tells a person which file, so a long folder is what gives way ("…/photos/cat.png")."""
    line = capped(path, len(str(path)) + 1)
    return line if len(line) <= limit else "…" + line[len(line) - max(limit - 1, 0) :]


def shown(value: object, limit: int = SHOWN_LIMIT) -> str:
    """``repr(value)`` for an error sentence, cut to ``limit`` characters with an ellipsis."""
    return capped(repr(value), limit)


def finite(value: object) -> bool:
    """A number that is finite as a float: not NaN or infinity, not a bool, and not an integer too large for a float
    (a 4,000-digit ``steps`` made ``math.isfinite`` raise OverflowError instead of the setting's bounds sentence)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False
