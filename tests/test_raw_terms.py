"""The engine reports each loss term raw (unweighted) next to the weighted one (issue 21), so the page's
"unweighted" chart reads them instead of dividing the weights out again (which was approximate with several content
layers or style images)."""

from __future__ import annotations

import pickle

import pytest
from conftest import make_image

import nstcore
from demo_app.views.charts import rows_to_columns, term_weights
from nstcore import Losses, StyleConfig, run


@pytest.mark.parametrize("optimizer", ["lbfgs", "adam"])
def test_every_weighted_term_is_its_weight_times_the_raw_term(network, content_image, style_image, optimizer):
    config = StyleConfig(
        size=32,
        steps=3,
        weights="random",
        precision="fp32",
        optimizer=optimizer,
        alpha=2.0,
        beta=1e5,
        tv=1e-3,
        content_layers={"conv3_2": 0.5, "conv4_2": 1.0},
        style_layers={"conv1_1": 1.0, "conv2_1": 0.25},
        style_blend=(3.0, 1.0),
    )
    second = make_image(64, 64, seed=7)
    snapshots = list(run(config, content_image, [style_image, second], network=network))
    for losses in (s.loss for s in snapshots):
        raw = losses.raw
        assert set(raw) >= {"content:conv3_2", "content:conv4_2", "style 1:conv1_1", "style 2:conv2_1", "tv"}
        content = 2.0 * (0.5 * raw["content:conv3_2"] + 1.0 * raw["content:conv4_2"])
        assert losses.content == pytest.approx(content, rel=1e-5)
        for layer, w in (("conv1_1", 1.0), ("conv2_1", 0.25)):
            expected = 1e5 * w * (0.75 * raw[f"style 1:{layer}"] + 0.25 * raw[f"style 2:{layer}"])
            assert losses.style[layer] == pytest.approx(expected, rel=1e-5)
        assert losses.tv == pytest.approx(1e-3 * raw["tv"], rel=1e-5)
        assert raw["style 1:conv1_1"] > 0 and raw["content:conv4_2"] >= 0
        # under the chart's names: layers and images summed, and a total of its own
        plain = losses.unweighted()
        assert plain["content"] == pytest.approx(raw["content:conv3_2"] + raw["content:conv4_2"])
        assert plain["style:conv1_1"] == pytest.approx(raw["style 1:conv1_1"] + raw["style 2:conv1_1"])
        assert plain["style image 2"] == pytest.approx(raw["style 2:conv1_1"] + raw["style 2:conv2_1"])
        assert plain["total"] == pytest.approx(sum(raw.values()))
    assert pickle.loads(pickle.dumps(snapshots[-1].loss)).raw == snapshots[-1].loss.raw  # to a Dask worker and back


def test_a_layer_switched_off_reports_zero_raw_and_a_generator_reports_them_too(network, content_image, style_image):
    config = StyleConfig(size=32, steps=2, weights="random", precision="fp32", generator="hrnet")
    controls = nstcore.Controls(config.loss_weights(), lr=config.effective_lr)
    snapshots = run(config, content_image, style_image, network=network, controls=controls)
    first = next(snapshots)
    controls.replace(style_layers={"conv1_1": 1.0})
    last = list(snapshots)[-1]
    assert first.loss.raw["style:conv5_1"] > 0 and last.loss.raw["style:conv5_1"] == 0.0
    assert last.loss.style["conv1_1"] == pytest.approx(config.beta * last.loss.raw["style:conv1_1"], rel=1e-5)


def test_the_unweighted_chart_reads_the_raw_terms() -> None:
    """With raw terms the page's weights do not matter (they were the approximate way); without them (a Losses made
    by hand) the weights still divide."""
    raw = {"content:conv3_2": 0.25, "content:conv4_2": 0.5, "style:conv1_1": 4e-6, "tv": 0.0}
    losses = Losses(total=1.0 + 2.0, content=1.0, style={"conv1_1": 2.0}, tv=0.0, raw=raw)
    terms = ["total", "content", "style:conv1_1", "tv"]
    wrong = term_weights(9.0, 9.0, 9.0, {"conv4_2": 1.0}, {"conv1_1": 1.0})
    columns = rows_to_columns([(1, losses)], terms, wrong)
    assert columns["content"] == [1.0] and columns["u_content"] == [0.75]
    assert columns["u_style_conv1_1"] == [4e-6] and columns["u_total"] == [pytest.approx(0.75 + 4e-6)]
    bare = Losses(total=3.0, content=1.0, style={"conv1_1": 2.0}, tv=0.0)
    assert bare.unweighted() == {} and rows_to_columns([(1, bare)], terms, wrong)["u_content"] == [1.0 / 9.0]
