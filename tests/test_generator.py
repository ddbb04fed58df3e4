"""Optimising a generator's weights instead of pixels (generator="hrnet"): the loss falls, snapshots and live weights
work as for pixels, a trained generator saved and applied reproduces the run's picture, a file that is not a
generator (or carries code) is refused with a sentence, and the CLI does it end to end."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import torch
from conftest import CONTENT, STYLE, nst
from PIL import Image

from nstcore import ConfigError, Controls, StyleConfig, resize_long_side, run
from nstcore.generator import apply_generator, generator_bytes, load_generator
from nstcore.tensors import image_to_tensor, tensor_to_arrays


@pytest.fixture()
def config() -> StyleConfig:
    return StyleConfig(size=48, steps=12, weights="random", precision="fp32", generator="hrnet", preview_every=4)


def test_a_generator_run_lowers_the_loss_and_yields_its_weights(config, content_image, style_image, network) -> None:
    snapshots = list(run(config, content_image, style_image, network=network))
    assert [s.step for s in snapshots] == list(range(1, 13))
    assert snapshots[-1].loss.total < 0.8 * snapshots[0].loss.total
    assert "generator network" in " ".join(snapshots[0].notes)
    assert snapshots[-1].trained is not None and snapshots[0].trained is None
    assert snapshots[-1].image.shape == (36, 48, 3)  # 48 x 36: not a multiple of 4 on both sides, padded and cropped
    first = next(run(config.replace(steps=1, preview_every=1), content_image, style_image, network=network)).image
    content = np.asarray(content_image.resize((48, 36), Image.Resampling.LANCZOS))
    assert np.abs(first.astype(int) - content.astype(int)).mean() < 3  # starts as the photo (init=content)


def test_a_run_stopped_early_keeps_the_generator_of_its_last_picture(
    config, content_image, style_image, network
) -> None:
    """Every snapshot with a picture carries the weights after its step, so closing the run after step 8 leaves a
    generator whose output is step 9's picture (as after the last step)."""
    kept = None
    snapshots = run(config, content_image, style_image, network=network)  # 12 steps, a picture every 4
    for snapshot in snapshots:
        assert (snapshot.trained is not None) == (snapshot.images is not None)
        if snapshot.trained is not None:
            kept = snapshot.trained[0]
        if snapshot.step == 9:
            snapshots.close()
    assert kept is not None
    model = load_generator(generator_bytes(kept, config))[0]
    applied = tensor_to_arrays(apply_generator(model, image_to_tensor(resize_long_side(content_image, 48))))[0]
    every = list(run(config.replace(preview_every=1, steps=9), content_image, style_image, network=network))
    assert np.array_equal(applied, every[8].image) and not np.array_equal(applied, every[7].image)


def test_live_weights_reach_a_generator_run(config, content_image, style_image, network) -> None:
    controls = Controls([config.loss_weights()], lr=config.effective_lr)
    seen = []
    for snapshot in run(config, content_image, style_image, network=network, controls=controls):
        seen.append(snapshot.loss)
        if snapshot.step == 3:
            controls.update(beta=0.0)
    assert sum(seen[2].style.values()) > 0 and sum(seen[4].style.values()) == 0


def test_save_then_apply_reproduces_the_trained_picture(config, content_image, style_image, network) -> None:
    """A snapshot shows the picture its step evaluated; the generator saved after N steps is the one step N + 1
    evaluates, so applying the saved file to the photo gives step N + 1's picture exactly (CPU, fp32)."""
    config = config.replace(preview_every=0, steps=6)
    last = list(run(config, content_image, style_image, network=network))[-1]
    model, saved = load_generator(generator_bytes(last.trained[0], config))
    assert saved == config
    longer = list(run(config.replace(steps=7), content_image, style_image, network=network))[-1]
    photo = image_to_tensor(resize_long_side(content_image, 48))  # as the engine sizes it
    applied = tensor_to_arrays(apply_generator(model, photo))[0]
    assert np.array_equal(applied, longer.image)
    assert not np.array_equal(applied, last.image)  # the test can tell a step apart
    big = tensor_to_arrays(apply_generator(model, image_to_tensor(content_image.resize((130, 98)))))[0]
    assert big.shape == (98, 130, 3)  # any size, in one pass


class _Boom:
    def __reduce__(self):
        return (print, ("this code must never run",))


def test_files_that_are_not_generators_are_refused(capsys) -> None:
    evil = io.BytesIO()
    torch.save({"format": "nstcore-hrnet-1", "weights": {}, "config": "{}", "x": _Boom()}, evil)
    plain = io.BytesIO()
    pickle.dump({"a": 1}, plain)
    other = io.BytesIO()
    torch.save({"format": "nstcore-hrnet-1", "config": "{}", "weights": {"w": torch.zeros(2)}}, other)
    for data, words in (
        (evil.getvalue(), "could not be read as plain tensors"),
        (plain.getvalue(), "could not be read as plain tensors"),
        (b"", "could not be read"),
        (b"<script>alert(1)</script>", "could not be read"),
        (other.getvalue(), "do not fit"),
    ):
        with pytest.raises(ConfigError, match=words):
            load_generator(data, "The generator file x.pt")
    assert "must never run" not in capsys.readouterr().out


def test_generator_settings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ConfigError, match="set scales to 1"):
        StyleConfig(generator="hrnet", scales=2)
    assert StyleConfig(generator="hrnet").effective_lr == 5e-3
    assert StyleConfig(generator="hrnet").effective_optimizer == "adam"


def test_cli_trains_saves_and_applies_a_generator(tmp_path) -> None:
    out, saved, applied = tmp_path / "out.png", tmp_path / "g.pt", tmp_path / "applied.png"
    common = ["--weights", "random", "--size", "32", "--steps", "4", "--no-progress"]
    made = nst(
        str(CONTENT), str(STYLE), "-o", str(out), "--generator", "hrnet", "--save-generator", str(saved), *common
    )
    assert made.returncode == 0, made.stderr
    used = nst("apply", str(saved), str(STYLE), "-o", str(applied), "--size", "40")
    assert used.returncode == 0, used.stderr
    assert Image.open(applied).size[0] == 40 and "ms" in used.stderr
    pixels = nst(str(CONTENT), str(STYLE), "-o", str(out), "--save-generator", str(saved), *common)
    assert pixels.returncode == 2 and "needs --generator hrnet" in pixels.stderr
    (tmp_path / "bad.pt").write_bytes(b"not a generator")
    bad = nst("apply", str(tmp_path / "bad.pt"), str(STYLE), "-o", str(applied))
    assert bad.returncode == 2 and "not a generator file" in bad.stderr and "Traceback" not in bad.stderr
