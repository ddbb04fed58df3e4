"""The dashboard's session state without a server: runs, progress, stop, live changes, uploads, config JSON."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
from conftest import drain
from PIL import Image

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState


@pytest.fixture(scope="module")
def backend() -> Backend:
    return Backend(weights="random", device_name="cpu")


@pytest.fixture()
def state(backend):
    s = SessionState(backend, Limits())
    s.param.update(size=48, steps=20, preview_every=5)
    yield s
    s.close()
    s.wait(30)


def png_bytes(colour=(200, 30, 30), size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_a_run_streams_progress_and_frames(state) -> None:
    assert state.content is not None and state.style is not None  # sample images preloaded
    assert state.start()
    assert state.running
    rows, frames = drain(state)
    assert [step for step, _ in rows] == list(range(1, 21))
    assert len(frames) >= 4 and frames[-1][0].shape == (36, 48, 3)
    assert not state.running and state.status.startswith("Done: 20 steps")
    assert state.result_png()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_while_running_is_refused_and_stop_ends_it(state) -> None:
    state.steps = 5000
    assert state.start()
    assert not state.start() and "already going" in state.error
    drain(state, until=lambda s, h: s.step >= 2)
    state.stop()
    t = time.time()
    rows, _ = drain(state)
    assert time.time() - t < 10
    assert not state.running and state.status.startswith("Stopped at step")
    assert state.step < 5000


def test_moving_a_weight_mid_run_reaches_the_engine(state) -> None:
    state.steps = 5000
    assert state.start()
    rows, _ = drain(state, until=lambda s, h: s.step >= 3)
    assert rows[-1][1][0].style["conv1_1"] > 0
    layers = dict(state.style_layers)
    del layers["conv1_1"]  # switch conv1_1 off
    state.style_layers = layers
    state.beta = state.beta * 10
    state.tv = 0.5
    seen_step = state.step
    later, _ = drain(state, until=lambda s, h: s.step >= seen_step + 3)
    state.stop()
    drain(state)
    after = [losses[0] for step, losses in later if step > seen_step + 1]
    assert after and all(losses.style["conv1_1"] == 0.0 for losses in after)
    assert all(losses.tv > 0 for losses in after)


def test_bad_uploads_keep_the_previous_image(backend) -> None:
    state = SessionState(backend, Limits(max_upload_mb=0.01))
    before = state.content
    assert not state.set_image("content", b"%PDF-1.4 not an image", "report.pdf")
    assert "report.pdf" in state.error and "not an image" in state.error
    assert state.content is before
    assert not state.set_image("content", png_bytes()[:30], "cut.png")
    assert "cut.png" in state.error and state.content is before
    big = np.random.default_rng(0).integers(0, 255, (100, 100, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, format="PNG")
    assert not state.set_image("style", buf.getvalue(), "huge.png")
    assert "upload limit" in state.error
    assert state.set_image("content", png_bytes(), "red.png")
    assert state.error == "" and state.content_name == "red.png" and state.content.size == (40, 30)


def test_config_json_round_trip_restores_every_control(state) -> None:
    state.param.update(
        alpha=2.5,
        beta=3e5,
        tv=0.01,
        optimizer="lbfgs",
        lr=0.7,
        seed=9,
        init="noise",
        style_layers={"conv1_1": 0.5, "conv3_1": 1.5},
        content_layers={"conv5_2": 1.0},
        model="vgg16",
        pooling="max",
        size=64,
    )
    state.lr = 0.7  # switching the optimiser above reset lr to that optimiser's default
    exported = state.config_json()
    assert json.loads(exported)["weights"] == "random"
    state.reset()
    assert state.beta == 1e6 and state.model == "vgg19"
    assert state.apply_config_json(exported)
    assert state.config() == nstcore.StyleConfig.from_json(exported)
    assert state.lr == 0.7 and state.optimizer == "lbfgs" and state.style_layers == {"conv1_1": 0.5, "conv3_1": 1.5}
    before = state.settings()
    assert not state.apply_config_json('{"size": "big"}', "bad.json")
    assert "bad.json" in state.error
    assert state.settings() == before


def test_a_config_over_the_servers_limits_is_held_to_them_and_says_so(backend) -> None:
    """Issue 37: a config file set the size slider past its end without a word, and Run then refused it."""
    state = SessionState(backend, Limits(max_size=512, max_steps=400))
    try:
        big = nstcore.StyleConfig(size=2048, steps=900, seed=3).to_json()
        assert state.apply_config_json(big, "big.json")
        assert (state.size, state.steps, state.seed) == (512, 400, 3)  # the rest as the file says
        assert state.announcements == [
            "big.json asks for 2048 px and 900 steps, more than this server allows: it is set to 512 px and 400 steps."
        ]
        state.announcements.clear()
        assert state.apply_config_json(nstcore.StyleConfig(size=256).to_json(), "fits.json")
        assert state.size == 256 and state.announcements == []  # within the limits: nothing to say
    finally:
        state.close()


def test_cli_reproduces_a_dashboard_run_from_its_json(state, tmp_path) -> None:
    from demo_app.session.samples import sample_path
    from nstcore.cli.run import main as cli_main

    state.param.update(steps=4, size=40, init="noise", seed=5)
    assert state.start()
    drain(state)
    dashboard = np.asarray(Image.open(io.BytesIO(state.result_png())))
    (tmp_path / "run.json").write_text(state.config_json())
    out = tmp_path / "cli.png"
    code = cli_main(
        [
            str(sample_path("content", state.content_name)),
            str(sample_path("style", state.style_name)),
            "-o",
            str(out),
            "--config",
            str(tmp_path / "run.json"),
            "--no-progress",
        ]
    )
    assert code == 0
    assert np.array_equal(np.asarray(Image.open(out)), dashboard)


def test_an_exception_in_a_run_ends_only_that_run(state, monkeypatch) -> None:
    def broken(model):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(state.backend, "network", broken)
    assert state.start()
    drain(state)
    assert not state.running and "ran out of memory" in state.error and "Traceback" not in state.error
    monkeypatch.undo()
    state.steps = 2
    assert state.start()
    drain(state)
    assert state.status.startswith("Done")


def test_switching_model_drops_layers_it_lacks(state) -> None:
    state.style_layers = {"conv1_1": 1.0, "conv5_4": 1.0}
    state.model = "vgg16"
    assert state.style_layers == {"conv1_1": 1.0}
    state.config()  # valid for vgg16


def test_limits_are_enforced_on_start(backend) -> None:
    state = SessionState(backend, Limits(max_size=64, max_steps=10))
    state.param.update(size=128, steps=5)
    assert not state.start() and "at most 64 px" in state.error


def test_a_comparison_runs_all_variants_as_one_batch(state) -> None:
    assert state.load_preset("style_layers")
    # the preset's noise start belongs to the comparison; the single run keeps its own settings
    assert state.compare_shared == {"init": "noise"} and state.init == "content" and len(state.variants) == 5
    state.variants = state.variants[:3]
    state.param.update(steps=6, preview_every=3)
    assert state.start_compare()
    assert state.mode == "compare" and state.labels == (
        "style conv1_1",
        "style conv1_1+conv2_1",
        "style conv1_1..conv3_1",
    )
    rows, frames = drain(state)
    assert all(len(losses) == 3 for _, losses in rows)
    assert all(losses[0].content == 0.0 for _, losses in rows)  # alpha = 0 in the style presets
    assert len(frames[-1]) == 3
    grid = Image.open(io.BytesIO(state.grid_png()))
    assert grid.width > 3 * 128
    exported = json.loads(state.variants_json())
    assert [v["label"] for v in exported["variants"]] == list(state.labels)
    assert exported["config"]["init"] == "noise"
    assert state.load_preset("pooling") and state.compare_shared == {} and state.init == "content"


def test_comparison_rows_are_checked(state) -> None:
    state.variants = state.variants[:1]
    assert not state.start_compare() and "2 to 8 variants" in state.error
    state.load_preset("pooling")
    state.variants = [*state.variants, {**state.variants[0], "label": "bad", "style_layers": "conv7_1:1"}]
    assert not state.start_compare() and "conv7_1" in state.error and "Variant 3 (bad)" in state.error
    state.variants = [*state.variants[:2], {**state.variants[0], "label": "<b>x</b>", "beta": -1}]
    assert not state.start_compare() and "Variant 3 (<b>x</b>): beta must be" in state.error
    assert not state.running


def test_result_png_carries_the_runs_settings_as_steered(state, tmp_path) -> None:
    """The downloaded PNG says how it was made: the settings the run started with, live weights as steered (not
    what the controls say later), and it loads back as a config; the CLI reproduces an unsteered run from it."""
    from demo_app.session.samples import sample_path
    from nstcore.cli.run import main as cli_main

    state.param.update(steps=4, size=40, init="noise", seed=5)
    assert state.start()
    drain(state)
    png = state.result_png()
    record = json.loads(Image.open(io.BytesIO(png)).info["nst-config"])
    assert {k: v for k, v in record.items() if k != "run"} == json.loads(state.config_json())
    assert record["run"]["changes"] == [] and record["run"]["steps_done"] == 4
    (tmp_path / "result.png").write_bytes(png)
    out = tmp_path / "cli.png"
    content, style = (
        sample_path(role, name) for role, name in (("content", state.content_name), ("style", state.style_name))
    )
    assert (
        cli_main([str(content), str(style), "-o", str(out), "--config", str(tmp_path / "result.png"), "--no-progress"])
        == 0
    )
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(io.BytesIO(png))))

    state.steps = 5000
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 2)
    state.beta = 1e9  # steered mid-run
    seen = state.step
    drain(state, until=lambda s, h: s.step >= seen + 3)  # the change is in use by now
    state.stop()
    drain(state)
    state.size = 96  # changed after the run: not part of its record
    record = json.loads(Image.open(io.BytesIO(state.result_png())).info["nst-config"])
    assert record["beta"] == 1e6 and record["size"] == 40 and record["steps"] == 5000  # as the run started
    changes = record["run"]["changes"]
    assert [(c["field"], c["value"]) for c in changes] == [("beta", 1e9)] and changes[0]["step"] >= 3
    assert record["run"]["steps_done"] >= changes[0]["step"] and len(record["run"]["content_sha256"]) == 64
    assert record["run"]["precision"] in ("fp32", "bf16") and record["run"]["torch"]
    config = state.read_config(state.result_png(), "result.png")  # loads as a config: the starting settings
    state.reset()
    assert state.apply_config(config) and state.beta == 1e6 and state.size == 40


def test_result_file_names_say_what_they_are(state) -> None:
    state.param.update(content_name="<img src=x onerror=alert(1)>.jpg", style_name="Starry Night (1889).png")
    name = state.result_filename(0.0)
    assert name.startswith("nst-img-src-x-onerror-alert-starry-night-1889-") and name.endswith(".png")
    assert all(c.isalnum() or c in "-." for c in name)
    state.param.update(content_name="", style_name="ÿ…")
    assert state.result_filename(0.0).startswith("nst-content-style-")


def test_bigger_continues_the_finished_picture_at_twice_its_size_with_its_steered_settings(backend) -> None:
    """Bigger (issue 23): the last picture, its images and its live weights as steered, at twice the size (at most
    the server's max) as a new queued job that starts from the picture; refused with a sentence where it cannot."""
    state = SessionState(backend, Limits(max_size=96))
    try:
        assert not state.start_bigger() and "Make a picture first" in state.error
        state.param.update(size=32, steps=6, preview_every=1, optimizer="lbfgs")
        assert state.start()
        drain(state, until=lambda s, h: s.step >= 1)
        state.beta = 3e6  # steered mid-run: the bigger picture keeps it
        drain(state)
        small = state.result[0]
        assert max(small.shape[:2]) == 32
        state.param.update(size=48, beta=1e6)  # settings changed after the run do not change its picture's Bigger
        png = state.result_png()
        assert state.start_bigger(png) and state.running
        assert not state.start_bigger(png) and "already going" in state.error
        drain(state)
        assert state.status.startswith("Done"), (state.status, state.error)
        big = state.result[0]
        assert big.shape[:2] == (2 * small.shape[0], 2 * small.shape[1])
        record = state.run.record_dict()
        assert (record["size"], record["steps"], record["scales"], record["beta"]) == (64, 20, 1, 3e6)
        assert record["run"]["start_sha256"] == nstcore.file_sha256(png)
        assert record["run"]["content_sha256"] == state.content_image.sha256
        assert state.start_bigger(state.result_png())  # 64 -> 96 (the max), then no further
        drain(state)
        assert max(state.result[0].shape[:2]) == 96
        assert not state.start_bigger(state.result_png()) and "96 px" in state.error
    finally:
        state.close()
        state.wait(30)


def test_the_status_line_counts_the_time_left_scale_by_scale(backend, monkeypatch) -> None:
    """The status line's ETA comes from the scheduler's step times per scale, not from steps left at the average
    speed so far (on a coarse-to-fine run the 64-px steps made that far too short)."""
    state = SessionState(backend, Limits())
    asked = []

    def time_left(job):
        asked.append(job)
        return 42.0

    monkeypatch.setattr(backend.scheduler, "time_left", time_left)
    try:
        state.param.update(size=64, steps=20, scales=2, preview_every=1)
        assert state.start()
        statuses = []
        drain(state, until=lambda s, h: statuses.append(s.status) or len(statuses) > 3 and s.step >= 2)
        assert any(status.startswith("Step ") and "ETA 42s" in status for status in statuses), statuses
        assert asked and asked[0] is not None
    finally:
        state.stop()
        drain(state)
