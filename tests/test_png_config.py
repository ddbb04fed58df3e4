"""Result PNGs carry the run's settings (``nst-config`` chunk) and load back as configs, hostile files refused."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from conftest import CONTENT, STYLE, nst
from PIL import Image, PngImagePlugin

import nstcore
from nstcore import ConfigError, StyleConfig
from nstcore.png_config import CHUNK, config_from_bytes, config_text_from_png, png_with_config

PIXELS = np.random.default_rng(0).integers(0, 255, (24, 32, 3), dtype=np.uint8)


def test_png_round_trip_keeps_pixels_and_settings() -> None:
    config = StyleConfig(size=96, beta=1e8, style_layers={"conv1_1": 1.0, "conv3_1": 0.5}, seed=7)
    data = png_with_config(PIXELS, config.to_json())
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), PIXELS)
    assert json.loads(config_text_from_png(data)) == config.to_dict()
    assert config_from_bytes(data) == config
    assert config_from_bytes(config.to_json().encode()) == config  # plain JSON still works


@pytest.mark.parametrize(
    "data, words",
    [
        (b"", "not valid JSON"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a readable PNG"),
        (png_with_config(PIXELS, None), "holds no settings"),
        (b"GIF89a" + b"\x00" * 20, "neither a config JSON nor a result PNG"),
        (b"[1, 2]", "must be a JSON object"),
    ],
)
def test_files_without_settings_are_refused_with_a_sentence(data, words) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        config_from_bytes(data, "The file <b>x</b>.png")
    assert str(info.value).count(".") >= 1 and "Traceback" not in str(info.value)


def test_a_png_with_hostile_settings_is_refused() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_itxt(CHUNK, json.dumps({"size": "<script>alert(1)</script>"}))
    buf = io.BytesIO()
    Image.fromarray(PIXELS).save(buf, format="PNG", pnginfo=info)
    with pytest.raises(ConfigError, match="size must be a whole number"):
        config_from_bytes(buf.getvalue())
    huge = png_with_config(PIXELS, json.dumps({"seed": 1, "pad": "x" * (nstcore.MAX_JSON_BYTES + 10)}))
    with pytest.raises(ConfigError, match="far larger than a config"):
        config_from_bytes(huge)


def test_cli_writes_settings_into_its_png_and_reads_them_back(tmp_path) -> None:
    first, second = tmp_path / "first.png", tmp_path / "second.png"
    common = [str(CONTENT), str(STYLE), "--weights", "random", "--no-progress", "--precision", "fp32"]
    made = nst(*common, "-o", str(first), "--size", "40", "--steps", "3", "--beta", "1e7", "--seed", "4")
    assert made.returncode == 0, made.stderr
    record = json.loads(Image.open(first).info[CHUNK])
    assert record["size"] == 40 and record["steps"] == 3 and record["beta"] == 1e7
    again = nst(*common, "-o", str(second), "--config", str(first))
    assert again.returncode == 0, again.stderr
    assert np.array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))
    jpg = tmp_path / "plain.jpg"
    Image.fromarray(PIXELS).save(jpg)
    refused = nst(*common, "-o", str(tmp_path / "x.png"), "--config", str(jpg))
    assert (
        refused.returncode == 2
        and "neither a config JSON nor a result PNG" in refused.stderr
        and "Traceback" not in refused.stderr
    )
