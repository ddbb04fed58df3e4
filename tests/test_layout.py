"""The page's widgets take their ranges from StyleConfig's field metadata and the server's limits, never re-typed."""

from __future__ import annotations

import dataclasses
import math
import re

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.dashboard import Dashboard


def _meta(name: str) -> dict:
    return next(f.metadata for f in dataclasses.fields(nstcore.StyleConfig) if f.name == name)


def test_widget_ranges_come_from_the_config_and_the_limits() -> None:
    limits = Limits(max_size=512, max_steps=700)
    dashboard = Dashboard(SessionState(Backend(weights="random", device_name="cpu"), limits))
    for name, slider in (
        ("alpha", dashboard.controls.alpha),
        ("beta", dashboard.controls.beta),
        ("tv", dashboard.controls.tv),
        ("lr", dashboard.controls.lr),
    ):
        meta = _meta(name)
        assert slider.slider.end == math.log10(meta["max"]), name
        assert slider.slider.start == math.log10(meta["slider_min"] or meta["min"]), name
    size = dashboard.controls.settings_wide[0]
    assert (size.start, size.end, size.step) == (_meta("size")["min"], 512, _meta("size")["step"])
    steps = next(w for w in dashboard.controls.settings_grid if "steps-input" in w.css_classes)
    assert (steps.start, steps.end) == (_meta("steps")["min"], 700)


def test_style_strength_run_length_and_running_lock_follow_the_state() -> None:
    """The newcomer's controls are views of the expert settings: the strength slider is beta/alpha on a log scale
    (from the config's metadata), Quick/Full light up only when the settings are theirs, and settings read once at
    the start of a run are locked while it goes."""
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    strength = dashboard.controls.strength.slider
    assert strength.value == 6.0 and strength.end == math.log10(_meta("beta")["max"])
    strength.value = 8.0  # the page moves it: alpha and beta change together, the ratio text follows
    assert state.alpha == 1.0 and state.beta == 1e8 and "β = 1e+08" in dashboard.controls.ratio.object
    state.param.update(alpha=2.0, beta=2e3)
    assert strength.value == 3.0
    assert dashboard.controls.run_length.value is None  # StyleConfig's defaults: neither run length
    dashboard.controls.run_length.value = "quick"
    assert (state.size, state.steps, state.optimizer, state.scales) == (256, 60, "lbfgs", 3)
    dashboard.controls.run_length.value = "full"
    full = state.backend.run_lengths(state.limits.max_size)["full"]
    assert (
        (state.size, state.steps, state.optimizer, state.scales)
        == tuple(full[k] for k in full)
        == (384, 150, "lbfgs", 3)
    )
    state.steps = 81
    assert dashboard.controls.run_length.value is None  # the user's own settings: neither
    state.running = True
    assert all(w.disabled for w in dashboard.controls.settings_grid) and not dashboard.controls.alpha.slider.greyed
    assert dashboard.run_button.disabled
    state.running = False
    assert not any(w.disabled for w in dashboard.controls.settings_grid)


def test_the_download_button_says_how_big_the_result_is() -> None:
    from conftest import drain

    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    try:
        state.param.update(size=32, steps=2, preview_every=0, precision="fp32")
        assert state.start(), state.error
        dashboard.single.started()
        drain(state)
        dashboard.single.finished()
        height, width = state.result[0].shape[:2]
        assert dashboard.single.result_download.label == f"Download result (PNG, {width} × {height} px)"
        assert max(width, height) == 32
        dashboard.single.started()  # a new run: the old size is not shown for it
        assert dashboard.single.result_download.label == "Download result (PNG)"
    finally:
        state.close()
        state.wait(30)


def test_the_comparison_table_reads_like_the_page_and_marks_what_differs() -> None:
    """Issue 24: β showed as "10,000,000.C", ratios as "a/b = 1e-04", layer lists were cut and an empty blend column
    took the width. Numbers use the page's notation (1.0e+6), α/β is a column of its own in the paper's notation
    (1×10⁻⁶, issue 38: the table said 1.0e-6, Advanced 1.0e-06 and the labels 1e-06), long text wraps, a column
    empty in every row is hidden, and the fields the variants differ in are highlighted."""
    from bokeh.models.widgets.tables import ScientificFormatter

    from demo_app.views.variants_table import differing

    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    state.load_preset("ratio")
    table = dashboard.compare.table
    frame = table.value
    assert list(frame.columns[:5]) == ["label", "alpha", "beta", "ratio", "tv"]
    assert frame["ratio"].tolist() == ["1×10⁻⁴", "1×10⁻⁵", "1×10⁻⁶", "1×10⁻⁷"]
    assert frame["label"].tolist() == [f"α/β = {r}" for r in frame["ratio"]]  # the labels say it the same way
    assert table.titles["ratio"] == "α/β" and table.titles["beta"] == "β"
    assert all(isinstance(table.formatters[n], ScientificFormatter) for n in ("alpha", "beta", "tv"))
    assert dashboard.controls.ratio.object.startswith("α/β = **1×10⁻⁶**")  # and Advanced
    assert table.formatters["style_layers"] == {"type": "textarea"}
    assert table.hidden_columns == ["style_blend"]  # one style image: no blend
    styles = differing(frame)  # what the table's Styler applies
    assert "background-color" in styles["beta"][0] and "background-color" in styles["ratio"][0]  # they differ
    assert styles["pooling"][0] == "" and styles["label"][0] == ""  # the same in every row; labels always differ
    table.value = frame.assign(alpha=[2.0] * len(frame))  # an edit through the table reaches the state
    assert [row["alpha"] for row in state.variants] == [2.0] * len(frame) and "ratio" not in state.variants[0]


def test_technical_labels_say_what_they_are() -> None:
    """Issue 24: "weighted / unweighted" and "Frame: 55" were unexplained."""
    dashboard = Dashboard(SessionState(Backend(weights="random", device_name="cpu"), Limits()))
    assert "what the optimiser minimises" in dashboard.single.chart_view.description
    assert dashboard.single.scrubber.name == "Time-lapse frame"
    assert "more photo" in dashboard.controls.strength.slider.ends and dashboard.controls.strength.slider.describe


def test_quick_and_full_show_their_time_here_once_the_server_has_measured_its_speed() -> None:
    from test_scheduler import fake_run

    from demo_app.jobs.job import Job

    backend = Backend(weights="random", device_name="cpu")
    state = SessionState(backend, Limits())
    dashboard = Dashboard(state)
    # nothing measured yet: no guess of the time, and the sizes a 2-core CPU gets
    assert list(dashboard.controls.run_length.options) == ["Quick · 256 px", "Full · 384 px"]
    tiny = Job("a page", fake_run(steps=4, step_seconds=0.01), steps=4, pixels=32 * 24, plan=[(32 * 24, 4)])
    backend.scheduler.submit(tiny)
    assert tiny.wait(10) and tiny.state == "done"
    state.running = True  # this page's own run starts and ends: the labels follow what the server learnt
    state.running = False
    assert list(dashboard.controls.run_length.options) == ["Quick · 256 px", "Full · 384 px"]  # 32 px says nothing
    plan = [(64 * 48, 4), (128 * 96, 4), (256 * 192, 4)]  # an example's Quick run, as another page ran it
    job = Job("another page", fake_run(steps=12, step_seconds=0.05), steps=12, pixels=256 * 192, plan=plan)
    backend.scheduler.submit(job)
    assert job.wait(10) and job.state == "done"
    state.running = True
    state.running = False
    quick, full = dashboard.controls.run_length.options
    assert re.fullmatch(r"Quick ~\d+ (s|min) · 256 px", quick) and re.fullmatch(r"Full ~\d+ (s|min) · 384 px", full)
    assert dashboard.controls.run_length.options[full] == "full"
    base = state.config()
    size = (4, 3)
    lengths = backend.run_lengths(state.limits.max_size)
    assert state.run.estimate(base.replace(**lengths["full"]), size) > state.run.estimate(
        base.replace(**lengths["quick"]), size
    )
    backend.scheduler.shutdown()


def test_a_ratio_past_the_strength_slider_is_not_written_back() -> None:
    """The strength slider shows beta/alpha clamped to its range. Its own move to the clamped value used to come
    back as a user's move and set beta = alpha * clamped ratio: lowering alpha changed beta behind the user's back.
    The two directions of each two-way control (views/two_way.NoEcho) no longer call each other."""
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    strength = dashboard.controls.strength.slider
    beta = _meta("beta")["max"] / 10
    state.beta = beta
    state.alpha = 1e-3  # beta/alpha is now 100x past the slider's end
    assert strength.value == strength.end
    assert (state.alpha, state.beta) == (1e-3, beta)
    assert dashboard.controls.beta.slider.value == math.log10(beta)
    strength.value = strength.end - 1  # the user's own move still sets beta from alpha
    assert state.beta == 1e-3 * 10 ** (strength.end - 1)


def test_no_echo_keeps_a_pair_of_watchers_from_calling_each_other() -> None:
    from demo_app.views.two_way import NoEcho

    calls: list[str] = []
    no_echo = NoEcho()

    def left(value: int) -> None:
        calls.append(f"left {value}")
        right_watcher(value + 1)  # what a watcher's own change would trigger

    def right(value: int) -> None:
        calls.append(f"right {value}")
        left_watcher(value + 1)

    left_watcher, right_watcher = no_echo(left), no_echo(right)
    left_watcher(1)
    right_watcher(5)
    assert calls == ["left 1", "right 5"] and not no_echo.active
