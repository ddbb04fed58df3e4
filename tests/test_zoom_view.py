"""Enlarge and zoom: full-resolution cells whose pan/zoom is shared, and a PNG per comparison cell."""

from __future__ import annotations

import io
import json

import numpy as np
from conftest import drain
from PIL import Image

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.zoom import rgba_planes, zoom_figures


def test_planes_are_bottom_row_first_rgba_and_the_cells_share_their_ranges() -> None:
    image = np.zeros((4, 6, 3), dtype=np.uint8)
    image[0, 0] = (255, 0, 0)  # top-left red
    plane = rgba_planes([image])[0]
    assert plane.shape == (4, 6) and plane.dtype == np.uint32
    rgba = plane.view(np.uint8).reshape(4, 6, 4)
    assert tuple(rgba[-1, 0]) == (255, 0, 0, 255)  # Bokeh draws row 0 at the bottom
    figures = zoom_figures(rgba_planes([image, image, image]), ["a", "<b>b</b>", ""])
    assert len({id(f.x_range) for f in figures}) == 1 and len({id(f.y_range) for f in figures}) == 1
    assert figures[1].title.text == "<b>b</b>"  # drawn on the canvas as text, never parsed as markup
    assert figures[0].height == round(figures[0].width * 4 / 6)


def test_every_comparison_cell_downloads_with_its_own_settings() -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    try:
        state.param.update(size=32, steps=2, preview_every=1)
        assert state.load_preset("ratio")
        state.variants = state.variants[:2]
        assert state.start_compare()
        drain(state)
        pngs = state.cell_pngs()
        assert len(pngs) == 2
        records = [json.loads(Image.open(io.BytesIO(p)).info["nst-config"]) for p in pngs]
        assert [r["beta"] for r in records] == [row["beta"] for row in state.variants]
        assert records[0]["size"] == 32 and records[0]["alpha"] == state.variants[0]["alpha"]
    finally:
        state.close()
        state.wait(30)
