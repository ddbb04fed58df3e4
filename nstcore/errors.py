"""Errors meant for people.

Every error the engine raises on purpose derives from :class:`NSTError` and carries one sentence that says what was
wrong and what to do. The edges (CLI, dashboard) show that sentence as it is and never a traceback.
"""

from __future__ import annotations


class NSTError(Exception):
    """Base class: the message is a complete, user-facing sentence."""


class ImageError(NSTError):
    """An input image could not be used (not an image, truncated, empty, too large, too small)."""


class ConfigError(NSTError, ValueError):
    """A configuration value is invalid (unknown layer, negative size, bad JSON ...)."""


class WeightsError(NSTError):
    """Pretrained network weights could not be found, downloaded or loaded."""
