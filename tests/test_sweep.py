"""The two-way sweep in the page (issue 38): Gatys et al.'s Figure 3 (style layers down, α/β across), 20 cells
run in batches the memory limit admits, laid out under their headings, and one PNG carrying every cell's record."""

from __future__ import annotations

import io
import json

import pytest
from conftest import drain
from PIL import Image

import nstcore
from demo_app.jobs.backend import Backend
from demo_app.jobs.memory import largest_batch, memory_estimate
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.dashboard import Dashboard


@pytest.fixture(scope="module")
def backend():
    return Backend(weights="random", device_name="cpu")


def test_figure_3_runs_in_the_page_with_headings_and_every_cells_record(backend) -> None:
    state = SessionState(backend, Limits())
    dashboard = Dashboard(state)
    try:
        state.param.update(size=32, steps=2, preview_every=0, precision="fp32")
        assert state.load_sweep("style_layers", "ratio"), state.error
        rows, columns = state.sweep_shape()
        assert len(rows) == 5 and columns == ["α/β = 1×10⁻⁴", "α/β = 1×10⁻⁵", "α/β = 1×10⁻⁶", "α/β = 1×10⁻⁷"]
        assert len(state.variants) == 20 > state.limits.max_variants  # past a comparison's 8: a sweep's 20
        assert state.start_compare(), state.error
        dashboard.compare.started()
        (grid,) = dashboard.compare.grid.objects
        assert grid.ncols == 5 and len(grid.objects) == 6 * 5  # headings row and column, then the 20 cells
        assert "α/β = 1×10⁻⁴" in grid.objects[1].object and "style conv1_1" in grid.objects[5].object
        drain(state)
        assert state.error == "" and len(state.result) == 20
        png = state.grid_png()
        record = json.loads(nstcore.config_text_from_png(png))
        cells, sweep = record["run"]["cells"], record["run"]["sweep"]
        assert len(cells) == 20 and sweep["rows"] == "style_layers" and sweep["columns"] == "ratio"
        assert cells[7]["config"]["beta"] == pytest.approx(1e7) and len(cells[7]["config"]["style_layers"]) == 2
        assert nstcore.config_from_bytes(png).size == 32  # loaded as a config: what every cell had in common
        width, height = Image.open(io.BytesIO(png)).size
        assert width > 4 * 128 and height > 5 * 96  # a table of 5 rows by 4 columns, with headings
        state.add_variant()  # a row more: a comparison again, held to its own limit
        assert state.sweep == {} and state.sweep_shape() is None
        assert not state.start_compare() and "2 to 8 variants" in state.error
    finally:
        state.close()
        state.wait(30)


def test_a_sweep_that_does_not_fit_one_pass_runs_in_batches_the_gate_admits(backend) -> None:
    """Adam steps a pass's variants together (on a GPU; a CPU steps large images one per pass): 20 cells at 256 px in
    one pass are over a 1-GiB limit by the gate's estimate, so the job goes in the largest batches under it instead
    of being refused."""
    state = SessionState(backend, Limits(max_job_gb=1.0))
    try:
        state.param.update(size=256, steps=1, optimizer="adam", preview_every=0)
        assert state.load_sweep("style_layers", "ratio"), state.error
        assert state.start_compare(), state.error  # on this CPU: one cell per pass, under 1 GiB
        request = state.run.request
        assert request is not None and request.max_batch is None and memory_estimate(request) <= 2**30
    finally:
        state.stop()
        state.close()
        state.wait(60)
    on_gpu = request.replace(max_batch=None)
    assert memory_estimate(on_gpu, "cuda") > 2**30
    batch = largest_batch(on_gpu, 2**30, "cuda")
    assert 1 < batch < 20
    assert memory_estimate(on_gpu.replace(max_batch=batch), "cuda") <= 2**30
    assert memory_estimate(on_gpu.replace(max_batch=batch + 1), "cuda") > 2**30
    refused = SessionState(backend, Limits(max_job_gb=0.01))  # not even one cell fits: refused with a sentence
    try:
        refused.param.update(size=256, steps=1, optimizer="adam")
        assert refused.load_sweep("style_layers", "ratio")
        assert not refused.start_compare() and "GB of memory" in refused.error
    finally:
        refused.close()


def test_two_presets_that_cannot_be_crossed_say_why(backend) -> None:
    state = SessionState(backend, Limits())
    try:
        assert not state.load_sweep("ratio", "style_layers")  # 4 rows by 5 columns: over 4 columns
        assert "at most 5 rows and 4 columns" in state.error and state.sweep == {}
        assert not state.load_sweep("ratio", "ratio") and "two different presets" in state.error
    finally:
        state.close()
