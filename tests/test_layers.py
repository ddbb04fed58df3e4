"""Layer names as in the paper map onto torchvision's ``vgg*.features`` indices."""

from __future__ import annotations

import pytest
from torch import nn

from nstcore import ConfigError, layer_names, tap_index
from nstcore.layers import layer_indices, pools_before
from nstcore.weights import build_features


@pytest.mark.parametrize("model,count,last", [("vgg19", 16, "conv5_4"), ("vgg16", 13, "conv5_3")])
def test_every_name_is_a_conv_followed_by_its_relu(model: str, count: int, last: str) -> None:
    features = build_features(model)
    names = layer_names(model)
    assert len(names) == count and names[-1] == last
    convs = [i for i, m in enumerate(features) if isinstance(m, nn.Conv2d)]
    assert list(layer_indices(model).values()) == convs
    for name in names:
        assert isinstance(features[tap_index(model, name)], nn.ReLU)
        assert isinstance(features[tap_index(model, name) - 1], nn.Conv2d)
    # The pools counted before a layer match the real network.
    for name in names:
        pools = sum(isinstance(m, nn.MaxPool2d) for m in features[: tap_index(model, name)])
        assert pools == pools_before(model, name)


def test_paper_indices_vgg19() -> None:
    conv = layer_indices("vgg19")
    assert conv["conv4_2"] == 21 and tap_index("vgg19", "conv4_2") == 22
    assert conv["conv5_1"] == 28
    assert conv["conv1_1"] == 0 and tap_index("vgg19", "conv1_1") == 1


def test_paper_indices_vgg16() -> None:
    conv = layer_indices("vgg16")
    assert conv["conv4_2"] == 19 and conv["conv5_1"] == 24 and conv["conv5_3"] == 28


def test_unknown_layer_and_model_are_clear() -> None:
    with pytest.raises(ConfigError, match="conv5_4"):
        tap_index("vgg19", "conv6_1")
    with pytest.raises(ConfigError, match="conv5_3"):
        tap_index("vgg16", "conv5_4")
    with pytest.raises(ConfigError, match="vgg19"):
        layer_names("resnet50")
