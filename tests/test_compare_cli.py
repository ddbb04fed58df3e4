"""``python -m nstcore compare`` end to end: a preset grid, its JSON, and the same result from that JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
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


def test_a_two_way_sweep_is_gatys_figure_3_with_headings_and_every_cells_record(tmp_path) -> None:
    """Issue 38: Compare varied one thing at a time, and a grid PNG carried only the shared settings. Style layers
    down and α/β across, 20 cells at once, the headings on the picture and every cell's config in its record;
    ``--variants GRID.png`` reruns it."""
    from nstcore.grid import HEADING_WIDTH
    from nstcore.png_config import config_text_from_png

    grid = tmp_path / "figure3.png"
    common = ["--weights", "random", "--size", "32", "--steps", "2", "--no-progress"]
    result = nst("compare", str(CONTENT), str(STYLE), "--sweep", "style_layers", "ratio", "-o", str(grid), *common)
    assert result.returncode == 0, result.stderr
    record = json.loads(config_text_from_png(grid.read_bytes()))
    cells, sweep = record["run"]["cells"], record["run"]["sweep"]
    assert (sweep["rows"], sweep["columns"]) == ("style_layers", "ratio") and len(cells) == 20
    assert sweep["column_labels"] == ["α/β = 1×10⁻⁴", "α/β = 1×10⁻⁵", "α/β = 1×10⁻⁶", "α/β = 1×10⁻⁷"]
    first, last = cells[0]["config"], cells[-1]["config"]
    assert list(first["style_layers"]) == ["conv1_1"] and len(last["style_layers"]) == 5
    assert first["alpha"] == 1.0 and first["content_layers"] == {"conv4_2": 1.0}  # Figure 3 keeps the content
    assert [c["config"]["beta"] for c in cells[:4]] == pytest.approx([1e4, 1e5, 1e6, 1e7])
    image = np.asarray(Image.open(grid).convert("L"))
    cell = 128  # 32-px cells are blown up to the smallest cell
    assert image.shape[1] > HEADING_WIDTH + 4 * cell and image.shape[0] > 5 * 96
    assert (image[:, :HEADING_WIDTH] < 128).any() and (image[:20, HEADING_WIDTH:] < 128).any()  # the headings' ink
    again = tmp_path / "again.png"
    result = nst("compare", str(CONTENT), str(STYLE), "--variants", str(grid), "-o", str(again), *common)
    assert result.returncode == 0, result.stderr
    rerun = json.loads(config_text_from_png(again.read_bytes()))["run"]["cells"]
    assert [c["config"] for c in rerun] == [c["config"] for c in cells]
    refused = nst("compare", str(CONTENT), str(STYLE), "--sweep", "ratio", "ratio", "-o", str(again), *common)
    assert refused.returncode == 2 and "choose two different presets" in refused.stderr


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
