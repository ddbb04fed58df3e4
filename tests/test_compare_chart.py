"""The Compare tab's chart views (no browser): every view draws, or says in one sentence why it cannot (issue 38)."""

from __future__ import annotations

import math
import time

import pytest

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.compare import CompareView


def _compared(preset: str):
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=32, steps=3, preview_every=0, precision="fp32")
    assert state.load_preset(preset), state.error
    view = CompareView(state)
    assert state.start_compare(), state.error
    view.started()
    deadline = time.time() + 60
    while time.time() < deadline:  # as the page's clock does: every handover's rows into the chart
        handover = state.poll()
        view.apply_rows(handover)
        if handover.finished:
            return state, view
        time.sleep(0.02)
    raise AssertionError("the comparison did not finish")


def _drawn(values) -> bool:
    return any(math.isfinite(v) and v > 0 for v in values)


@pytest.mark.parametrize("preset", ["style_layers", "ratio"])
def test_the_style_view_has_a_line_per_variant(preset) -> None:
    """Every variant's "style" line had 60 points and none finite: the weights' keys were prefixed twice."""
    state, view = _compared(preset)
    try:
        data = view._source.data
        assert len(data["step"]) == 3
        for key in view._keys:
            assert _drawn(data[f"style_{key}"]), (key, data[f"style_{key}"])
        view.chart_view.value = "style"
        assert view.chart_note.object == ""
    finally:
        state.close()
        state.wait(30)


def test_a_view_without_a_term_says_why() -> None:
    """Figure 1's style-layer preset sets α = 0: its content view was blank without a word."""
    state, view = _compared("style_layers")
    try:
        view.chart_view.value = "content"
        assert "Every variant here has α = 0 (no content term)" in view.chart_note.object
        view.chart_view.value = "total"
        assert view.chart_note.object == ""
    finally:
        state.close()
        state.wait(30)
    state, view = _compared("ratio")  # every ratio has a content term: its lines draw, nothing to explain
    try:
        view.chart_view.value = "content"
        assert view.chart_note.object == ""
        assert all(_drawn(view._source.data[f"content_{key}"]) for key in view._keys)
    finally:
        state.close()
        state.wait(30)
