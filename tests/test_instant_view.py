"""Instant styles in the page: a generator this session trained (Paint with = hrnet) or one from the server's folder,
applied to the content image in one pass; a bad file in the folder gets a sentence; names never paths."""

from __future__ import annotations

import pytest
from conftest import drain

import nstcore
from demo_app.backend import Backend
from demo_app.instant_view import OWN, InstantView
from demo_app.limits import Limits
from demo_app.state import SessionState
from nstcore.generator import generator_bytes


@pytest.fixture()
def folder(tmp_path):
    (tmp_path / "<img src=x onerror=alert(1)>.pt").write_bytes(b"not a generator")
    (tmp_path / "notes.txt").write_text("ignored")
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
