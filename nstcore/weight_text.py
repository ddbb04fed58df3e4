"""Loss weights as people write them: layer weights (``"conv1_1:1,conv2_1:0.75"``) and style blends (``"0.7,0.3"``),
parsed and checked with a sentence for anything wrong, and the blend as the objective applies it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .errors import ConfigError, finite, shown


def _check_weights(what: str, value: Any) -> dict[str, float]:
    if isinstance(value, str):
        value = parse_layers(value)
    if not isinstance(value, Mapping):
        raise ConfigError(f"{what} must map layer names to weights, got {shown(value)}.")
    out: dict[str, float] = {}
    for name, weight in value.items():
        if not finite(weight) or weight < 0:
            raise ConfigError(f"Weight of {name} in {what} must be a finite number >= 0, got {shown(weight)}.")
        out[str(name)] = float(weight)
    return out


# More style images than this in one run is not a blend any more; each one costs a target Gram per layer.
MAX_STYLES = 8


def parse_blend(value: Any) -> tuple[float, ...]:
    """Blend weights from ``"0.7,0.3"``, a list or a tuple, each a finite number >= 0 (at most MAX_STYLES)."""
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").replace(":", ",").split(",") if p]
        try:
            value = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(
                f"style_blend {shown(value)} is not a list of numbers; write one weight per style image, e.g. 0.7,0.3."
            ) from None
    if not isinstance(value, (list, tuple)):
        raise ConfigError(f"style_blend must be one weight per style image, e.g. [0.7, 0.3], got {shown(value)}.")
    if len(value) > MAX_STYLES:
        raise ConfigError(f"style_blend has {len(value)} weights; a run blends at most {MAX_STYLES} style images.")
    out = []
    for weight in value:
        if not finite(weight) or weight < 0:
            raise ConfigError(f"Every style_blend weight must be a finite number >= 0, got {shown(weight)}.")
        out.append(float(weight))
    return tuple(out)


def blend_weights(blend: tuple[float, ...], styles: int) -> tuple[float, ...]:
    """What each style image's terms are multiplied by: the blend normalised to sum to 1 (so a blend of 1:0 is
    exactly a run with the first style alone, at the same beta), equal shares when ``blend`` is empty, all zero
    when every weight is 0 (no style). Raises ConfigError when the count does not match the style images."""
    if not blend:
        return (1.0 / styles,) * styles
    if len(blend) != styles:
        said = "style image was" if styles == 1 else "style images were"
        raise ConfigError(
            f"style_blend has {len(blend)} weights but {styles} {said} given; give one weight per style image, "
            "in the same order."
        )
    total = sum(blend)
    return tuple(w / total for w in blend) if total > 0 else (0.0,) * styles


def parse_layers(text: str) -> dict[str, float]:
    """Parse ``"conv1_1:1,conv2_1:0.75"`` (a bare name means weight 1) into a dict."""
    out: dict[str, float] = {}
    for part in text.replace(" ", "").split(","):
        if not part:
            continue
        name, _, weight = part.partition(":")
        try:
            out[name.lower()] = float(weight) if weight else 1.0
        except ValueError:
            raise ConfigError(
                f"Layer weight {shown(weight)} in {shown(part)} is not a number; write e.g. conv1_1:0.5."
            ) from None
    return out


def format_layers(layers: Mapping[str, float]) -> str:
    """Inverse of :func:`parse_layers`."""
    return ",".join(f"{name}:{weight:g}" for name, weight in layers.items())
