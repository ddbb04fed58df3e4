"""Several style images (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style Transfer"): blended by
weights that are live during a run, or each confined to its region by a mask (guided Gram matrices)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import CONTENT, STYLE, make_image, nst
from PIL import Image

import nstcore
from nstcore import ConfigError, Controls, ImageError, StyleConfig, run
from nstcore.features import VGGFeatures
from nstcore.losses import gram
from nstcore.tensors import image_to_tensor
from nstcore.weight_text import blend_weights


def stripes(width: int, height: int) -> Image.Image:
    """Red/blue stripes two pixels wide: a style nothing like the other one."""
    x = np.arange(width)[None, :, None]
    array = np.where((x // 2) % 2 == 0, np.array([230, 30, 30]), np.array([20, 20, 200]))
    return Image.fromarray(np.broadcast_to(array, (height, width, 3)).astype(np.uint8))


def green_noise(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray((rng.random((height, width, 3)) * 40 + np.array([40, 180, 60])).astype(np.uint8))


def halves(width: int, height: int) -> list[Image.Image]:
    left = np.zeros((height, width), np.uint8)
    left[:, : width // 2] = 255
    return [Image.fromarray(left), Image.fromarray(255 - left)]


def test_blend_weights_are_normalised_and_checked() -> None:
    assert blend_weights((), 3) == pytest.approx((1 / 3,) * 3)
    assert blend_weights((3.0, 1.0), 2) == (0.75, 0.25)
    assert blend_weights((0.0, 0.0), 2) == (0.0, 0.0)
    with pytest.raises(ConfigError, match="3 weights but 2 style images"):
        blend_weights((1.0, 1.0, 1.0), 2)
    assert StyleConfig(style_blend="0.7, 0.3").style_blend == (0.7, 0.3)  # a CLI string
    assert StyleConfig.from_json(StyleConfig(style_blend=(1, 2)).to_json()).style_blend == (1.0, 2.0)
    for bad, words in (
        ("a,b", "not a list of numbers"),
        ([-1, 1], ">= 0"),
        ([float("nan")], ">= 0"),
        (7, "a list of numbers"),
    ):
        with pytest.raises(ConfigError, match=words):
            StyleConfig(style_blend=bad)


def test_a_blend_of_one_to_zero_is_the_first_style_alone(tiny_config, content_image, style_image, network) -> None:
    other = make_image(48, 64, seed=9)
    for optimizer in ("adam", "lbfgs"):
        config = tiny_config.replace(steps=8, optimizer=optimizer)
        alone = list(run(config, content_image, style_image, network=network))[-1]
        blended = list(run(config.replace(style_blend=(1, 0)), content_image, [style_image, other], network=network))
        assert np.array_equal(blended[-1].image, alone.image), optimizer
        assert blended[-1].loss.styles[1] == 0.0 and blended[-1].loss.styles[0] == pytest.approx(
            sum(alone.loss.style.values()), rel=1e-6
        )
    # and the second image does change the picture when it has a share
    mixed = list(run(config.replace(style_blend=(1, 1)), content_image, [style_image, other], network=network))
    assert not np.array_equal(mixed[-1].image, alone.image)


def test_each_style_has_its_own_total_and_the_blend_is_live(tiny_config, content_image, style_image, network) -> None:
    other = make_image(48, 64, seed=9)
    controls = Controls([tiny_config.loss_weights()], lr=tiny_config.effective_lr)
    seen = []
    for snapshot in run(
        tiny_config.replace(steps=6), content_image, [style_image, other], network=network, controls=controls
    ):
        seen.append(snapshot.loss)
        if snapshot.step == 3:
            controls.replace(style_blend=(0.0, 1.0))  # the page's slider for style 1 pulled to 0
    for loss in seen:
        assert len(loss.styles) == 2 and sum(loss.styles) == pytest.approx(sum(loss.style.values()), rel=1e-6)
        assert set(loss.as_dict()) >= {"style image 1", "style image 2"}
    assert seen[2].styles[0] > 0 and seen[3].styles[0] == 0.0 and seen[3].styles[1] > seen[2].styles[1]
    single = list(run(tiny_config.replace(steps=1), content_image, style_image, network=network))[0].loss
    assert single.styles == () and "style image 1" not in single.as_dict()  # one style: the chart is as before


def test_a_blend_that_does_not_fit_the_style_images_is_one_sentence(tiny_config, content_image, style_image, network):
    with pytest.raises(ConfigError, match="3 weights but 2 style images"):
        run(tiny_config.replace(style_blend=(1, 1, 1)), content_image, [style_image, style_image], network=network)
    with pytest.raises(ConfigError, match="1 to 8 style images"):
        run(tiny_config, content_image, [style_image] * 9, network=network)


def _half_grams(image: np.ndarray, network, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    tensor = image_to_tensor(Image.fromarray(image))
    extractor = VGGFeatures(network, [name], "avg")
    width = tensor.shape[-1]
    left, right = tensor[..., : width // 2], tensor[..., width // 2 :]
    return gram(extractor(left, [name])[name]), gram(extractor(right, [name])[name])


def test_masks_confine_each_style_to_its_half(network) -> None:
    a, b, content = stripes(64, 64), green_noise(64, 64), make_image(64, 64, seed=1)
    config = StyleConfig(
        size=64, steps=40, weights="random", precision="fp32", alpha=0.0, init="noise", preview_every=0
    )
    masked = list(run(config, content, [a, b], masks=halves(64, 64), network=network))[-1].image
    blended = list(run(config, content, [a, b], network=network))[-1].image
    extractor = VGGFeatures(network, ["conv1_1", "conv2_1"], "avg")
    for name in ("conv1_1", "conv2_1"):
        target_a = gram(extractor(image_to_tensor(a), [name])[name])
        target_b = gram(extractor(image_to_tensor(b), [name])[name])

        def distance(x, y):
            return float((x - y).pow(2).sum())

        left, right = _half_grams(masked, network, name)
        assert distance(left, target_a) < 0.2 * distance(left, target_b), name
        assert distance(right, target_b) < 0.2 * distance(right, target_a), name
        # without the masks both halves take both styles: neither half is close to "its" style alone
        left, right = _half_grams(blended, network, name)
        assert not (distance(left, target_a) < 0.2 * distance(left, target_b)), name


def test_bad_masks_are_one_sentence(tiny_config, content_image, style_image, network) -> None:
    styles = [style_image, make_image(48, 64, seed=9)]
    w, h = content_image.size
    good = halves(w, h)
    cases = [
        ([good[0]], ConfigError, "1 mask was given for 2 style images"),
        ([good[0], good[1], good[0]], ConfigError, "3 masks were given"),
        ([good[0], Image.new("L", (h, w), 255)], ImageError, "Mask 2 is 48x64 but the content image is 64x48"),
        ([good[0], Image.new("L", (w, h), 0)], ImageError, "Mask 2 is black everywhere"),
        ([good[0], Image.new("RGBA", (w, h), (255, 255, 255, 0))], ImageError, "Mask 2 is black everywhere"),
        ([good[0], b"<script>alert(1)</script>"], ImageError, "Mask 2 is not an image"),
        ([good[0], b""], ImageError, "Mask 2 is empty"),
    ]
    for masks, kind, words in cases:
        with pytest.raises(kind, match=words):
            run(tiny_config, content_image, styles, masks=masks, network=network)
    # a mask at another size but the content's shape is fine (it is resized), as are grey levels
    bigger = [m.resize((w * 2, h * 2)) for m in good]
    assert list(run(tiny_config.replace(steps=1), content_image, styles, masks=bigger, network=network))


def test_masks_and_blends_compose_with_colours_scale_and_coarse_to_fine(tiny_config, network) -> None:
    content = make_image(64, 64, seed=1)
    config = tiny_config.replace(
        size=64, steps=4, scales=2, style_scale=0.75, preserve_colors="histogram", style_blend=(2, 1)
    )
    snapshots = list(
        run(config, content, [stripes(64, 64), green_noise(64, 64)], masks=halves(64, 64), network=network)
    )
    assert [s.size for s in snapshots] == [32, 32, 64, 64] and snapshots[-1].image.shape == (64, 64, 3)
    lum = list(
        run(
            config.replace(preserve_colors="luminance"),
            content,
            [stripes(64, 64), green_noise(64, 64)],
            network=network,
        )
    )
    assert lum[-1].image.shape == (64, 64, 3) and len(lum[-1].loss.styles) == 2


def _png(image: Image.Image, path) -> str:
    image.save(path)
    return str(path)


def test_cli_blends_and_masks_and_records_them(tmp_path) -> None:
    content = Image.open(CONTENT)
    w, h = content.size
    masks = [_png(m, tmp_path / f"m{k}.png") for k, m in enumerate(halves(w, h))]
    other = _png(stripes(64, 64), tmp_path / "stripes.png")
    out = tmp_path / "out.png"
    common = ["--weights", "random", "--size", "32", "--steps", "3", "--no-progress"]
    made = nst(
        str(CONTENT),
        str(STYLE),
        other,
        "-o",
        str(out),
        "--style-blend",
        "0.7,0.3",
        "--style-masks",
        ",".join(masks),
        *common,
    )
    assert made.returncode == 0, made.stderr
    record = json.loads(Image.open(out).text["nst-config"])
    assert record["style_blend"] == [0.7, 0.3]
    assert isinstance(record["run"]["style_sha256"], list) and len(record["run"]["mask_sha256"]) == 2
    # the record replays with the same images
    again = nst(
        str(CONTENT),
        str(STYLE),
        other,
        "-o",
        str(tmp_path / "again.png"),
        "--config",
        str(out),
        "--style-masks",
        ",".join(masks),
        *common,
    )
    assert again.returncode == 0, again.stderr
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(tmp_path / "again.png")))
    for extra, words in (
        (["--style-blend", "1,1,1"], "3 weights but 2 style images"),
        (["--style-masks", masks[0]], "1 mask was given for 2 style images"),
        (["--style-blend", "x"], "not a list of numbers"),
    ):
        bad = nst(str(CONTENT), str(STYLE), other, "-o", str(tmp_path / "bad.png"), *common, *extra)
        assert bad.returncode == 2 and words in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    overwrite = nst(str(CONTENT), str(STYLE), other, "-o", masks[1], *common, "--style-masks", ",".join(masks))
    assert overwrite.returncode == 2 and "also the mask 2" in overwrite.stderr


def test_compare_blend_preset_from_the_cli(tmp_path) -> None:
    other = _png(stripes(64, 64), tmp_path / "stripes.png")
    out = tmp_path / "grid.png"
    made = nst(
        "compare",
        str(CONTENT),
        str(STYLE),
        other,
        "--preset",
        "blend",
        "-o",
        str(out),
        "--weights",
        "random",
        "--size",
        "32",
        "--steps",
        "2",
        "--no-progress",
        "--optimizer",
        "adam",
    )
    assert made.returncode == 0, made.stderr
    saved = json.loads((tmp_path / "grid.json").read_text())
    assert [v["config"]["style_blend"] for v in saved["variants"]] == [[1, 0], [3, 1], [1, 1], [1, 3], [0, 1]]
    one = nst(
        "compare", str(CONTENT), str(STYLE), "--preset", "blend", "-o", str(out), "--weights", "random", "--no-progress"
    )
    assert one.returncode == 2 and "compares two style images" in one.stderr


def test_losses_with_style_totals_pickle() -> None:
    import pickle

    loss = nstcore.Losses(total=3.0, content=1.0, style={"conv1_1": 2.0}, tv=0.0, styles=(1.5, 0.5))
    assert pickle.loads(pickle.dumps(loss)) == loss
