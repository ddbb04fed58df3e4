"""Two presets crossed, rows by columns: Gatys et al.'s Figure 3 is ``style_layers`` down and ``ratio`` across.

Each cell takes from its row's variant the fields the row preset varies (the style layers), from its column's the
fields the column preset varies (β, for the α/β ratios), and everything else from the base config: so a Figure 3 cell
keeps the base's content layers and α, where the style-layer preset alone (Figure 1's style reconstructions) sets
α = 0. Two presets that vary the same field cannot be crossed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .config import LossWeights, StyleConfig
from .errors import ConfigError, shown
from .presets import PRESETS, expand_preset
from .variants import Variant

MAX_ROWS, MAX_COLUMNS = 5, 4  # Figure 3: five style-layer sets by four ratios, 20 cells
DEFAULT_SWEEP = ("style_layers", "ratio")
FIELDS = ("alpha", "beta", "tv", "content_layers", "style_layers", "style_blend", "pooling", "preserve_colors")


@dataclass(frozen=True)
class Sweep:
    """The cells of a sweep, row by row (``variants``), with the presets' names and the row and column headings."""

    presets: tuple[str, str]
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    variants: tuple[Variant, ...]

    def as_dict(self) -> dict[str, Any]:
        """What a sweep's record says of its layout (the cells follow in the record's ``cells``)."""
        return {
            "rows": self.presets[0],
            "columns": self.presets[1],
            "row_labels": self.rows,
            "column_labels": self.columns,
        }


def _fields(variant: Variant, base: StyleConfig) -> dict[str, Any]:
    return variant.own_fields(base.pooling, base.preserve_colors)


def varied(variants: Sequence[Variant], base: StyleConfig) -> set[str]:
    """The fields whose values differ between ``variants``."""
    values = [_fields(v, base) for v in variants]
    return {name for name in FIELDS if any(v[name] != values[0][name] for v in values[1:])}


def expand_sweep(rows: str, columns: str, base: StyleConfig, styles: int = 1) -> Sweep:
    """The cells of preset ``rows`` crossed with preset ``columns`` on ``base`` (row-major). Raises ConfigError with
    one sentence for an unknown preset, one preset twice, two that vary the same field or too many rows or columns."""
    for name in (rows, columns):
        if name not in PRESETS:
            raise ConfigError(f"Unknown preset {shown(name)}; choose two of {', '.join(PRESETS)}.")
    if rows == columns:
        raise ConfigError(f"Rows and columns are both {rows}; choose two different presets.")
    _, down = expand_preset(rows, base, styles)
    _, across = expand_preset(columns, base, styles)
    if len(down) > MAX_ROWS or len(across) > MAX_COLUMNS:
        raise ConfigError(
            f"A sweep has at most {MAX_ROWS} rows and {MAX_COLUMNS} columns; {rows} has {len(down)} and {columns} "
            f"{len(across)}: swap them or choose another."
        )
    by_row, by_column = varied(down, base), varied(across, base)
    if not by_row or not by_column or by_row & by_column:
        both = ", ".join(sorted(by_row & by_column)) or "nothing"
        raise ConfigError(f"{rows} and {columns} both vary {both}; choose two presets that vary different things.")
    start = _fields(Variant.from_config(base, ""), base)
    cells = []
    for row in down:
        row_fields = {k: v for k, v in _fields(row, base).items() if k in by_row}
        for column in across:
            cell = {**start, **row_fields, **{k: v for k, v in _fields(column, base).items() if k in by_column}}
            weights = LossWeights(
                cell["alpha"],
                cell["beta"],
                cell["tv"],
                cell["content_layers"],
                cell["style_layers"],
                cell["style_blend"],
            )
            label = f"{row.label} · {column.label}"
            cells.append(Variant(label, weights, cell["pooling"], cell["preserve_colors"]))
    return Sweep((rows, columns), tuple(v.label for v in down), tuple(v.label for v in across), tuple(cells))
