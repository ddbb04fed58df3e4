"""``python -m nstcore compare`` end to end: a preset grid, its JSON, and the same result from that JSON."""

from __future__ import annotations

import json

import numpy as np
from conftest import CONTENT, STYLE, assert_clean_failure, nst
from PIL import Image


def test_preset_grid_json_and_replay(tmp_path) -> None:
    grid = tmp_path / "grid.png"
    result = nst(
        "compare",
        str(CONTENT),
        str(STYLE),
        "--preset",
        "pooling",
        "-o",
        str(grid),
        "--weights",
        "random",
        "--size",
        "48",
        "--steps",
        "4",
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(grid.with_suffix(".json").read_text())
    assert [v["label"] for v in data["variants"]] == ["avg pooling", "max pooling"]
    assert [v["config"]["pooling"] for v in data["variants"]] == ["avg", "max"]
    image = np.asarray(Image.open(grid))
    assert image.shape[1] > 2 * 128  # two cells side by side
    again = tmp_path / "again.png"
    result = nst(
        "compare",
        str(CONTENT),
        str(STYLE),
        "--variants",
        str(grid.with_suffix(".json")),
        "-o",
        str(again),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(again)), image)  # same seed, CPU: the same grid


def test_compare_bad_input(tmp_path) -> None:
    bad = tmp_path / "variants.json"
    bad.write_text(json.dumps({"variants": [{"label": "a", "size": 999}]}))
    assert_clean_failure(
        nst(
            "compare",
            str(CONTENT),
            str(STYLE),
            "--variants",
            str(bad),
            "-o",
            str(tmp_path / "g.png"),
            "--weights",
            "random",
        ),
        "changes size",
    )
    assert_clean_failure(
        nst("compare", str(CONTENT), str(STYLE), "--preset", "nope", "-o", str(tmp_path / "g.png")), "invalid choice"
    )
