"""The Compare tab's editable table of variants: one row each, numbers and headers as the rest of the page writes
them, the fields the variants differ in highlighted."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn
from bokeh.models.widgets.tables import ScientificFormatter

import nstcore
from nstcore.config import PreserveColors

COLUMNS = [
    "label",
    "alpha",
    "beta",
    "tv",
    "content_layers",
    "style_layers",
    "pooling",
    "preserve_colors",
    "style_blend",
]


# The table's headers and numbers as the rest of the page writes them (1.0e+6; α/β as the paper does, 1×10⁻⁶); text
# columns wrap, so a layer list is read in full (it was cut to "conv1_1:1,conv2_1:1,conv3_1:1,conv4_1").
TITLES = {
    "alpha": "α",
    "beta": "β",
    "ratio": "α/β",
    "tv": "TV",
    "content_layers": "content",  # "content layers" and "keep colours" were cut in their columns
    "style_layers": "style layers",
    "preserve_colors": "colours",
    "style_blend": "blend",
}
WRAPPED = ("label", "content_layers", "style_layers")


def table_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The table's rows: the variants' fields and the α/β each one makes (read-only, written as the paper does)."""
    frame = pd.DataFrame(rows, columns=COLUMNS)
    ratio = [nstcore.paper_number(a / b if b else float("inf")) for a, b in zip(frame["alpha"], frame["beta"])]
    frame.insert(COLUMNS.index("beta") + 1, "ratio", ratio)
    return frame


def differing(frame: pd.DataFrame) -> pd.DataFrame:
    """CSS per cell: the fields whose values differ between the variants are highlighted (what the grid compares)."""
    styles = pd.DataFrame("", index=frame.index, columns=frame.columns)
    for column in frame.columns:
        if column != "label" and frame[column].astype(str).nunique() > 1:
            styles[column] = "background-color: rgba(230, 159, 0, 0.25); font-weight: 600"
    return styles


def variants_table(frame: pd.DataFrame) -> pn.widgets.Tabulator:
    """The editable table of a comparison's variants (one row each)."""
    table = pn.widgets.Tabulator(
        frame,
        show_index=False,
        layout="fit_data_stretch",
        sizing_mode="stretch_width",
        height=260,
        titles=TITLES,
        # Every column in a 1280-px laptop's view: "style layers" was cut and pooling and keep colours were off its
        # right edge. Layer lists wrap anywhere (five "conv1_1:1," in three lines); on a narrower screen the table
        # scrolls sideways with the labels kept in view.
        widths={"label": 140, "style_layers": 180, "content_layers": 110},
        frozen_columns=["label"],
        stylesheets=[".tabulator-cell { overflow-wrap: anywhere; word-break: break-word; }"],
        formatters={
            **{name: ScientificFormatter(precision=1, power_limit_high=4, power_limit_low=-2) for name in NUMBERS},
            **{name: {"type": "textarea"} for name in WRAPPED},
        },
        editors={
            "pooling": {"type": "list", "values": ["avg", "max"]},
            "preserve_colors": {"type": "list", "values": list(nstcore.literal_choices(PreserveColors))},
            "alpha": {"type": "number"},
            "beta": {"type": "number"},
            "tv": {"type": "number"},
            "ratio": None,
        },
        css_classes=["variants-table"],
    )
    table.style.apply(differing, axis=None)
    return table


NUMBERS = ("alpha", "beta", "tv")
