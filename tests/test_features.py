"""VGGFeatures: channels-last and NCHW give the same responses; the CPU/CUDA network is stored channels-last."""

from __future__ import annotations

import pytest
import torch

from nstcore import VGGFeatures, load_network
from nstcore.device import prefers_channels_last
from nstcore.features import Network
from nstcore.weights import load_features

LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_2"]


def test_cpu_network_and_responses_are_channels_last(network) -> None:
    assert prefers_channels_last(torch.device("cpu")) and not prefers_channels_last(torch.device("mps"))
    conv = network.features[0]
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()
    extractor = VGGFeatures(network, LAYERS)
    assert extractor.channels_last
    response = extractor(torch.rand(1, 3, 32, 32), ["conv2_1"])["conv2_1"]
    assert response.is_contiguous(memory_format=torch.channels_last) and not response.is_contiguous()


@pytest.mark.parametrize("pooling", ["avg", "max"])
def test_channels_last_gives_the_same_responses_and_gradient(pooling: str) -> None:
    nchw = Network("vgg19", "random", torch.device("cpu"), load_features("vgg19", "random"))
    nhwc = load_network("vgg19", "random", "cpu")
    torch.manual_seed(5)
    image = torch.rand(2, 3, 40, 36, requires_grad=True)
    got = VGGFeatures(nhwc, LAYERS, pooling)(image, LAYERS)
    want = VGGFeatures(nchw, LAYERS, pooling, channels_last=False)(image, LAYERS)
    assert not want["conv4_2"].is_contiguous(memory_format=torch.channels_last)
    for name in LAYERS:
        torch.testing.assert_close(got[name], want[name], rtol=1e-4, atol=1e-5)
    (want_grad,) = torch.autograd.grad(sum(r.square().mean() for r in want.values()), image)
    sum(r.square().mean() for r in got.values()).backward()
    # Not element-wise: where two values in a max-pool window differ by less than the two layouts' rounding, the
    # argmax (and so where that window's gradient goes) can flip. Such flips move well under 1 % of the gradient.
    assert torch.linalg.vector_norm(image.grad - want_grad) <= 1e-2 * torch.linalg.vector_norm(want_grad)
    image.grad.view(-1)  # .grad keeps the image's NCHW layout, so L-BFGS can flatten it without a copy


def test_every_tensor_of_the_objective_lives_on_the_networks_device() -> None:
    """The CUDA path's device placement, checked on PyTorch's "meta" device (shapes only, no GPU needed): a tensor
    made on the CPU anywhere in features, losses or the objective fails here as it would on a GPU."""
    from nstcore import LossWeights, Objective

    meta = torch.device("meta")
    net = Network("vgg19", "random", meta, load_features("vgg19", "random").to(meta))
    extractor = VGGFeatures(net, ["conv1_1", "conv3_1", "conv4_2"], ["avg", "max"])  # mixed pooling too
    image = torch.rand(2, 3, 32, 32, device=meta)
    objective = Objective(extractor, image, image, ["conv4_2"], ["conv1_1", "conv3_1"])
    weights = LossWeights(1.0, 1e6, 1e-3, {"conv4_2": 1.0}, {"conv1_1": 1.0, "conv3_1": 0.5})
    objective.set_weights([weights, weights], meta)
    image.requires_grad_(True)
    total, terms = objective(image)
    total.backward()
    assert terms.shape == (2, 4) and image.grad is not None and image.grad.device == meta
