"""Presets expand to the documented layer sets (Gatys et al., Figure 1 and Figure 3)."""

from __future__ import annotations

import pytest

from nstcore import ConfigError, StyleConfig
from nstcore.presets import PRESETS, expand_preset


def active(mapping) -> list[str]:
    return [k for k, v in mapping.items() if v > 0]


def test_style_representations_from_noise_without_content() -> None:
    shared, variants = expand_preset("style_layers", StyleConfig())
    assert shared.init == "noise"
    assert [active(v.weights.style_layers) for v in variants] == [
        ["conv1_1"],
        ["conv1_1", "conv2_1"],
        ["conv1_1", "conv2_1", "conv3_1"],
        ["conv1_1", "conv2_1", "conv3_1", "conv4_1"],
        ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"],
    ]
    assert all(v.weights.alpha == 0 for v in variants)


def test_content_representations_from_noise_without_style() -> None:
    shared, variants = expand_preset("content_layers", StyleConfig())
    assert shared.init == "noise"
    assert [active(v.weights.content_layers) for v in variants] == [
        ["conv1_2"],
        ["conv2_2"],
        ["conv3_2"],
        ["conv4_2"],
        ["conv5_2"],
    ]
    assert all(v.weights.beta == 0 for v in variants)


def test_ratio_sweep_is_the_papers_row_under_paper_normalisation() -> None:
    _, variants = expand_preset("ratio", StyleConfig(loss_norm="paper", alpha=1.0))
    assert [v.weights.alpha / v.weights.beta for v in variants] == pytest.approx([1e-2, 1e-3, 1e-4, 1e-5])
    _, variants = expand_preset("ratio", StyleConfig())
    ratios = [v.weights.alpha / v.weights.beta for v in variants]
    assert ratios == pytest.approx([1e-4, 1e-5, 1e-6, 1e-7])  # centred on the default 1e-6
    assert all(v.weights.style_layers == StyleConfig().style_layers for v in variants)


def test_pooling_preset_and_unknown_name() -> None:
    _, variants = expand_preset("pooling", StyleConfig())
    assert [v.pooling for v in variants] == ["avg", "max"]
    with pytest.raises(ConfigError, match="Unknown preset"):
        expand_preset("figure9", StyleConfig())
    assert set(PRESETS) == {"style_layers", "content_layers", "ratio", "pooling", "colours", "blend"}


@pytest.mark.parametrize("name", PRESETS)
def test_every_variant_is_a_valid_config_of_its_own(name) -> None:
    shared, variants = expand_preset(name, StyleConfig(), styles=2 if name == "blend" else 1)
    labels = [v.label for v in variants]
    assert len(set(labels)) == len(labels)
    for v in variants:
        assert isinstance(v.config(shared), StyleConfig)


def test_blend_preset_sweeps_two_styles_and_needs_two() -> None:
    _, variants = expand_preset("blend", StyleConfig(), styles=2)
    assert [v.weights.style_blend for v in variants] == [(1, 0), (3, 1), (1, 1), (1, 3), (0, 1)]
    for count in (1, 3):
        with pytest.raises(ConfigError, match="compares two style images"):
            expand_preset("blend", StyleConfig(), styles=count)


def test_alpha_over_beta_is_written_as_the_paper_writes_it() -> None:
    """Issue 38: four notations for one quantity (1.0e+6, 1.0e-06, 1e-06, 1.0e-6); now the paper's, 1×10⁻³."""
    from nstcore import paper_number

    cases = {1e-3: "1×10⁻³", 2.5e-4: "2.5×10⁻⁴", 9.96e-5: "1×10⁻⁴", 1.0: "1", 3e6: "3×10⁶", 0.0: "0"}
    assert {value: paper_number(value) for value in cases} == cases
    assert paper_number(float("inf")) == "∞"
