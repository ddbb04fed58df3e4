"""Colour preservation (Gatys et al. 2016): histogram matching moves the style's colour statistics to the content's;
luminance-only transfer keeps the content's chroma exactly (to rounding) in every image the run yields."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CONTENT, STYLE, make_image, nst
from PIL import Image

from nstcore import ConfigError, StyleConfig, resize_long_side, run
from nstcore.colour import luminance_image, match_colours, to_yiq


def _stats(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(image, dtype=np.float64).reshape(-1, 3) / 255
    return x.mean(0), np.cov(x, rowvar=False)


def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance() -> None:
    content, style = make_image(64, 48, seed=1), make_image(64, 64, seed=2)
    matched = match_colours(style, content)
    (mean_c, cov_c), (mean_s, cov_s), (mean_m, cov_m) = _stats(content), _stats(style), _stats(matched)
    assert np.abs(mean_m - mean_c).max() < 0.01 < np.abs(mean_s - mean_c).max()
    assert np.abs(cov_m - cov_c).max() < 0.1 * np.abs(cov_c).max() < np.abs(cov_s - cov_c).max()
    assert matched.size == style.size


def test_luminance_matching_follows_the_reference() -> None:
    content, style = make_image(64, 48, seed=1), make_image(64, 64, seed=2)
    grey = np.asarray(luminance_image(style, reference=content), dtype=np.float64) / 255
    assert np.allclose(grey[..., 0], grey[..., 1]) and np.allclose(grey[..., 1], grey[..., 2])
    y_ref = to_yiq(np.asarray(content, dtype=np.float64) / 255)[..., 0]
    assert abs(grey[..., 0].mean() - y_ref.mean()) < 0.01 and abs(grey[..., 0].std() - y_ref.std()) < 0.01


def test_luminance_only_transfer_keeps_the_contents_chroma(tiny_config, content_image, style_image, network) -> None:
    config = tiny_config.replace(preserve_colors="luminance", steps=6, preview_every=3)
    snapshots = [p for p in run(config, content_image, style_image, network=network) if p.image is not None]
    assert len(snapshots) == 2
    for snapshot in snapshots:  # every image the run yields, previews too
        out = snapshot.image
        reference = resize_long_side(content_image, max(out.shape[:2]))  # as the engine sizes it
        iq_out = to_yiq(out.astype(np.float64) / 255)[..., 1:]
        iq_ref = to_yiq(np.asarray(reference, dtype=np.float64) / 255)[..., 1:]
        diff = np.abs(iq_out - iq_ref)
        assert diff.mean() < 0.004 and np.percentile(diff, 99) < 0.02, (diff.mean(), diff.max())
    plain = list(run(tiny_config.replace(steps=6), content_image, style_image, network=network))[-1].image
    drift = np.abs(to_yiq(plain.astype(np.float64) / 255)[..., 1:] - iq_ref)
    assert drift.mean() > 4 * diff.mean()  # without it the chroma moves: the test can fail


def test_cli_flag_and_bad_values(tmp_path) -> None:
    out = tmp_path / "o.png"
    made = nst(
        str(CONTENT),
        str(STYLE),
        "-o",
        str(out),
        "--weights",
        "random",
        "--size",
        "32",
        "--steps",
        "2",
        "--preserve-colors",
        "histogram",
        "--no-progress",
    )
    assert made.returncode == 0, made.stderr
    bad = nst(str(CONTENT), str(STYLE), "-o", str(out), "--preserve-colors", "sepia")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    with pytest.raises(ConfigError, match="preserve_colors must be one of none, luminance, histogram"):
        StyleConfig(preserve_colors="sepia")  # type: ignore[arg-type]


def test_a_colours_comparison_is_each_mode_as_run_alone(tiny_config, content_image, style_image, network) -> None:
    """The colours preset (none / luminance / histogram side by side) in one run: each cell equals its mode's run
    alone, whatever its neighbours (lanes per colour mode, variants back in their order)."""
    from nstcore import expand_preset

    config = tiny_config.replace(steps=4, preview_every=0)
    shared, variants = expand_preset("colours", config)
    order = [variants[1], variants[0], variants[2], variants[1]]  # modes interleaved, one twice
    together = list(run(shared, content_image, style_image, network=network, variants=order))[-1]
    assert together.labels == tuple(v.label for v in order)
    for variant, image in zip(order, together.images):
        alone = list(run(variant.config(shared), content_image, style_image, network=network))[-1].image
        assert np.abs(image.astype(int) - alone.astype(int)).max() <= 2, variant.label
    assert not np.array_equal(together.images[0], together.images[1])  # luminance is not none
