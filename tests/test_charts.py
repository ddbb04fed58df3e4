"""The loss chart's Bokeh models (no browser): what a stream touches, and the legend's clicks."""

from __future__ import annotations

from bokeh.models import ColumnDataSource

from demo_app.views.charts import (
    LEGEND_TAG,
    ChangeMarkers,
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
    data = change_markers(fig).data
    assert {k: data[k] for k in ("step", "y", "text")} == {
        "step": [12, 30],
        "y": [8, 24],
        "text": ["β 1e+06→1e+10", "α 1→2"],
    }
    clear_changes(fig)  # a new run
    assert change_markers(fig).data["step"] == []


def test_the_lines_of_a_run_look_pairwise_different_and_terms_that_are_off_are_not_drawn() -> None:
    """Issue 24: Category10 gave 'total' and 'style conv4_1' one blue, conv2_1 and conv5_1 one purple, and 'tv' was
    listed with TV off. The shown lines take a colour-blind-safe palette in order, dashes past eight colours."""
    from demo_app.jobs.backend import Backend
    from demo_app.session.limits import Limits
    from demo_app.session.state import SessionState
    from demo_app.views.dashboard import Dashboard

    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    state.param.update(size=32, steps=1, tv=0.0)
    every = {f"conv{b}_{i}": 1.0 for b, count in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for i in range(1, count + 1)}
    for style_layers in ({n: 1.0 for n in ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")}, every):
        state.style_layers = style_layers
        assert state.start()
        dashboard.single.started()
        drawn = [line for line in lines(dashboard.single.chart.object).values() if line.visible]
        looks = [(line.glyph.line_color, tuple(line.glyph.line_dash)) for line in drawn]
        assert len(drawn) == 2 + len(style_layers) and len(set(looks)) == len(looks), looks
        assert "tv" not in {line.name for line in drawn}
        state.wait(30)
        state.poll()
    state.close()


def test_the_changes_of_one_drag_make_one_marker_from_its_first_value_to_its_last() -> None:
    fig, _ = loss_figure(loss_terms(["conv1_1"]))
    markers = ChangeMarkers(fig, lambda c: f"{c['field']} {c['old']}→{c['value']}")
    drag = [{"step": 5 + i, "field": "beta", "old": 10**i, "value": 10 ** (i + 1)} for i in range(5)]
    assert [markers.add(change, now=100.0 + 0.2 * i) for i, change in enumerate(drag)] == [True] + [False] * 4
    assert change_markers(fig).data["text"] == ["beta 1→100000"] and change_markers(fig).data["step"] == [5]
    assert markers.add({"step": 20, "field": "alpha", "old": 1, "value": 2}, now=101.0)  # another field
    assert markers.add({"step": 30, "field": "alpha", "old": 2, "value": 3}, now=103.0)  # a new gesture
    assert change_markers(fig).data["text"] == ["beta 1→100000", "alpha 1→2", "alpha 2→3"]
    markers.clear()
    assert markers.count == 0 and change_markers(fig).data["text"] == []


def test_changes_close_together_share_one_marker_with_a_count_and_the_list_on_hover() -> None:
    """Issue 38: ten slider moves made ten labels piled over each other and cut at the chart's right edge."""
    fig, _ = loss_figure(loss_terms(["conv1_1"]))
    markers = ChangeMarkers(fig, lambda c: f"{c['field']} {c['old']}→{c['value']}")
    markers.clear(total=300)  # within 10 steps of each other: one marker
    fields = ["beta", "alpha", "tv", "conv1_1"]
    made = [
        markers.add({"step": 20 + 3 * i, "field": f, "old": 1, "value": 2}, now=100.0 + 2 * i)
        for i, f in enumerate(fields)
    ]
    assert made == [True, False, False, False]
    data = change_markers(fig).data
    assert data["step"] == [20] and data["text"] == ["beta 1→2 +3"]
    assert data["full"] == ["beta 1→2; alpha 1→2; tv 1→2; conv1_1 1→2"]
    assert markers.add({"step": 250, "field": "beta", "old": 2, "value": 3}, now=200.0)  # far on: its own marker
    data = change_markers(fig).data
    assert data["text"][-1] == "beta 2→3" and (data["align"], data["dx"]) == (["left", "right"], [3, -3])


def test_each_new_scale_of_a_coarse_to_fine_run_is_marked() -> None:
    """Issue 38: the total loss jumps ~100x at each new scale, unmarked, which read as divergence."""
    import nstcore

    fig, _ = loss_figure(loss_terms(["conv1_1"]))
    markers = ChangeMarkers(fig, str)
    markers.start(nstcore.StyleConfig(size=256, steps=60, scales=3))
    data = change_markers(fig).data
    assert data["step"] == [21, 41] and data["text"] == ["128 px", "256 px"]
    markers.start(nstcore.StyleConfig(size=256, steps=60))  # one scale: nothing to mark
    assert change_markers(fig).data["step"] == []
    assert markers.add({"step": 5, "field": "beta", "old": 1, "value": 2}, now=0.0)


def test_a_coarse_to_fine_run_on_the_page_marks_its_scales() -> None:
    from demo_app.jobs.backend import Backend
    from demo_app.session.limits import Limits
    from demo_app.session.state import SessionState
    from demo_app.views.dashboard import Dashboard

    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    try:
        state.param.update(size=128, steps=6, scales=3, preview_every=0)
        assert state.start(), state.error
        dashboard.single.started()
        data = change_markers(dashboard.single.chart.object).data
        assert data["step"] == [3, 5] and data["text"] == ["64 px", "128 px"]
    finally:
        state.close()
        state.wait(30)
