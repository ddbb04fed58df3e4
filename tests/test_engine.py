"""The run generator: convergence, determinism, stopping, steering mid-run, batches of variants."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import nstcore
from nstcore import Controls, LossWeights, Progress, StyleConfig, run


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_loss_decreases_over_30_steps(optimizer, tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(optimizer=optimizer, init="noise")
    snapshots = list(run(config, content_image, style_image, network=network))
    assert [p.step for p in snapshots] == list(range(1, 31))
    first, last = snapshots[0].loss.total, snapshots[-1].loss.total
    assert last < 0.5 * first, (optimizer, first, last)


def test_snapshots_are_immutable_plain_floats(tiny_config, content_image, style_image, network) -> None:
    snapshots = list(run(tiny_config, content_image, style_image, network=network))
    last: Progress = snapshots[-1]
    assert last.done and last.total_steps == 30 and last.elapsed > 0
    loss = last.loss
    assert isinstance(loss.total, float) and isinstance(loss.content, float)
    assert set(loss.style) == set(nstcore.PAPER_STYLE_LAYERS)
    assert all(isinstance(v, float) for v in loss.style.values())
    assert loss.total == pytest.approx(loss.content + sum(loss.style.values()) + loss.tv)
    with pytest.raises(dataclasses.FrozenInstanceError):
        last.step = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        loss.style["conv1_1"] = 0.0  # type: ignore[index]
    # Images only on preview steps and at the end; uint8, read-only, output size from the config.
    with_images = [p.step for p in snapshots if p.images is not None]
    assert with_images == [10, 20, 30]
    image = last.image
    assert image.dtype == np.uint8 and image.shape == (36, 48, 3) and not image.flags.writeable


def test_same_seed_same_result_and_seed_matters(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(init="noise", steps=5)
    a = list(run(config, content_image, style_image, network=network))[-1]
    b = list(run(config, content_image, style_image, network=network))[-1]
    c = list(run(config.replace(seed=1), content_image, style_image, network=network))[-1]
    assert np.array_equal(a.image, b.image) and a.loss == b.loss
    assert not np.array_equal(a.image, c.image)


def test_closing_the_generator_stops_the_run(tiny_config, content_image, style_image, network) -> None:
    gen = run(tiny_config.replace(steps=1000), content_image, style_image, network=network)
    taken = list(itertools.islice(gen, 3))
    assert [p.step for p in taken] == [1, 2, 3]
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)


def test_mid_run_control_change_reaches_the_next_step(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(steps=10)
    controls = Controls(config.loss_weights(), lr=config.effective_lr)
    gen = run(config, content_image, style_image, network=network, controls=controls)
    before = [next(gen) for _ in range(3)][-1]
    assert before.loss.style["conv1_1"] > 0
    controls.update(style_layers={"conv1_1": 0.0}, tv=5.0, beta=config.beta * 10)
    after = next(gen)
    assert after.loss.style["conv1_1"] == 0.0
    assert after.loss.tv > 0.0 and before.loss.tv == 0.0
    # beta x10 scales the remaining style terms by about 10 (the image moved by one small step only).
    ratio = after.loss.style["conv2_1"] / before.loss.style["conv2_1"]
    assert 5 < ratio < 20
    gen.close()


def test_image_request_attaches_a_frame_to_the_next_step(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(steps=6, preview_every=0)
    controls = Controls(config.loss_weights(), lr=config.effective_lr)
    gen = run(config, content_image, style_image, network=network, controls=controls)
    assert next(gen).images is None
    controls.request_image()
    assert next(gen).images is not None
    assert next(gen).images is None
    assert [p.images is not None for p in gen] == [False, False, True]  # the last step always has one


def test_batched_variants_equal_single_runs_with_adam(tiny_config, content_image, style_image, network) -> None:
    """Variants in one batch give the same pictures as each variant alone (Adam is per-element).

    Tolerance: mean |difference| < 1 grey level, 95 % of values within 2 levels, losses within 5 %. Convolutions sum
    in a different order for another batch size; in float32 that moves gradients by up to ~1 % of their largest
    element (in float64 the gradients agree to 1e-20), and Adam's normalised steps carry that into a few pixels."""
    config = tiny_config.replace(steps=12, init="noise")
    variants = [
        config.loss_weights(),
        LossWeights(1.0, 1e5, 0.0, {"conv4_2": 1.0}, {"conv1_1": 1.0, "conv2_1": 1.0}),
        LossWeights(1.0, 1e6, 0.01, {"conv4_2": 0.5, "conv3_2": 0.5}, {"conv3_1": 1.0}),
    ]
    batched = list(run(config, content_image, style_image, network=network, variants=variants))[-1]
    assert len(batched.images) == 3 and len(batched.losses) == 3
    for i, weights in enumerate(variants):
        alone = list(run(config, content_image, style_image, network=network, variants=[weights]))[-1]
        diff = np.abs(alone.image.astype(int) - batched.images[i].astype(int))
        assert diff.mean() < 1.0 and (diff <= 2).mean() > 0.95, (i, diff.mean(), diff.max())
        assert alone.loss.total == pytest.approx(batched.losses[i].total, rel=0.05)
    assert not np.array_equal(batched.images[0], batched.images[1])


def test_run_validates_before_starting(tiny_config, style_image, network) -> None:
    with pytest.raises(nstcore.ImageError, match="too thin"):
        run(tiny_config, np.zeros((2, 400, 3), dtype=np.uint8), style_image, network=network)
    with pytest.raises(nstcore.ConfigError, match="vgg16"):
        run(tiny_config.replace(model="vgg16"), style_image, style_image, network=network)


def test_tiny_image_is_upscaled_not_crashed(tiny_config, style_image, network) -> None:
    one_pixel = np.full((1, 1, 3), 200, dtype=np.uint8)
    last = list(run(tiny_config.replace(steps=2), one_pixel, style_image, network=network))[-1]
    assert last.image.shape == (48, 48, 3)


def test_style_init_and_vgg16(content_image, style_image) -> None:
    config = StyleConfig(
        size=32,
        steps=3,
        weights="random",
        model="vgg16",
        init="style",
        pooling="max",
        style_layers={"conv1_1": 1.0, "conv5_3": 1.0},
    )
    last = list(run(config, content_image, style_image))[-1]
    assert last.image.shape == (24, 32, 3) and set(last.loss.style) == {"conv1_1", "conv5_3"}


def test_bf16_path_runs_converges_and_keeps_losses_fp32(tiny_config, content_image, style_image, network) -> None:
    """The GPU's mixed-precision path, exercised on the CPU (bf16 autocast works there too)."""
    config = tiny_config.replace(precision="bf16", init="noise")
    snapshots = list(run(config, content_image, style_image, network=network))
    assert snapshots[-1].loss.total < 0.5 * snapshots[0].loss.total
    fp32 = list(run(config.replace(precision="fp32", steps=1), content_image, style_image, network=network))[0]
    assert snapshots[0].loss.total == pytest.approx(fp32.loss.total, rel=0.1)  # same objective, bf16 rounding
    assert isinstance(snapshots[0].loss.total, float)


def test_precision_resolution() -> None:
    import torch

    from nstcore.device import has_fast_bf16, use_bf16

    cpu = torch.device("cpu")
    assert use_bf16("fp32", cpu) is False and use_bf16("bf16", cpu) is True
    assert use_bf16("auto", cpu) == has_fast_bf16(cpu)
    assert use_bf16("bf16", torch.device("mps")) is False


def test_lbfgs_blow_ups_are_undone(tiny_config, content_image, style_image, network) -> None:
    """From noise, torch's L-BFGS without a line search jumped to 13x its starting loss here; the guard goes back."""
    config = tiny_config.replace(optimizer="lbfgs", init="noise", steps=40)
    losses = [p.loss.total for p in run(config, content_image, style_image, network=network)]
    assert all(b <= 2.0 * a for a, b in zip(losses, losses[1:])), losses
    assert losses[-1] < 0.05 * losses[0]


def test_coarse_to_fine_runs_each_scale_then_the_full_size(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(size=96, steps=9, scales=2, preview_every=0)
    snapshots = list(run(config, content_image, style_image, network=network))
    assert [p.step for p in snapshots] == list(range(1, 10)) and snapshots[-1].total_steps == 9
    assert [p.size for p in snapshots] == [48] * 4 + [96] * 5  # 9 steps split 4 + 5
    assert snapshots[3].image.shape == (36, 48, 3) and snapshots[-1].image.shape == (72, 96, 3)
    assert "48 px → 96 px" in snapshots[0].notes[0]
    assert snapshots[-1].loss.total < snapshots[4].loss.total  # the full size improves on the upsampled start


def test_a_coarse_scale_too_small_for_the_layers_is_refused(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(size=64, scales=3)  # 16x12 px at the coarsest; conv5_1 needs 16
    with pytest.raises(nstcore.ImageError, match="fewer scales"):
        run(config, content_image, style_image, network=network)


def test_cuda_backend_tuning_is_exercised_without_a_gpu() -> None:
    """The CUDA-only switches, set through the same function the engine calls (no GPU call is made)."""
    import torch

    from nstcore.device import tune_backends

    saved = (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark)
    try:
        torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.benchmark = False
        tune_backends(torch.device("cpu"))
        assert not torch.backends.cuda.matmul.allow_tf32 and not torch.backends.cudnn.benchmark
        tune_backends(torch.device("cuda"))
        assert torch.backends.cuda.matmul.allow_tf32 and torch.backends.cudnn.allow_tf32
        assert torch.backends.cudnn.benchmark
    finally:
        (torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32, torch.backends.cudnn.benchmark) = saved


def test_a_run_can_start_from_a_picture_and_continue_a_result_at_twice_the_size(
    tiny_config, content_image, style_image, network
) -> None:
    """``start`` replaces the init: the content image as start is init=content exactly; a 24-px result continued at
    48 px starts where that result was (its style loss far below a fresh start's), and is not the content."""
    config = tiny_config.replace(steps=2)
    plain = list(run(config, content_image, style_image, network=network))
    same = list(
        run(config, content_image, style_image, network=network, start=nstcore.resize_long_side(content_image, 48))
    )
    assert same[0].loss == plain[0].loss and np.array_equal(same[-1].image, plain[-1].image)
    small = list(run(tiny_config.replace(size=24, optimizer="lbfgs"), content_image, style_image, network=network))
    result = small[-1].image
    assert result.shape[:2] == (18, 24)
    bigger = list(run(config, content_image, style_image, network=network, start=result))
    fresh_style, continued_style = sum(plain[0].loss.style.values()), sum(bigger[0].loss.style.values())
    assert continued_style < 0.2 * fresh_style, (continued_style, fresh_style)
    assert bigger[-1].image.shape[:2] == (36, 48)
    with pytest.raises(nstcore.ConfigError, match="start"):
        next(run(config.replace(generator="hrnet"), content_image, style_image, network=network, start=result))
    with pytest.raises(nstcore.ImageError, match="start picture"):
        next(run(config, content_image, style_image, network=network, start=b"not a picture"))
