"""The session's history of runs, the chart's unweighted view and change labels (no server, no browser)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import drain
from PIL import Image

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.current_run import CurrentRun
from demo_app.session.history import History, make_item
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.charts import rows_to_columns, term_weights


@pytest.fixture(scope="module")
def backend() -> Backend:
    return Backend(weights="random", device_name="cpu")


@pytest.fixture()
def state(backend):
    s = SessionState(backend, Limits(history_size=3))
    s.param.update(size=40, steps=3, preview_every=1)
    yield s
    s.close()
    s.wait(30)


def _item(number: int):
    image = np.zeros((20, 30, 3), dtype=np.uint8)
    return make_item(
        number,
        image,
        {"steps": 10, "beta": 1e6},
        content_name="<b>me</b>.png",
        style_name="s.png",
        content_jpeg=b"",
        steps_done=4,
        losses={"total": 0.5},
        filename="x.png",
    )


def test_history_keeps_its_bytes_under_the_limit() -> None:
    """12 entries of 2.3 MB each at 1024 px were 852 MB for one address's 32 pages: the oldest go first once the
    entries pass ``max_bytes``; the newest always stays."""
    one = _item(1).size
    history = History(12, max_bytes=int(2.5 * one))
    for _ in range(6):
        history.add(_item(history.next_number()))
    assert [i.number for i in history] == [5, 6] and history.bytes <= 2.5 * one
    tiny = History(12, max_bytes=1)
    tiny.add(_item(1))
    assert len(tiny) == 1
    assert SessionState(Backend(weights="random", device_name="cpu"), Limits(max_history_mb=3)).history.max_bytes == (
        3 * 2**20
    )


def test_history_keeps_the_newest_runs_numbered_for_good() -> None:
    history = History(3)
    for _ in range(5):
        history.add(_item(history.next_number()))
    assert [i.number for i in history] == [3, 4, 5] and history.get(1) is None
    item = history.get(4)
    assert item.caption() == "#4 · β 1e+06 · 4/10 steps · loss 0.5"
    assert json.loads(Image.open(io.BytesIO(item.png)).info["nst-config"])["beta"] == 1e6
    assert ("content", "<b>me</b>.png") in item.details()  # plain text; the page escapes it


def test_two_runs_make_two_history_items_that_restore_their_settings(state) -> None:
    items = []
    for beta in (1e5, 1e7):
        state.beta = beta
        assert state.start()
        drain(state)
        items.append(state.history_entry(state.history.next_number()))
        state.history.add(items[-1])
    assert [i.number for i in state.history] == [1, 2]
    assert items[0].record["beta"] == 1e5 and items[1].record["beta"] == 1e7
    assert items[0].steps_done == 3 and items[0].losses["total"] > 0
    assert Image.open(io.BytesIO(items[0].jpeg)).size == (40, 30)
    state.param.update(beta=1.0, size=64)
    assert state.restore_from_history(1) and state.beta == 1e5 and state.size == 40
    assert not state.restore_from_history(99) and "no longer in the history" in state.error


def test_unweighted_view_divides_each_term_by_its_weight() -> None:
    losses = nstcore.Losses(total=3.0, content=1.0, style={"conv1_1": 2.0}, tv=0.0)
    weights = term_weights(2.0, 1e6, 0.0, {"conv4_2": 1.0}, {"conv1_1": 0.5})
    columns = rows_to_columns([(1, losses)], ["total", "content", "style:conv1_1", "tv"], weights)
    assert columns["content"] == [1.0] and columns["u_content"] == [0.5]
    assert columns["u_style_conv1_1"] == [pytest.approx(2.0 / 5e5)]
    assert np.isnan(columns["u_tv"][0])  # TV off: no line, not a division by zero
    assert columns["u_total"] == [pytest.approx(0.5 + 2.0 / 5e5)]


@pytest.mark.parametrize(
    "change, label",
    [
        ({"field": "beta", "old": 1e6, "value": 1e10}, "β 1e+06→1e+10"),
        ({"field": "tv", "old": 0.0, "value": 1e-5}, "TV off→1e-05"),
        ({"field": "lr", "old": None, "value": 0.05}, "lr auto→0.05"),
        ({"field": "style_layers", "old": {"conv1_1": 1.0}, "value": {"conv1_1": 0.0}}, "conv1_1 1→0"),
    ],
)
def test_mid_run_changes_are_labelled_for_the_chart(change, label) -> None:
    assert CurrentRun.describe_change(change) == label


def test_steering_records_each_change_with_its_step(state) -> None:
    state.steps = 5000
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 2)
    state.beta = 1e9
    state.beta = 1e9  # no change: not recorded twice
    state.stop()
    drain(state)
    changes = state.run.changes
    assert len(changes) == 1 and changes[0]["field"] == "beta" and changes[0]["value"] == 1e9
    assert changes[0]["step"] >= 3


def test_runs_side_by_side_list_only_what_differs() -> None:
    from demo_app.session.history import compare_runs, differences

    records = [
        {"size": 64, "beta": 1e6, "style_layers": {"conv1_1": 1.0}, "seed": 0, "run": {"changes": []}},
        {"size": 64, "beta": 1e8, "style_layers": {"conv1_1": 1.0, "conv2_1": 1.0}, "seed": 0, "run": {}},
    ]
    assert differences(records) == [
        {"beta": 1e6, "style_layers": {"conv1_1": 1.0}},
        {"beta": 1e8, "style_layers": {"conv1_1": 1.0, "conv2_1": 1.0}},
    ]
    small, large = (np.full((h, w, 3), c, dtype=np.uint8) for h, w, c in ((24, 32, 40), (48, 96, 200)))
    items = [
        make_item(
            n,
            image,
            record,
            content_name="c.png",
            style_name="<s>.png",
            content_jpeg=b"",
            steps_done=1,
            losses={"total": 1.0},
            filename="x.png",
        )
        for n, image, record in ((1, small, records[0]), (2, large, records[1]))
    ]
    png, data, labels = compare_runs(items)
    assert labels == ["#1: beta 1e+06, style_layers conv1_1:1", "#2: beta 1e+08, style_layers conv1_1:1,conv2_1:1"]
    grid = Image.open(io.BytesIO(png))
    assert grid.width >= 2 * 96  # both cells at the larger run's size
    parsed = json.loads(data)
    assert [r["number"] for r in parsed["runs"]] == [1, 2] and parsed["runs"][1]["differs"]["beta"] == 1e8
    with pytest.raises(nstcore.ConfigError, match="Pick 2 to 8 runs"):
        compare_runs(items[:1])
