"""Variants in one batch: mixed pooling, splitting into smaller batches, JSON variants, the grid picture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nstcore
from nstcore import ConfigError, StyleConfig, run
from nstcore.grid import grid_image
from nstcore.objective import Objective
from nstcore.variants import Variant, variant_from_dict


def test_mixed_pooling_batch_equals_each_pooling_alone(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(steps=6, init="noise")
    weights = config.loss_weights()
    batched = list(
        run(
            config,
            content_image,
            style_image,
            network=network,
            variants=[Variant("avg", weights, "avg"), Variant("max", weights, "max")],
        )
    )[-1]
    assert batched.labels == ("avg", "max")
    for i, pooling in enumerate(["avg", "max"]):
        alone = list(run(config.replace(pooling=pooling), content_image, style_image, network=network))[-1]
        diff = np.abs(alone.image.astype(int) - batched.images[i].astype(int))
        assert diff.mean() < 1.0, (pooling, diff.mean())
        assert alone.loss.total == pytest.approx(batched.losses[i].total, rel=0.05)
    assert not np.array_equal(batched.images[0], batched.images[1])


def test_max_batch_splits_and_says_so(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(steps=4, init="noise")
    variants = [
        config.loss_weights().__class__(1.0, b, 0.0, {"conv4_2": 1.0}, {"conv1_1": 1.0}) for b in (1e4, 1e5, 1e6)
    ]
    whole = list(run(config, content_image, style_image, network=network, variants=variants))
    split = list(run(config, content_image, style_image, network=network, variants=variants, max_batch=2))
    assert whole[-1].notes == () and "2 batches of up to 2" in split[-1].notes[0]
    assert len(split[-1].images) == 3 and len(split[-1].losses) == 3
    for a, b in zip(whole[-1].images, split[-1].images):
        assert np.abs(a.astype(int) - b.astype(int)).mean() < 1.0


def test_lbfgs_variants_do_not_steer_each_other(tiny_config, content_image, style_image, network) -> None:
    """One flat L-BFGS history over a batch made each variant's picture depend on its neighbours (a strong-style
    row changed the step lengths of a weak one); now each variant is what it would be alone, and the page says so."""
    config = tiny_config.replace(steps=8, optimizer="lbfgs", precision="fp32")
    weak = config.loss_weights()
    strong = weak.__class__(1.0, 1e9, 0.0, dict(weak.content_layers), dict(weak.style_layers))
    batched = list(run(config, content_image, style_image, network=network, variants=[weak, strong]))[-1]
    alone = list(run(config, content_image, style_image, network=network))[-1]
    assert np.array_equal(alone.image, batched.images[0])
    assert batched.losses[0].total == pytest.approx(alone.loss.total, rel=1e-5)
    assert any("L-BFGS keeps one curvature history per image" in note for note in batched.notes)


def test_out_of_memory_halves_the_batch_until_it_fits(
    tiny_config, content_image, style_image, network, monkeypatch
) -> None:
    """Simulated: a device on which more than 2 variants per pass run out of memory."""
    real_call = Objective.evaluate  # what a lane calls
    calls = []

    def limited(self, image, responses=None):
        calls.append(image.shape[0])
        if image.shape[0] > 2:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return real_call(self, image, responses)

    monkeypatch.setattr(Objective, "evaluate", limited)
    config = tiny_config.replace(steps=3)
    variants = [config.loss_weights()] * 5
    snapshots = list(run(config, content_image, style_image, network=network, variants=variants))
    assert [p.step for p in snapshots] == [1, 2, 3]
    assert "fit in the device's memory" in snapshots[0].notes[0] and "batches of up to 2" in snapshots[0].notes[0]
    assert calls[:2] == [5, 3] and max(calls[2:]) <= 2  # 5 fails, 3 (+2) fails, then 2+2+1 fit
    assert len(snapshots[-1].images) == 5


def test_out_of_memory_with_one_variant_is_raised(
    tiny_config, content_image, style_image, network, monkeypatch
) -> None:
    def always(self, image, responses=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory.")

    monkeypatch.setattr(Objective, "evaluate", always)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        list(run(tiny_config, content_image, style_image, network=network))


def test_variant_json_may_only_change_variant_fields() -> None:
    base = StyleConfig(size=64)
    v = variant_from_dict(base, {"label": "strong", "beta": 1e7, "style_layers": "conv1_1:1,conv2_1:0.5"}, 0)
    assert v.label == "strong" and v.weights.beta == 1e7 and v.weights.style_layers == {"conv1_1": 1.0, "conv2_1": 0.5}
    with pytest.raises(ConfigError, match="changes size"):
        variant_from_dict(base, {"size": 128}, 1)
    # An exported full config contributes only its variant fields.
    full = {"label": "x", "config": {**StyleConfig(size=512, beta=5.0).to_dict()}}
    assert variant_from_dict(base, full, 2).weights.beta == 5.0


def test_grid_has_one_labelled_cell_per_variant() -> None:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    images = [np.full((40, 64, 3), c, dtype=np.uint8) for c in colours]
    grid = np.asarray(grid_image(images, ["red", "green", "blue"], columns=3))
    # cells are scaled up to >= 128 px wide; each cell's centre has its colour, the label strip has dark text
    cell_w = 128
    for i, colour in enumerate(colours):
        x = 6 + i * (cell_w + 6) + cell_w // 2
        assert tuple(grid[6 + 40, x]) == colour
        label_strip = grid[6 + 80 + 2 : 6 + 80 + 30, 6 + i * (cell_w + 6) : 6 + i * (cell_w + 6) + cell_w]
        assert (label_strip.sum(axis=-1) < 200).any()
    with pytest.raises(ValueError):
        grid_image(images, ["only one"])


def test_controls_batch_size_must_match(tiny_config, content_image, style_image, network) -> None:
    controls = nstcore.Controls([tiny_config.loss_weights()] * 2, lr=0.02)
    with pytest.raises(ConfigError, match="2 variants"):
        run(
            tiny_config,
            content_image,
            style_image,
            network=network,
            controls=controls,
            variants=[tiny_config.loss_weights()] * 3,
        )
