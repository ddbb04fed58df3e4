"""The workbench in a notebook (issue 40): the page in a cell with its own state, a run shown in place, a record
replayed to the same pixels, and the example notebook executed end to end."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import drain

import nstcore
from demo_app import Workbench, show


def test_two_workbenches_keep_their_own_state_and_run() -> None:
    first, second = Workbench(weights="random", device="cpu"), Workbench(weights="random", device="cpu")
    try:
        assert first.state.backend is second.state.backend  # one network per kernel
        quick = first.state.backend.run_lengths(first.state.limits.max_size)["quick"]
        assert first.state.steps == quick["steps"]  # on Quick, as a served page
        first.state.param.update(size=32, steps=3, scales=1, preview_every=1)
        second.state.param.update(beta=1e4)
        assert first.state.beta != second.state.beta
        first.__panel__()
        assert first.state.start(), first.state.error
        deadline = time.time() + 60
        while first.state.running and time.time() < deadline:  # the clock, as the kernel's loop would call it
            first.dashboard.tick()
            time.sleep(0.05)
        assert first.state.result is not None and first.state.step == 3
        assert second.state.result is None and not second.state.running
    finally:
        first.close()
        second.close()


def test_show_follows_a_run_in_place() -> None:
    config = nstcore.StyleConfig(size=32, steps=4, weights="random", preview_every=1)
    view = show(nstcore.run(config, _image(1), _image(2), device="cpu"))
    view.thread.join(60)
    view.refresh()
    assert view.source.data["step"] == [1, 2, 3, 4] and all(v > 0 for v in view.source.data["total"])
    assert view.picture.object is not None and "Step 4 of 4" in view.status.object
    view.refresh()  # the run ended: its clock stops


def test_a_progress_bar_wraps_any_run(capsys) -> None:
    config = nstcore.StyleConfig(size=32, steps=3, weights="random")
    steps = [p.step for p in nstcore.progress_bar(nstcore.run(config, _image(1), _image(2), device="cpu"))]
    assert steps == [1, 2, 3] and "3/3" in capsys.readouterr().err


def test_a_page_runs_record_replays_to_the_same_pixels(tmp_path) -> None:
    """``nstcore.replay("result.png")``: the record names its images by SHA-256; the page's sample images are found
    by it, and the rerun (CPU, fp32) makes the same pixels, mid-run changes included."""
    bench = Workbench(weights="random", device="cpu")
    state = bench.state
    try:
        state.param.update(size=32, steps=6, scales=1, precision="fp32", preview_every=2)
        assert state.start(), state.error
        drain(state, until=lambda s, h: s.step >= 3)
        state.beta = state.beta * 10  # steered mid-run: the record keeps it at its step
        drain(state)
        png = tmp_path / "result.png"
        png.write_bytes(state.result_png())
        again = nstcore.replay(png)
        assert np.array_equal(again, state.result[0])
    finally:
        bench.close()
    with pytest.raises(ValueError, match="no content image with the record's SHA-256"):
        nstcore.replay(png, folders=[tmp_path])


def _image(seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))


def test_the_example_notebook_runs_end_to_end() -> None:
    """examples/workbench.ipynb, executed as Jupyter would (nbclient, a fresh kernel): the workbench cell outputs a
    Panel/Bokeh bundle and the engine cell's last output is a picture."""
    from pathlib import Path

    import nbclient
    import nbformat

    path = Path(__file__).resolve().parents[1] / "examples" / "workbench.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")  # saved clean
    nbclient.NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(path.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    kinds = {kind for output in outputs for kind in output.get("data", {})}
    assert any("bokeh" in kind or "holoviews" in kind for kind in kinds), kinds
    assert "image/png" in notebook.cells[-1].outputs[-1]["data"]
    assert not [o for o in outputs if o.output_type == "error"]
