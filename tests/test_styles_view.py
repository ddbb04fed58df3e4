"""Several styles in the page (state and the "More styles" card without a browser): adding and removing style
images, their live blend, regions from uploads and from drawn strokes, what a run gets and records."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import drain, make_image, nst
from PIL import Image

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.imaging import REGION_COLOURS
from demo_app.session.limits import Limits
from demo_app.session.samples import sample_path
from demo_app.session.state import SessionState
from demo_app.views.styles import StylesView, hex_colour, overlay_planes, rasterise


@pytest.fixture(scope="module")
def backend() -> Backend:
    return Backend(weights="random", device_name="cpu")


@pytest.fixture()
def state(backend):
    s = SessionState(backend, Limits(max_styles=3))
    s.param.update(size=32, steps=12, preview_every=0, precision="fp32")
    yield s
    s.close()
    s.wait(30)


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def half_mask(state, left: bool = True) -> bytes:
    width, height = state.content.size
    array = np.zeros((height, width), np.uint8)
    array[:, : width // 2] = 255
    return png(Image.fromarray(array if left else 255 - array))


def add(state, seed: int) -> bool:
    return state.add_style(state.prepare_upload(png(make_image(64, 64, seed=seed)), f"style-{seed}.png"))


def test_styles_are_added_up_to_the_limit_and_removed_with_their_blend_and_region(state) -> None:
    assert state.style_count == 1 and state.style_blend == []
    assert add(state, 5) and state.style_blend == [1.0, 1.0]
    state.set_blend(0, 0.25)
    assert add(state, 6) and state.style_blend == [0.25, 1.0, 0.625]  # a new one joins at the mean
    assert not add(state, 7) and "at most 3 style images" in state.error
    state.set_mask(2, state.prepare_mask(half_mask(state), 2))
    state.remove_style(1)
    assert state.style_count == 2 and state.style_blend == [0.25, 0.625] and list(state.masks) == [1]
    state.remove_style(1)
    assert state.style_count == 1 and state.style_blend == [] and state.masks == {}
    state.remove_style(0)  # the first style is replaced, never removed
    assert state.style_count == 1


def test_a_blended_run_steers_its_blend_live_and_records_it(state, tmp_path) -> None:
    add(state, 5)
    assert state.start(), state.error
    rows, _ = drain(state, until=lambda s, h: s.step >= 3)
    state.set_blend(1, 0.0)
    more, _ = drain(state)
    assert len(more[-1][1][0].styles) == 2 and more[-1][1][0].styles[1] == 0.0 < rows[-1][1][0].styles[1]
    record = state.run.record_dict()
    assert record["run"]["changes"][0]["field"] == "style_blend"
    assert isinstance(record["run"]["style_sha256"], list) and len(record["run"]["style_sha256"]) == 2
    # a style added during the run is for the next one: the running blend keeps its two weights
    add(state, 6)
    assert state.style_blend == [1.0, 0.0, 0.5]


def test_a_run_with_regions_gets_one_mask_per_style(state) -> None:
    add(state, 5)
    state.set_mask(1, state.prepare_mask(half_mask(state, left=False), 1))
    styles, masks = state.run_styles()
    assert len(styles) == 2 and masks is not None and len(masks) == 2
    assert np.asarray(masks[0]).min() == 255  # a style without a region goes everywhere
    assert state.start(), state.error
    drain(state)
    assert state.error == "" and state.result is not None
    assert len(state.run.record_dict()["run"]["mask_sha256"]) == 2


def test_bad_masks_are_one_sentence_and_change_nothing(state) -> None:
    add(state, 5)
    width, height = state.content.size
    for data, words in (
        (png(Image.new("L", (height * 3, width), 255)), "must have the content image's shape"),
        (png(Image.new("L", (width, height), 0)), "black everywhere"),
        (b"", "empty"),
        (b"<svg onload=alert(1)>", "not an image"),
    ):
        with pytest.raises(nstcore.ImageError, match=words):
            state.prepare_mask(data, 1, "<img src=x onerror=alert(1)>.png")
    assert state.masks == {}


def test_a_new_content_image_clears_the_regions(state) -> None:
    add(state, 5)
    state.set_mask(0, state.prepare_mask(half_mask(state), 0))
    state.set_image("content", png(make_image(80, 40, seed=3)), "wide.png")
    assert state.masks == {} and "previous content image" in state.mask_note


def test_drawn_strokes_become_masks_in_the_image_frame() -> None:
    # a canvas of 100 x 50 units over a 400 x 200 image; y points up on the canvas
    strokes = {
        "xs": [[0, 50, 50, 0], [60, 100, 100], [1, 2]],
        "ys": [[0, 0, 50, 50], [0, 0, 50], [1, 2]],
        "colour": [hex_colour(0), hex_colour(1), hex_colour(0)],
    }
    masks = rasterise(strokes, (400, 200), (100.0, 50.0), styles=2)
    left = np.asarray(masks[0].image)
    assert left[:, :190].min() == 255 and left[:, 210:].max() == 0  # the left half, whole height
    right = np.asarray(masks[1].image)
    assert right[190, 390] == 255 and right[10, 250] == 0  # a triangle: bottom right corner in, top left out
    assert rasterise({"xs": [[1, 2]], "ys": [[1, 2]], "colour": [hex_colour(0)]}, (40, 20), (10.0, 5.0), 1) == {}
    assert rasterise({"xs": [[0, 9, 9]], "ys": [[0, 0, 5]], "colour": ["#000000"]}, (40, 20), (10.0, 5.0), 1) == {}


def test_uploaded_masks_are_tinted_over_the_canvas() -> None:
    mask = Image.new("L", (40, 20), 0)
    mask.paste(255, (0, 0, 20, 20))
    planes = overlay_planes({1: mask}, (20, 10))
    rgba = np.flipud(planes.view(np.uint8).reshape(10, 20, 4))
    assert tuple(rgba[5, 2, :3]) == REGION_COLOURS[1] and rgba[5, 2, 3] > 100 and rgba[5, 17, 3] == 0


def test_the_card_builds_when_opened_and_follows_the_state(state) -> None:
    view = StylesView(state)
    assert view.body.objects == []  # nothing (no uploaders, no figure) until someone opens the card
    view.card.collapsed = False
    assert view.paint_for.options == ["style 1"] and view.rows.objects == []
    add(state, 5)
    assert view.paint_for.options == ["style 1", "style 2"] and len(view.rows.objects) == 2
    view.paint_for.value = "style 2"
    width = view._canvas_size[0]
    view._strokes.data = {"xs": [[0, width, width]], "ys": [[0, 0, 30]], "colour": [""]}
    view._painted()  # the stroke ended: it belongs to the chosen style, whatever colour the browser gave it
    assert list(state.masks) == [1] and view._strokes.data["colour"] == [hex_colour(1)]
    view._undo()
    assert state.masks == {}
    view._strokes.data = {"xs": [[0, width, width]], "ys": [[0, 0, 30]], "colour": [""]}
    view._painted()
    view._clear()
    assert state.masks == {} and view._strokes.data["xs"] == []


def test_a_moving_blend_handle_is_not_pulled_back_and_other_changes_still_reach_it(state) -> None:
    """Keys pressed fast under load: Panel handed the slider's value (0.10) and its older throttled value (0.05)
    over together; the echo of 0.05 pulled the handle back, and the browser test's five presses ended short."""
    import param

    view = StylesView(state)
    view.card.collapsed = False
    add(state, 5)
    slider = view._blend_sliders[0]
    with param.edit_constant(slider):
        slider.param.update(value=0.10, value_throttled=0.05)  # as Panel applies one merged browser message
    assert state.style_blend[0] == 0.05 and slider.value == 0.10  # the state follows; the handle stays
    state.set_blend(0, 0.5)  # a change from elsewhere (a preset, an import) moves the handle
    assert slider.value == 0.5 and slider.value_throttled == 0.5
    with param.edit_constant(slider):
        slider.param.update(value=0.05, value_throttled=0.05)  # and moving back to the earlier weight is seen
    assert state.style_blend[0] == 0.05


def test_the_blend_preset_in_the_page_needs_two_styles(state) -> None:
    assert not state.load_preset("blend") and "compares two style images" in state.error
    add(state, 5)
    assert state.load_preset("blend")
    assert [row["style_blend"] for row in state.variants] == ["1:0", "3:1", "1:1", "1:3", "0:1"]
    state.param.update(steps=3, size=32)
    assert state.start_compare(), state.error
    drain(state)
    assert state.error == "" and len(state.result) == 5


def test_a_blended_page_run_is_replayed_by_the_cli(state, tmp_path) -> None:
    second = make_image(64, 64, seed=5)
    (tmp_path / "second.png").write_bytes(png(second))
    state.add_style(state.prepare_upload(png(second), "second.png"))
    assert state.start(), state.error
    drain(state, until=lambda s, h: s.step >= 3)
    state.set_blend(0, 0.2)
    drain(state)
    (tmp_path / "page.png").write_bytes(state.result_png())
    made = nst(
        str(sample_path("content", state.content_name)),
        str(sample_path("style", state.style_name)),
        str(tmp_path / "second.png"),
        "-o",
        str(tmp_path / "cli.png"),
        "--config",
        str(tmp_path / "page.png"),
        "--no-progress",
    )
    assert made.returncode == 0, made.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cli.png")), np.asarray(Image.open(tmp_path / "page.png")))
