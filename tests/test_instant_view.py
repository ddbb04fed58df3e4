"""Instant styles in the page: a generator this session trained (Paint with = hrnet) or one from the server's folder,
applied to the content image in one pass; a bad file in the folder gets a sentence; names never paths."""

from __future__ import annotations

import pytest
from conftest import drain

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.instant import OWN, InstantView
from nstcore.generator import generator_bytes


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "<img src=x onerror=alert(1)>.pt").write_bytes(b"not a generator")
    (tmp_path / "notes.txt").write_text("ignored")
    (tmp_path / ("long" * 40 + ".pt")).write_bytes(b"a name longer than the page shows: not listed")
    return tmp_path


def test_a_trained_generator_is_applied_and_downloadable_and_the_folder_listed(folder) -> None:
    backend = Backend(weights="random", device_name="cpu", generators_dir=str(folder))
    state = SessionState(backend, Limits())
    state.param.update(size=32, steps=4, preview_every=0, precision="fp32", generator="hrnet")
    try:
        view = InstantView(state)
        view.card.collapsed = False
        assert view.choice.options == ["<img src=x onerror=alert(1)>.pt"] and view.apply.disabled is False
        assert state.start(), state.error
        drain(state)
        assert state.error == "" and state.trained is not None
        assert view.choice.options[0] == OWN and view.choice.value == OWN
        assert view._own_file and nstcore.generator.load_generator(view._own_file)[1].generator == "hrnet"
        view._apply()
        assert view.applied == 1 and view.result.object[:2] == b"\xff\xd8" and "ms at 32 px" in view.note.object
        view.choice.value = "<img src=x onerror=alert(1)>.pt"
        view._apply()
        assert "not a generator file" in state.error and view.applied == 1
        assert str(folder) not in state.error  # a name, never the server's path
        # a good file in the folder works like the session's own
        (folder / "good.pt").write_bytes(generator_bytes(*state.trained))
        view._refresh()
        view.choice.value = "good.pt"
        view._apply()
        assert view.applied == 2
    finally:
        state.close()
        state.wait(30)


def test_without_a_folder_or_a_trained_generator_there_is_nothing_to_apply() -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    view = InstantView(state)
    assert view.body.objects == []  # built when opened
    view.card.collapsed = False
    assert view.apply.disabled and len(view.choice.options) == 1
    view._apply()
    assert view.applied == 0
    state.close()


def _png(image) -> bytes:
    import io

    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_train_for_any_photo_uses_the_content_and_the_samples_and_becomes_the_instant_style(
    content_image,
) -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=32, steps=4, preview_every=2, precision="fp32")  # Paint with stays "pixels"
    try:
        view = InstantView(state)
        view.card.collapsed = False
        assert "1 sample photo," in view.body.objects[-2].object  # the content is a sample: the other one is added
        view._train()
        assert state.error == "" and state.running and view.train.disabled and view.note.object.startswith("Training")
        rows, frames = drain(state)
        assert state.error == "" and state.trained is not None and not view.train.disabled
        assert view.note.object == ""  # the note about training went with it
        assert state.trained[1].generator == "hrnet"
        assert "One generator for 2 photos" in " ".join(state.notes)
        assert len(state.run.run_info["trained_on_photos_sha256"]) == 2
        assert frames and frames[-1][0].shape == state.content.resize((32, 24)).size[::-1] + (3,)
        # an uploaded photo joins the samples instead of repeating one
        assert state.set_image("content", _png(content_image), "mine.png")
        assert len(state.training_photos()) == 3
    finally:
        state.close()
        state.wait(30)


@pytest.mark.parametrize(
    ("setup", "said"),
    [
        (lambda s: s.param.update(preserve_colors="luminance"), "Keep colours"),
        (lambda s: setattr(s, "masks", {0: object()}), "Regions"),
    ],
)
def test_train_for_any_photo_refuses_what_belongs_to_one_photo(setup, said) -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=32, steps=4)
    setup(state)
    try:
        assert not state.start_training()
        assert said in state.error and not state.running
    finally:
        state.close()


def test_training_for_any_photo_from_a_page_on_quick_trains_at_one_size() -> None:
    """A fresh page is on Quick (three scales, coarse to fine): Train for any photo refused it with "set scales to
    1". A training has one size; it now trains, and the page's own setting stays for its runs."""
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=32, steps=2, scales=3, preview_every=0)
    try:
        assert state.start_training(), state.error
        assert state.run.config is not None and state.run.config.scales == 1 and state.scales == 3
        state.generator = "hrnet"  # picking the generator for a run leaves coarse to fine, which it cannot do
        assert state.scales == 1
    finally:
        state.close()
        state.wait(30)


def test_apply_to_another_photo_dropped_on_the_card(tmp_path, content_image) -> None:
    backend = Backend(weights="random", device_name="cpu")
    state = SessionState(backend, Limits())
    state.param.update(size=32, steps=2, preview_every=0, precision="fp32", generator="hrnet")
    try:
        view = InstantView(state)
        view.card.collapsed = False
        assert state.start(), state.error
        drain(state)
        view._photo_uploaded("<script>alert(1)</script>.png", _png(content_image.resize((80, 40))))
        assert view.applied == 1 and view.apply.name == "Apply to the dropped photo"
        assert "<script>" not in view.note.object and "&lt;script&gt;" in view.note.object
        assert "at 32 px" in view.note.object
        for hostile in (b"", b"<script>alert(1)</script>", b"\x89PNG\r\n\x1a\n" + b"\0" * 10):
            state.error = ""
            view._photo_uploaded("<b>x</b>.png", hostile)
            assert state.error and "\n" not in state.error and view.applied == 1
        view._refused("huge.png", 10**9)
        assert "upload limit" in state.error
        state.error = ""
        view._photo_uploaded("wide.png", _png(content_image))
        assert view.applied == 2
        assert state.set_image("style", _png(content_image), "new style.png")  # a new style: still that photo
        assert view.apply.name == "Apply to the dropped photo"
        assert state.set_image("content", _png(content_image), "new content.png")  # a new content: back to it
        assert view.apply.name == "Apply to the content image" and view._other is None
    finally:
        state.close()
        state.wait(30)


def test_a_stopped_training_still_gives_this_session_its_generator() -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=32, steps=2000, preview_every=3, precision="fp32")
    try:
        view = InstantView(state)
        view.card.collapsed = False
        assert state.start_training(), state.error
        drain(state, until=lambda s, h: h.frames is not None)  # a picture (and its generator) came back
        assert state.trained is None  # published when the run ends, not with every picture
        state.stop()
        drain(state)
        assert state.status.startswith("Stopped at step") and state.error == ""
        assert state.trained is not None and state.trained_version == 1
        assert view.choice.value == OWN and view._own_file
    finally:
        state.close()
        state.wait(30)
