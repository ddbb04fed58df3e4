"""The live loss chart: one Bokeh line per term of Gatys et al.'s objective, log y axis, clickable legend.

Each term is kept twice: weighted (what the optimiser minimises: alpha * content, beta * w_l * E_l, tv weight * TV)
and unweighted (the term itself). Raising beta from 1e6 to 1e10 multiplies the weighted style lines by 1e4, which
reads as a blow-up; the unweighted view shows the style terms keep falling. A dotted marker with a label shows each
change made during the run. The legend sits below the plot, where it covers no points.

The legend's entries stand for *proxy* lines that draw nothing and never change. BokehJS (3.9) re-renders a legend,
one new canvas per entry, whenever anything reachable from its items changes; with the drawn lines in the items,
every ``stream`` (five a second per running page) re-rendered all ~20 entries, which kept a browser's main thread
busy for most of each second (and a 1 MB upload waited behind it for up to a minute on 2 cores). A click on an entry
hides its proxy; the server then hides the drawn line (``_follow``). Lines not shown read the proxies' static
source, so a stream only touches the lines on screen.

Change markers are rows of one more source (a ``vspan`` glyph and a ``LabelSet``), never new models: adding a Span
and a Label per change made Bokeh re-walk every model of the page's document on the loop all pages share (~80 ms a
marker with the template page; a visitor steering a run kept the loop busy most of each second).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, CustomJS, HoverTool
from bokeh.models.annotations import LabelSet, Legend
from bokeh.models.renderers import GlyphRenderer
from bokeh.plotting import figure

import nstcore


def column_key(term: str) -> str:
    """Data-source column for a term name from ``Losses.as_dict()`` ('style:conv1_1' -> 'style_conv1_1')."""
    return term.replace(":", "_")


def loss_terms(style_layers: Sequence[str], styles: int = 1, content: bool = True, tv: bool = True) -> list[str]:
    """The chart's terms: total, content, each style layer, each style image's total (with several), TV; without
    ``content`` or ``tv`` when their weight is 0 (a term that is off is not listed)."""
    images = [nstcore.style_image_term(k) for k in range(styles)] if styles > 1 else []
    return [
        "total",
        *(["content"] if content else []),
        *(f"style:{name}" for name in style_layers),
        *images,
        *(["tv"] if tv else []),
    ]


# Okabe & Ito's colour-blind-safe palette (Bokeh's Colorblind8) with black swapped for a grey that shows on both
# themes (#888: 3.5:1 on white) and its yellow left out (1.2:1 on white, under the 3:1 a line needs). The lines
# shown take them in order; past seven, the colours come again with another dash, so no two lines of one chart
# look alike (Category10 gave "total" and "style conv4_1" the same blue).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#888888")
# solid, dashed, dotted, dot-dash, as Bokeh stores them (it turns "dashed" into [6]: comparing names never matched)
DASHES: tuple[list[int], ...] = ([], [6], [2, 4], [2, 4, 6, 4])


def line_style(index: int) -> tuple[str, list[int]]:
    """(colour, dash pattern) of the ``index``-th line shown."""
    return PALETTE[index % len(PALETTE)], list(DASHES[(index // len(PALETTE)) % len(DASHES)])


def loss_figure(
    terms: Sequence[str], title: str = "Loss (weighted terms, log scale)", labels: Sequence[str] | None = None
):
    """A figure with an empty source whose columns are ``step`` plus, per term, its weighted and its unweighted
    value (``u_`` prefix); the lines show the weighted ones (legend: ``labels`` or the terms)."""
    source = ColumnDataSource(
        {"step": [], **{column_key(t): [] for t in terms}, **{"u_" + column_key(t): [] for t in terms}}
    )
    fig = figure(
        height=360,
        sizing_mode="stretch_width",
        y_axis_type="log",
        title=title,
        x_axis_label="step",
        tools="pan,wheel_zoom,box_zoom,reset,save",
        toolbar_location="above",
    )
    fig.toolbar.logo = None  # a 20-px link nobody needs, too small a target on a phone
    # Hidden lines and the legend's proxies read this one, never streamed. One NaN row: it draws nothing (nor moves
    # the axes), but BokehJS draws no legend swatch for a renderer without data.
    idle = ColumnDataSource({name: [math.nan] for name in source.data})
    items: list[Any] = []
    for i, term in enumerate(terms):
        label = labels[i] if labels else term.replace("style:", "style ")
        colour, dash = line_style(i)
        style: dict[str, Any] = {"color": colour, "line_width": 2.5 if term == "total" else 1.5, "line_dash": dash}
        line = fig.line("step", column_key(term), source=source, name=column_key(term), **style)
        proxy = fig.line("step", column_key(term), source=idle, **style)
        proxy.tags = [LEGEND_TAG, column_key(term)]
        proxy.on_change("visible", _follow(line))
        items.append((label, [proxy]))
    _add_legend(fig, items, max(130, 30 + 6 * max(len(label) for label, _ in items)))
    _add_markers(fig)
    return fig, source


def _add_legend(fig, items: list[Any], column_px: int = 130) -> None:
    """A clickable legend below the chart, as many columns wide as the chart holds."""
    legend = Legend(
        items=items,
        click_policy="hide",
        orientation="horizontal",
        label_text_font_size="9pt",
        ncols=4,
        spacing=4,
        margin=4,
    )
    fig.add_layout(legend, "below")
    # As many legend columns as the chart's width holds (``column_px`` each, from the longest label): four fixed
    # columns were cut off on a phone ("onv3_1"), and a sweep's 20 long labels at the left; BokehJS legends do not
    # wrap by themselves.
    fig.js_on_change("inner_width", CustomJS(args={"legend": legend, "column": column_px}, code=LEGEND_COLUMNS_JS))


MARKER_COLUMNS = ("step", "y", "text", "full", "align", "dx")


def _add_markers(fig) -> None:
    """Dotted lines with a label where the run changed (a steered weight, a new scale); the view streams them.
    Hovering a line shows every change it stands for (``full``); labels in the chart's right part sit left of their
    line (``align``, ``dx``), where they were cut at the chart's edge."""
    markers = ColumnDataSource({name: [] for name in MARKER_COLUMNS})
    line = fig.vspan(x="step", source=markers, line_dash="dotted", line_color="#555", line_width=1.5)
    fig.add_tools(HoverTool(renderers=[line], tooltips=[("step", "@step"), ("", "@full")], mode="vline"))
    fig.add_layout(
        LabelSet(
            x="step",
            y="y",
            y_units="screen",
            x_offset="dx",
            text="text",
            text_align="align",
            source=markers,
            text_font_size="9pt",
            text_color="#333",
            background_fill_color="white",
            background_fill_alpha=0.7,
        )
    )


LEGEND_TAG = "nst-legend-proxy"
LEGEND_COLUMNS_JS = "legend.ncols = Math.max(1, Math.min(4, Math.floor(cb_obj.inner_width / column)));"


def _follow(line: GlyphRenderer):
    def follow(_attr: str, _old: bool, new: bool) -> None:
        line.visible = new  # the legend entry's proxy was clicked (or shown again by show_lines)

    return follow


def lines(fig) -> dict[str, GlyphRenderer]:
    """The drawn lines by column key (the legend's proxies left out)."""
    return {r.name: r for r in fig.renderers if r.name and LEGEND_TAG not in r.tags}


def show_lines(fig, source: ColumnDataSource, keys: Sequence[str]) -> None:
    """Draw the lines of ``keys`` (from ``source``), list them in the legend, and hide every other line: it reads
    the static empty source, so streaming to ``source`` costs the browser nothing for it."""
    proxies = {r.tags[1]: r for r in fig.renderers if LEGEND_TAG in r.tags}
    order = {key: i for i, key in enumerate(keys)}
    for key, line in lines(fig).items():
        shown = key in keys
        line.data_source = source if shown else proxies[key].data_source
        proxies[key].visible = shown
        line.visible = shown
        if shown:  # the shown lines take the palette in order (only what changes is sent)
            colour, dash = line_style(order[key])
            for glyph in (line.glyph, proxies[key].glyph):
                if glyph.line_color != colour or glyph.line_dash != dash:
                    glyph.line_color, glyph.line_dash = colour, dash
    for legend in fig.legend:
        for item in legend.items:
            item.visible = all(r.visible for r in item.renderers)


def change_markers(fig) -> ColumnDataSource:
    """The source of the figure's change markers: columns MARKER_COLUMNS (``y`` in screen px)."""
    source = next(a for a in fig.center if isinstance(a, LabelSet)).source
    assert isinstance(source, ColumnDataSource)
    return source


def mark_change(fig, step: int, text: str, index: int, full: str = "", right: bool = False) -> None:
    """A dotted vertical line at ``step`` with ``text`` (ours, e.g. "β 1e+06→1e+10") near the top, ``full`` on
    hover; labels of successive markers step down so neighbours do not overlap; ``right``: the label left of the
    line (near the chart's right edge)."""
    change_markers(fig).stream(
        {
            "step": [step],
            "y": [8 + 16 * (index % 4)],
            "text": [text],
            "full": [full or text],
            "align": ["right" if right else "left"],
            "dx": [-3 if right else 3],
        }
    )


def clear_changes(fig) -> None:
    change_markers(fig).data = {name: [] for name in MARKER_COLUMNS}


# Changes of one field closer together than this are one gesture (a drag, a held arrow key): one marker.
DRAG_SECONDS = 1.5
# Changes closer than this share of the run's steps share one marker ("β 1e+06→1e+08 +2", the list on hover): ten
# slider moves made ten labels, piled over each other.
NEAR_SHARE = 1 / 30
RIGHT_SHARE = 0.65  # markers past this share of the run have their label on the left of the line


class ChangeMarkers:
    """The change markers of one chart: one per change, except that a change of the same field as the last one,
    less than DRAG_SECONDS later, updates that marker instead ("conv1_1 1→0.5", from the first value to the latest,
    at the first step), and a change within NEAR_SHARE of the run's steps of the last marker joins it, with a count
    ("β 1e+06→1e+08 +2") and every change on hover. ``describe(change)`` writes a change's text. Each new scale of a
    coarse-to-fine run gets a marker too (:meth:`scale`)."""

    def __init__(self, fig, describe) -> None:
        self.fig, self.describe = fig, describe
        self.count = 0
        self.total = 0  # the run's steps (0: not known)
        self._last: dict[str, Any] | None = None
        self._texts: list[str] = []  # the changes the last marker stands for

    def clear(self, total: int = 0) -> None:
        clear_changes(self.fig)
        self.count, self.total, self._last, self._texts = 0, total, None, []

    def start(self, config: nstcore.StyleConfig) -> None:
        """A run of ``config`` begins: no markers but one where each new scale of a coarse to fine run begins (the
        loss jumps ~100x there, which read as divergence)."""
        self.clear(total=config.steps)
        plan, step = config.scale_plan(), 1
        for (_, steps), (size, _) in zip(plan, plan[1:], strict=False):
            step += steps
            self._new(step, f"{size} px")
        self._last, self._texts = None, []

    def add(self, change: Mapping[str, Any], now: float) -> bool:
        """Mark ``change`` (made at its ``"at"``, else ``now``); True when it made a new marker, False when it
        joined the last one."""
        now = change.get("at", now)
        last = self._last
        if last is not None and last["field"] == change["field"] and now - last["at"] < DRAG_SECONDS:
            last["at"] = now
            self._texts[-1] = self.describe({**change, "old": last["old"]})
            self._patch()
            return False
        near = max(1, round(self.total * NEAR_SHARE))
        if last is not None and abs(change["step"] - last["step"]) < near:
            self._texts.append(self.describe(change))
            self._last = {"field": change["field"], "old": change["old"], "at": now, "step": last["step"]}
            self._patch()
            return False
        self._new(change["step"], self.describe(change))
        self._last = {"field": change["field"], "old": change["old"], "at": now, "step": change["step"]}
        return True

    def _new(self, step: int, text: str) -> None:
        right = bool(self.total) and step > RIGHT_SHARE * self.total
        mark_change(self.fig, step, text, self.count, right=right)
        self._texts = [text]
        self.count += 1

    def _patch(self) -> None:
        texts, row = self._texts, self.count - 1
        text = texts[0] if len(texts) == 1 else f"{texts[0]} +{len(texts) - 1}"
        change_markers(self.fig).patch({"text": [(row, text)], "full": [(row, "; ".join(texts))]})


def rows_to_columns(
    rows: Sequence[tuple[int, nstcore.Losses]], terms: Sequence[str], weights: Mapping[str, float] | None = None
) -> dict[str, list[float]]:
    """New rows for ``source.stream``; zero terms become NaN (a log axis cannot show 0: the line just pauses).
    The unweighted ``u_`` columns are the engine's raw terms (``Losses.unweighted``); for rows without them,
    ``weights`` (term -> its weight when the rows were made) divides them out, and without either (a comparison's
    totals) they repeat the weighted values."""
    data: dict[str, list[float]] = {"step": [], **{column_key(t): [] for t in terms}}
    data.update({"u_" + column_key(t): [] for t in terms})
    for step, losses in rows:
        values, reported = losses.as_dict(), losses.unweighted()
        data["step"].append(step)
        unweighted_total = 0.0
        for term in terms:
            value = values.get(term, 0.0)
            data[column_key(term)].append(_shown(value))
            if term == "total":
                continue
            if reported:
                raw = reported.get(term, 0.0)
            else:
                weight = (weights or {}).get(term, 1.0)
                raw = value / weight if weight > 0 else 0.0
            unweighted_total += raw
            data["u_" + column_key(term)].append(_shown(raw))
        if "total" in terms:
            if reported:
                total = reported.get("total", 0.0)
            elif weights is not None:
                total = unweighted_total
            else:
                total = values.get("total", 0.0)
            data["u_total"].append(_shown(total))
    return data


def _shown(value: float) -> float:
    return value if value > 0 and math.isfinite(value) else float("nan")


def term_weights(
    alpha: float, beta: float, tv: float, content_layers, style_layers, style_blend: Sequence[float] = ()
) -> dict[str, float]:
    """What each chart term is multiplied by in the objective (the content term sums the content layers; a style
    image's total is taken as divided by beta times its share of the blend)."""
    weights = {"content": alpha * max(sum(content_layers.values()), 1e-30), "tv": tv}
    weights.update({f"style:{name}": beta * w for name, w in style_layers.items()})
    if len(style_blend) > 1:
        shares = nstcore.blend_weights(tuple(style_blend), len(style_blend))
        weights.update({nstcore.style_image_term(k): beta * share for k, share in enumerate(shares)})
    return weights


def chart_view_buttons() -> pn.widgets.RadioButtonGroup:
    """Weighted / unweighted, with what each means on hover (a newcomer had no way to know)."""
    return pn.widgets.RadioButtonGroup(
        options=["weighted", "unweighted"],
        value="weighted",
        color="light",
        css_classes=["nst-chart-view"],
        description="Weighted: each term times its weight, what the optimiser minimises. Unweighted: the terms "
        "themselves, which keep falling when you raise a weight.",
    )
