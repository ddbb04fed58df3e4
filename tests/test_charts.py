"""The loss chart's Bokeh models (no browser): what a stream touches, and the legend's clicks."""

from __future__ import annotations

from bokeh.models import ColumnDataSource

from demo_app.views.charts import (
    LEGEND_TAG,
    change_markers,
    clear_changes,
    lines,
    loss_figure,
    loss_terms,
    mark_change,
    show_lines,
)


def _legend_references(fig) -> set:
    refs: set = set()
    for legend in fig.legend:
        refs |= legend.references()
    return refs


def test_the_legend_never_reaches_the_streamed_source() -> None:
    """BokehJS re-renders a legend (a canvas per entry) on any change of a model its items reach: a legend over
    the drawn lines re-rendered ~20 entries on every stream, five times a second on each running page."""
    fig, source = loss_figure(loss_terms(["conv1_1", "conv2_1", "conv3_1"]))
    refs = _legend_references(fig)
    assert source not in refs
    assert not any(r in refs for r in lines(fig).values())
    # BokehJS draws no swatch for a legend renderer without data: each proxy has one (NaN) row
    assert all(len(item.renderers[0].data_source.data["step"]) == 1 for item in fig.legend[0].items)
    assert [item.label["value"] for item in fig.legend[0].items] == [
        "total",
        "content",
        "style conv1_1",
        "style conv2_1",
        "style conv3_1",
        "tv",
    ]


def test_hidden_lines_read_a_source_that_is_never_streamed() -> None:
    fig, source = loss_figure(loss_terms(["conv1_1", "conv2_1", "conv3_1"]))
    shown = ["total", "content", "style_conv2_1"]
    show_lines(fig, source, shown)
    drawn = lines(fig)
    assert {k for k, line in drawn.items() if line.data_source is source} == set(shown)
    assert all(line.visible == (k in shown) for k, line in drawn.items())
    idle = {line.data_source for k, line in drawn.items() if k not in shown}
    assert len(idle) == 1 and source not in idle and isinstance(next(iter(idle)), ColumnDataSource)
    visible = [item.label["value"] for item in fig.legend[0].items if item.visible]
    assert visible == ["total", "content", "style conv2_1"]
    show_lines(fig, source, ["total", "tv"])  # the next run shows other terms
    assert {k for k, line in drawn.items() if line.data_source is source} == {"total", "tv"}


def test_a_click_on_a_legend_entry_hides_the_drawn_line_and_a_new_run_shows_it_again() -> None:
    fig, source = loss_figure(loss_terms(["conv1_1"]))
    show_lines(fig, source, ["total", "style_conv1_1"])
    proxy = next(r for r in fig.renderers if LEGEND_TAG in r.tags and r.tags[1] == "style_conv1_1")
    proxy.visible = False  # what BokehJS's click_policy="hide" sends back
    assert not lines(fig)["style_conv1_1"].visible and lines(fig)["total"].visible
    proxy.visible = True
    assert lines(fig)["style_conv1_1"].visible
    proxy.visible = False
    show_lines(fig, source, ["total", "style_conv1_1"])
    assert lines(fig)["style_conv1_1"].visible


def test_a_change_marker_is_a_row_not_a_new_model() -> None:
    """A new Span and Label per change made Bokeh re-walk every model of the page's document on the shared loop."""
    fig, source = loss_figure(loss_terms(["conv1_1"]))
    models = fig.references()
    mark_change(fig, 12, "β 1e+06→1e+10", 0)
    mark_change(fig, 30, "α 1→2", 1)
    assert fig.references() == models
    assert change_markers(fig).data == {"step": [12, 30], "y": [8, 24], "text": ["β 1e+06→1e+10", "α 1→2"]}
    clear_changes(fig)  # a new run
    assert change_markers(fig).data["step"] == []
