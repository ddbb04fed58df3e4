"""The live loss chart: one Bokeh line per weighted term of Gatys et al.'s objective, log y axis, clickable legend."""

from __future__ import annotations

import math
from collections.abc import Sequence

from bokeh.models import ColumnDataSource
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

import nstcore


def column_key(term: str) -> str:
    """Data-source column for a term name from ``Losses.as_dict()`` ('style:conv1_1' -> 'style_conv1_1')."""
    return term.replace(":", "_")


def loss_terms(style_layers: Sequence[str]) -> list[str]:
    return ["total", "content", *(f"style:{name}" for name in style_layers), "tv"]


def loss_figure(
    terms: Sequence[str], title: str = "Loss (weighted terms, log scale)", labels: Sequence[str] | None = None
):
    """A figure with an empty source whose columns are ``step`` plus one per term (legend: ``labels`` or terms)."""
    source = ColumnDataSource({"step": [], **{column_key(t): [] for t in terms}})
    fig = figure(
        height=330,
        sizing_mode="stretch_width",
        y_axis_type="log",
        title=title,
        x_axis_label="step",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
    )
    colours = list(Category10_10)
    for i, term in enumerate(terms):
        label = labels[i] if labels else term.replace("style:", "style ")
        fig.line(
            "step",
            column_key(term),
            source=source,
            legend_label=label,
            color=colours[i % len(colours)],
            line_width=2.5 if term == "total" else 1.5,
            line_dash="dashed" if term == "tv" else "solid",
        )
    fig.legend.click_policy = "hide"
    fig.legend.location = "top_right"
    fig.legend.label_text_font_size = "9pt"
    fig.legend.background_fill_alpha = 0.6
    return fig, source


def rows_to_columns(rows: Sequence[tuple[int, nstcore.Losses]], terms: Sequence[str]) -> dict[str, list[float]]:
    """New rows for ``source.stream``; zero terms become NaN (a log axis cannot show 0: the line just pauses)."""
    data: dict[str, list[float]] = {"step": [], **{column_key(t): [] for t in terms}}
    for step, losses in rows:
        values = losses.as_dict()
        data["step"].append(step)
        for term in terms:
            value = values.get(term, 0.0)
            data[column_key(term)].append(value if value > 0 and math.isfinite(value) else float("nan"))
    return data
