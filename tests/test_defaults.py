"""The defaults, proven without pretrained weights: on the same network, images and layers, nstcore's objective
equals the objectives of recipes known to work with pretrained VGG, at their settings, written here from their own
definitions (not from nstcore's code):

* PyTorch's "Neural Transfer" tutorial: content ``mse_loss(F, P)``; Gram ``F Fᵀ / (a·b·c·d)`` (= / N·M);
  style ``mse_loss(G, A)``; content weight 1, style weight 1e6.  -> nstcore ``loss_norm="mean"``, α=1, β=1e6, the
  defaults: equal, constant 1.
* jcjohnson/neural-style: ``nn.MSECriterion`` content; Gram ``F Fᵀ`` divided by ``input:nElement()`` (= N·M), then
  ``nn.MSECriterion``; content weight 5, style weight 100.  -> ``loss_norm="mean"``, α=5, β=100: equal, constant 1
  (on features of the same scale; the README says what Caffe's 0..255 inputs change).
* Gatys et al.: ``½ Σ (F−P)²`` and ``E_l = Σ (G−A)² / (4 N² M²)`` with ``G = F Fᵀ``.  -> ``loss_norm="paper"``:
  equal, constant 1; and ``mean`` = paper × (2/(N·M)) per content layer and × (4/N²) per style layer.

The settings known to work with pretrained weights therefore carry over as the README's table says.
"""

from __future__ import annotations

import pytest
import torch

from nstcore import LossWeights, Objective, VGGFeatures
from nstcore.tensors import image_to_tensor

CONTENT = ("conv4_2",)
STYLE = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def _features(network, image, names):
    return VGGFeatures(network, names, "avg", channels_last=False)(image, names)


def _tutorial_gram(f: torch.Tensor) -> torch.Tensor:
    a, b, c, d = f.shape
    flat = f.reshape(a * b, c * d).double()
    return flat @ flat.t() / (a * b * c * d)


def _neural_style_gram(f: torch.Tensor) -> torch.Tensor:
    flat = f[0].reshape(f.shape[1], -1).double()
    return flat @ flat.t() / f[0].numel()


def _paper_gram(f: torch.Tensor) -> torch.Tensor:
    flat = f[0].reshape(f.shape[1], -1).double()
    return flat @ flat.t()


def _mse(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(((x.double() - y.double()) ** 2).mean())


def tutorial(xf, cf, sf) -> float:
    content = sum(_mse(xf[n], cf[n]) for n in CONTENT)
    style = sum(_mse(_tutorial_gram(xf[n]), _tutorial_gram(sf[n])) for n in STYLE)
    return 1.0 * content + 1e6 * style


def neural_style(xf, cf, sf) -> float:
    content = sum(_mse(xf[n], cf[n]) for n in CONTENT)
    style = sum(_mse(_neural_style_gram(xf[n]), _neural_style_gram(sf[n])) for n in STYLE)
    return 5.0 * content + 100.0 * style


def paper(xf, cf, sf, alpha: float, beta: float) -> float:
    content = sum(0.5 * float(((xf[n].double() - cf[n].double()) ** 2).sum()) for n in CONTENT)
    style = 0.0
    for n in STYLE:
        channels, positions = xf[n].shape[1], xf[n].shape[2] * xf[n].shape[3]
        diff = _paper_gram(xf[n]) - _paper_gram(sf[n])
        style += float((diff**2).sum()) / (4 * channels**2 * positions**2)
    return alpha * content + beta * style


def _ours(network, x, content, style, alpha: float, beta: float, norm: str) -> float:
    extractor = VGGFeatures(network, [*CONTENT, *STYLE], "avg", channels_last=False)
    objective = Objective(extractor, content, style, CONTENT, STYLE, norm)
    weights = LossWeights(alpha, beta, 0.0, dict.fromkeys(CONTENT, 1.0), dict.fromkeys(STYLE, 1.0))
    objective.set_weights([weights], x.device)
    with torch.no_grad():
        total, _ = objective(x)
    return float(total)


@pytest.fixture(scope="module")
def setup(network, content_image, style_image):
    torch.manual_seed(0)
    content = image_to_tensor(content_image, torch.device("cpu"))
    style = image_to_tensor(style_image.resize(content_image.size), torch.device("cpu"))
    x = (content + 0.1 * torch.randn_like(content)).clamp(0, 1)  # a point of the optimisation, not the target
    names = [*CONTENT, *STYLE]
    with torch.no_grad():
        feats = [_features(network, t, names) for t in (x, content, style)]
    return network, x, content, style, feats


def test_the_default_is_the_pytorch_tutorials_objective(setup) -> None:
    network, x, content, style, (xf, cf, sf) = setup
    assert _ours(network, x, content, style, 1.0, 1e6, "mean") == pytest.approx(tutorial(xf, cf, sf), rel=1e-5)


def test_neural_style_defaults_map_to_alpha_5_beta_100(setup) -> None:
    network, x, content, style, (xf, cf, sf) = setup
    assert _ours(network, x, content, style, 5.0, 100.0, "mean") == pytest.approx(neural_style(xf, cf, sf), rel=1e-5)


@pytest.mark.parametrize("ratio", [1e-3, 1e-4])
def test_paper_normalisation_is_the_papers_objective(setup, ratio) -> None:
    network, x, content, style, (xf, cf, sf) = setup
    ours = _ours(network, x, content, style, ratio, 1.0, "paper")
    assert ours == pytest.approx(paper(xf, cf, sf, ratio, 1.0), rel=1e-5)


def test_mean_is_the_paper_rescaled_by_the_stated_constants(setup) -> None:
    network, x, content, style, (xf, cf, sf) = setup
    (name,) = CONTENT
    n, m = xf[name].shape[1], xf[name].shape[2] * xf[name].shape[3]
    content_paper = _ours(network, x, content, style, 1.0, 0.0, "paper")
    content_mean = _ours(network, x, content, style, 1.0, 0.0, "mean")
    assert content_mean == pytest.approx(content_paper * 2 / (n * m), rel=1e-5)
    for layer in STYLE:
        n = xf[layer].shape[1]
        ours_mean = _mse(_neural_style_gram(xf[layer]), _neural_style_gram(sf[layer]))
        paper_e = float(((_paper_gram(xf[layer]) - _paper_gram(sf[layer])) ** 2).sum()) / (
            4 * n**2 * (xf[layer].shape[2] * xf[layer].shape[3]) ** 2
        )
        assert ours_mean == pytest.approx(paper_e * 4 / n**2, rel=1e-6)
