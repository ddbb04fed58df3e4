"""Runs as records: a run steered live in the page is recorded with its changes at their steps, and the CLI replays
the record to the same pixels (fp32, CPU); bad records get one sentence; changed inputs get a warning."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pytest
from conftest import cpu_load, drain, nst
from PIL import Image

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.samples import DEFAULT_CONTENT, DEFAULT_STYLE, sample_path
from demo_app.session.state import SessionState
from nstcore import ConfigError, StyleConfig
from nstcore.cli.run import main as cli_main
from nstcore.records import changes_by_step, recorded_threads, split_record


@pytest.fixture()
def state():
    s = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    s.param.update(size=32, steps=40, preview_every=0, precision="fp32")
    yield s
    s.close()
    s.wait(30)


def _inputs(state) -> list[str]:
    return [str(sample_path("content", state.content_name)), str(sample_path("style", state.style_name))]


def test_a_steered_page_run_is_replayed_by_the_cli_to_the_same_pixels(state, tmp_path) -> None:
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 3)
    state.beta = 1e8  # steered live: a weight
    state.style_layers = {**state.style_layers, "conv3_2": 0.5}  # and a layer the run did not start with
    drain(state, until=lambda s, h: s.step >= 12)
    state.tv = 1e-4
    drain(state)
    assert state.status.startswith("Done")
    png = state.result_png()
    record = json.loads(Image.open(io.BytesIO(png)).info["nst-config"])
    run = record["run"]
    assert record["beta"] == 1e6 and "conv3_2" not in record["style_layers"]  # the settings it started with
    assert [c["field"] for c in run["changes"]] == ["beta", "style_layers", "tv"]
    steps = [c["step"] for c in run["changes"]]
    assert 4 <= steps[0] <= steps[1] < steps[2] <= 40 and run["steps_done"] == 40
    (tmp_path / "page.png").write_bytes(png)
    out = tmp_path / "cli.png"
    args = [*_inputs(state), "-o", str(out), "--config", str(tmp_path / "page.png"), "--no-progress"]
    assert cli_main(args) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(io.BytesIO(png))))
    again = json.loads(Image.open(out).info["nst-config"])
    assert again["run"]["changes"] == run["changes"] and again["run"]["content_sha256"] == run["content_sha256"]


def test_a_record_without_its_changes_gives_a_different_picture(state, tmp_path) -> None:
    """The replay is what makes the pixels equal: the same record with its changes dropped does not reproduce."""
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 3)
    state.beta = 1e9
    drain(state)
    record = json.loads(Image.open(io.BytesIO(state.result_png())).info["nst-config"])
    record["run"]["changes"] = []
    (tmp_path / "bare.json").write_text(json.dumps(record))
    out = tmp_path / "cli.png"
    assert cli_main([*_inputs(state), "-o", str(out), "--config", str(tmp_path / "bare.json"), "--no-progress"]) == 0
    page = np.asarray(Image.open(io.BytesIO(state.result_png())))
    assert not np.array_equal(np.asarray(Image.open(out)), page)


@pytest.mark.parametrize(
    "changes, words",
    [
        ([{"step": 1, "field": "beta", "value": 1.0}], "step 1; it must be a step from 2 to 10"),
        ([{"step": 5, "field": "size", "value": 64}], "only alpha, beta"),
        ([{"step": 5, "field": "beta"}], 'Change 1 must be an object with "step", "field" and "value"'),
        ("all of them", '"changes" must be a list'),
        ([{"step": True, "field": "beta", "value": 1.0}], "step True"),
    ],
)
def test_bad_changes_are_refused_with_a_sentence(changes, words) -> None:
    with pytest.raises(ConfigError, match=words):
        changes_by_step(StyleConfig(steps=10), {"changes": changes})


def test_records_load_as_configs_and_bad_run_parts_are_refused() -> None:
    config = StyleConfig(beta=3e6)
    fields, run = split_record({**config.to_dict(), "run": {"steps_done": 3}})
    assert StyleConfig.from_dict(fields) == config and run == {"steps_done": 3}
    assert nstcore.config_from_bytes(json.dumps({**config.to_dict(), "run": {}}).encode()) == config
    with pytest.raises(ConfigError, match='"run" part of a record must be a JSON object'):
        split_record({**config.to_dict(), "run": [1, 2]})


def test_cli_warns_when_the_inputs_are_not_the_recorded_ones(tmp_path, capsys) -> None:
    from conftest import CONTENT, STYLE

    record = {**StyleConfig(size=32, steps=2, weights="random").to_dict(), "run": {"content_sha256": "0" * 64}}
    (tmp_path / "rec.json").write_text(json.dumps(record))
    code = cli_main([str(CONTENT), str(STYLE), "-o", str(tmp_path / "o.png"), "--config", str(tmp_path / "rec.json")])
    assert code == 0
    err = capsys.readouterr().err
    assert "warning: the content image is not the one this record was made with" in err
    assert "style image is not" not in err  # no hash recorded for it: nothing to compare


def test_a_run_stopped_early_is_replayed_to_the_step_of_its_picture(state, tmp_path) -> None:
    state.steps = 5000
    assert state.start()
    drain(state, until=lambda s, h: s.step >= 3)
    state.beta = 1e9
    seen = state.step
    drain(state, until=lambda s, h: s.step >= seen + 4)
    state.stop()
    drain(state)
    record = json.loads(Image.open(io.BytesIO(state.result_png())).info["nst-config"])
    done = record["run"]["steps_done"]
    assert record["steps"] == 5000 and done < 5000 and record["run"]["changes"][0]["step"] <= done
    (tmp_path / "stopped.png").write_bytes(state.result_png())
    out = tmp_path / "cli.png"
    assert cli_main([*_inputs(state), "-o", str(out), "--config", str(tmp_path / "stopped.png"), "--no-progress"]) == 0
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(state.result[0]))
    assert json.loads(Image.open(out).info["nst-config"])["run"]["steps_done"] == done


def test_a_run_steered_under_load_on_other_threads_is_replayed_exactly(tmp_path) -> None:
    """Issue 21's replay race: a page's server runs its jobs on its own number of torch threads (all cores), the
    CLI on torch's default, and a step's sums split differently between threads differ in their last bits, so the
    replay drifted from the page's pixels (64 px, 1 thread vs 2: up to 2 grey levels on 3 % of the pixels). The
    record now carries the run's CPU threads and the CLI replays on as many. Steered four times while other
    processes load every core, so each change lands at whatever step the loaded job has reached."""
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    state.param.update(size=64, steps=24, preview_every=0, precision="fp32")
    before = nstcore.set_cpu_threads(1)
    try:
        with cpu_load(120):
            assert state.start()
            for at, change in ((3, {"beta": 1e8}), (6, {"tv": 1e-4}), (9, {"alpha": 3.0}), (12, {"beta": 1e7})):
                drain(state, until=lambda s, h, at=at: s.step >= at)
                state.param.update(**change)
            drain(state)
        png = state.result_png()
    finally:
        nstcore.set_cpu_threads(before)
        state.close()
        state.wait(30)
    run = json.loads(Image.open(io.BytesIO(png)).info["nst-config"])["run"]
    assert run["cpu_threads"] == 1 and len(run["changes"]) == 4 and run["steps_done"] == 24
    (tmp_path / "page.png").write_bytes(png)
    inputs = [str(sample_path("content", DEFAULT_CONTENT)), str(sample_path("style", DEFAULT_STYLE))]
    made = nst(*inputs, "-o", str(tmp_path / "cli.png"), "--config", str(tmp_path / "page.png"))
    assert made.returncode == 0, made.stderr
    if (os.cpu_count() or 1) > 1:  # torch's default here is more than the page's one thread
        assert "replaying on 1 CPU threads" in made.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "cli.png")), np.asarray(Image.open(io.BytesIO(png))))


def test_recorded_threads_are_read_from_new_and_old_records() -> None:
    assert recorded_threads({"cpu_threads": 3, "device": "cpu (8 threads)"}) == 3
    assert recorded_threads({"device": "cpu (2 threads)"}) == 2  # written before cpu_threads
    assert recorded_threads({"device": "cuda (NVIDIA H200)"}) is None
    assert recorded_threads({"cpu_threads": 10**6}) is None and recorded_threads({"cpu_threads": True}) is None
    assert recorded_threads({}) is None
