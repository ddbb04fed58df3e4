"""Session parameters derived from :class:`nstcore.StyleConfig`, so the dashboard never re-types a default.

Each config field becomes a ``param`` parameter with the same name, default, bounds and help text. Fields that
belong to the server rather than to a user (weights, device, pixel limit) are left out.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Mapping
from typing import Any

import param

import nstcore

SERVER_FIELDS = frozenset({"weights", "device", "max_image_pixels"})
# Fields the engine reads from Controls at every step: moving these during a run changes the next steps.
LIVE_FIELDS = nstcore.LIVE_FIELDS


def _parameter(field: Any, hint: Any, default: Any) -> param.Parameter:
    meta = field.metadata
    doc = meta.get("help", "")
    choices = nstcore.literal_choices(hint)
    if choices:
        return param.Selector(default=default, objects=list(choices), doc=doc)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    bounds = (meta.get("min"), meta.get("max"))
    if hint is int:
        return param.Integer(default=default, bounds=bounds, doc=doc)
    if hint is float or args == [float]:
        return param.Number(default=default, bounds=bounds, allow_None=default is None, doc=doc)
    if typing.get_origin(hint) is tuple:
        return param.List(default=list(default), item_type=float, doc=doc)
    if typing.get_origin(hint) in (Mapping, dict) or hint is Mapping:
        return param.Dict(default=dict(default), doc=doc)
    return param.String(default=str(default), doc=doc)


def _build() -> type[param.Parameterized]:
    defaults = nstcore.StyleConfig()
    attrs: dict[str, Any] = {"__doc__": "StyleConfig fields as param parameters (generated)."}
    for field, hint in nstcore.config_fields():
        if field.name not in SERVER_FIELDS:
            attrs[field.name] = _parameter(field, hint, getattr(defaults, field.name))
    return type("ConfigParams", (param.Parameterized,), attrs)


ConfigParams = _build()
CONFIG_PARAM_NAMES = tuple(name for name in ConfigParams.param if name != "name")


def field_range(name: str) -> tuple[float, float, float | None]:
    """``(start, end, step)`` of a widget for StyleConfig field ``name``, from the field's metadata; a log field
    gives exponents (its slider moves over log10 of the value, in steps of 0.05 decades)."""
    meta = next(f.metadata for f, _ in nstcore.config_fields() if f.name == name)
    low, high = meta.get("slider_min") or meta.get("min"), meta.get("max")
    if low is None or high is None:
        raise ValueError(f"StyleConfig.{name} has no bounds to make a widget from")
    if meta.get("log"):
        return math.log10(low), math.log10(high), 0.05
    return float(low), float(high), meta.get("step")


def field_metadata(name: str) -> dict[str, Any]:
    """StyleConfig field ``name``'s metadata plus its ``default`` (e.g. for a control derived from two fields)."""
    defaults = nstcore.StyleConfig()
    meta = next(f.metadata for f, _ in nstcore.config_fields() if f.name == name)
    return {**meta, "default": getattr(defaults, name)}
