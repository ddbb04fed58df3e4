"""The loss terms equal the paper's formulas, and autograd's gradient equals finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nstcore import LossWeights, Objective, VGGFeatures
from nstcore.features import Network
from nstcore.losses import content_loss, gram, style_loss, tv_loss
from nstcore.weights import load_features


def _explicit_gram(f: np.ndarray) -> np.ndarray:
    n = f.shape[0]
    flat = f.reshape(n, -1)
    g = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            g[i, j] = sum(flat[i, k] * flat[j, k] for k in range(flat.shape[1]))
    return g


def test_gram_is_f_ft_over_m() -> None:
    rng = np.random.default_rng(0)
    f = rng.normal(size=(2, 3, 4, 5))
    got = gram(torch.from_numpy(f)).numpy()
    for b in range(2):
        np.testing.assert_allclose(got[b], _explicit_gram(f[b]) / 20, rtol=1e-12)


def test_style_loss_paper_and_mean_match_formulas() -> None:
    rng = np.random.default_rng(1)
    f = rng.normal(size=(2, 4, 3, 5))
    s = rng.normal(size=(1, 4, 3, 5))
    n, m = 4, 15
    a = _explicit_gram(s[0])
    target = gram(torch.from_numpy(s))
    paper = style_loss(torch.from_numpy(f), target, "paper").numpy()
    mean = style_loss(torch.from_numpy(f), target, "mean").numpy()
    for b in range(2):
        g = _explicit_gram(f[b])
        e_l = ((g - a) ** 2).sum() / (4 * n**2 * m**2)
        assert paper[b] == pytest.approx(e_l, rel=1e-10)
        assert mean[b] == pytest.approx((((g - a) / (n * m)) ** 2).mean(), rel=1e-10)
        assert mean[b] == pytest.approx(4 * e_l / n**2, rel=1e-10)


def test_content_and_tv_match_formulas() -> None:
    rng = np.random.default_rng(2)
    f, p = rng.normal(size=(2, 3, 4, 4)), rng.normal(size=(1, 3, 4, 4))
    paper = content_loss(torch.from_numpy(f), torch.from_numpy(p), "paper").numpy()
    mean = content_loss(torch.from_numpy(f), torch.from_numpy(p), "mean").numpy()
    for b in range(2):
        assert paper[b] == pytest.approx(0.5 * ((f[b] - p[0]) ** 2).sum(), rel=1e-12)
        assert mean[b] == pytest.approx(((f[b] - p[0]) ** 2).mean(), rel=1e-12)
    x = rng.random(size=(1, 3, 5, 6))
    dx = (x[..., :, 1:] - x[..., :, :-1]) ** 2
    dy = (x[..., 1:, :] - x[..., :-1, :]) ** 2
    assert tv_loss(torch.from_numpy(x), "paper").item() == pytest.approx(dx.sum() + dy.sum(), rel=1e-12)
    assert tv_loss(torch.from_numpy(x), "mean").item() == pytest.approx(dx.mean() + dy.mean(), rel=1e-12)


@pytest.mark.parametrize("norm", ["mean", "paper"])
def test_total_loss_gradient_matches_finite_differences(norm: str) -> None:
    torch.manual_seed(0)
    features = load_features("vgg19", "random").double()
    # Zero biases (torchvision's init) make some pre-activations exactly 0 where a receptive field is all zeros:
    # a ReLU kink that one-sided finite differences see and autograd (rightly) does not. Small biases avoid it.
    for module in features:
        if isinstance(module, torch.nn.Conv2d):
            module.bias.normal_(0.0, 0.1)
    net = Network("vgg19", "random", torch.device("cpu"), features)
    extractor = VGGFeatures(net, ["conv1_1", "conv2_1", "conv2_2"], "avg")
    content = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    style = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    objective = Objective(extractor, content, style, ["conv2_2"], ["conv1_1", "conv2_1"], norm)
    weights = LossWeights(
        alpha=1.0, beta=50.0, tv=0.3, content_layers={"conv2_2": 1.0}, style_layers={"conv1_1": 1.0, "conv2_1": 0.5}
    )
    objective.set_weights([weights], torch.device("cpu"))
    objective.weights = objective.weights.double()
    image = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    total, _ = objective(image)
    (grad,) = torch.autograd.grad(total, image)
    eps = 1e-6
    rng = np.random.default_rng(3)
    for _ in range(12):
        idx = tuple(int(rng.integers(s)) for s in image.shape)
        plus, minus = image.detach().clone(), image.detach().clone()
        plus[idx] += eps
        minus[idx] -= eps
        numeric = (objective(plus)[0] - objective(minus)[0]).item() / (2 * eps)
        assert grad[idx].item() == pytest.approx(numeric, rel=1e-4, abs=1e-9 * max(1.0, abs(total.item())))


def test_weighted_terms_add_up_to_total(network, content_image, style_image) -> None:
    from nstcore.tensors import image_to_tensor

    extractor = VGGFeatures(network, ["conv4_2", "conv1_1", "conv3_1"], "avg")
    content, style = image_to_tensor(content_image), image_to_tensor(style_image)
    objective = Objective(extractor, content, style, ["conv4_2"], ["conv1_1", "conv3_1"])
    objective.set_weights(
        [LossWeights(2.0, 100.0, 0.5, {"conv4_2": 1.0}, {"conv1_1": 1.0, "conv3_1": 0.25})], torch.device("cpu")
    )
    total, terms = objective(torch.rand_like(content))
    assert objective.columns == ["conv4_2", "conv1_1", "conv3_1", "tv"]
    assert terms.sum().item() == pytest.approx(total.item(), rel=1e-6)
    responses = extractor(torch.rand_like(content), ["conv3_1"])
    assert set(responses) == {"conv3_1"}


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_gram_gradient_in_both_layouts(layout) -> None:
    """The one-matmul backward of ``gram`` against finite differences, for NCHW and channels-last features."""
    torch.manual_seed(4)
    features = torch.randn(2, 3, 4, 5, dtype=torch.float64).contiguous(memory_format=layout).requires_grad_(True)
    assert torch.autograd.gradcheck(gram, (features,))
    flat = features.detach().reshape(2, 3, 20)
    torch.testing.assert_close(gram(features), flat @ flat.transpose(1, 2) / 20)
