"""StyleConfig is the one source of defaults: validation, JSON round trip, layer strings."""

from __future__ import annotations

import json

import pytest

from nstcore import ConfigError, StyleConfig, format_layers, parse_layers


def test_defaults_are_the_papers_layers() -> None:
    config = StyleConfig()
    assert config.content_layers == {"conv4_2": 1.0}
    assert list(config.style_layers) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
    assert config.model == "vgg19" and config.pooling == "avg"
    assert config.optimizer == "lbfgs" and config.effective_lr == 1.0
    assert config.replace(optimizer="adam").effective_lr == 0.02


def test_json_round_trip_is_exact() -> None:
    config = StyleConfig(
        size=96,
        steps=7,
        style_layers={"conv1_1": 0.5, "conv3_1": 2.0},
        beta=3e5,
        tv=0.1,
        optimizer="lbfgs",
        lr=0.5,
        seed=42,
        init="noise",
    )
    text = config.to_json()
    assert json.loads(text)["style_layers"] == {"conv1_1": 0.5, "conv3_1": 2.0}
    assert StyleConfig.from_json(text) == config


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"size": 0}, "size must be between"),
        ({"model": "resnet"}, "model must be one of"),
        ({"style_layers": {"conv9_9": 1.0}}, "Unknown layer"),
        ({"style_layers": {"conv1_1": -1.0}}, ">= 0"),
        ({"alpha": float("nan")}, "alpha"),
        ({"content_layers": {}, "style_layers": {"conv1_1": 0.0}}, "At least one"),
    ],
)
def test_bad_values_are_one_clear_sentence(changes, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        StyleConfig(**changes)


def test_from_json_rejects_unknown_fields_and_bad_json() -> None:
    with pytest.raises(ConfigError, match="Unknown config field"):
        StyleConfig.from_dict({"sise": 3})
    with pytest.raises(ConfigError, match="not valid JSON"):
        StyleConfig.from_json("{nope")
    with pytest.raises(ConfigError, match="JSON object"):
        StyleConfig.from_json("[1, 2]")


def test_layer_strings() -> None:
    assert parse_layers("conv1_1:1, conv2_1:0.75,conv3_1") == {"conv1_1": 1.0, "conv2_1": 0.75, "conv3_1": 1.0}
    assert parse_layers(format_layers({"conv4_2": 0.25})) == {"conv4_2": 0.25}
    with pytest.raises(ConfigError, match="not a number"):
        parse_layers("conv1_1:lots")


def test_scale_plan_splits_steps_and_drops_empty_scales() -> None:
    assert StyleConfig(size=256, steps=300, scales=3).scale_plan() == [(64, 100), (128, 100), (256, 100)]
    assert StyleConfig(size=256, steps=301, scales=2).scale_plan() == [(128, 150), (256, 151)]
    assert StyleConfig(size=256, steps=1, scales=2).scale_plan() == [(256, 1)]
    assert StyleConfig(size=512).scale_plan() == [(512, 300)]
    with pytest.raises(ConfigError, match="scales"):
        StyleConfig(scales=5)


def test_the_version_records_carry_is_the_projects() -> None:
    import re
    from pathlib import Path

    import nstcore

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert re.search(r'^version = "([^"]+)"', pyproject, re.M).group(1) == nstcore.__version__
