"""Shared fixtures: tiny seeded images and random-weight networks, so the suite runs in minutes on 2 cores."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nstcore

ROOT = Path(__file__).resolve().parents[1]
CONTENT = ROOT / "assets" / "content" / "lake_house.png"
STYLE = ROOT / "assets" / "style" / "swirls.png"


def make_image(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth random colour field plus noise: enough structure for Gram matrices to mean something."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    base = np.stack([np.sin(6 * xx + seed), np.cos(5 * yy - seed), np.sin(4 * (xx + yy))], axis=-1)
    arr = (base * 0.4 + 0.5 + rng.normal(0, 0.1, (height, width, 3))) * 255
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


@pytest.fixture(scope="session")
def content_image() -> Image.Image:
    return make_image(64, 48, seed=1)


@pytest.fixture(scope="session")
def style_image() -> Image.Image:
    return make_image(64, 64, seed=2)


@pytest.fixture(scope="session")
def network() -> nstcore.Network:
    return nstcore.load_network("vgg19", "random", "cpu")


@pytest.fixture()
def tiny_config() -> nstcore.StyleConfig:
    # fp32: the equality tests compare batched and single runs to a few grey levels; bf16 has its own test. Adam:
    # the batching tests need variants that share a pass (under L-BFGS each variant has a pass of its own).
    return nstcore.StyleConfig(
        size=48, steps=30, weights="random", preview_every=10, precision="fp32", optimizer="adam"
    )


# -- helpers shared by several test modules ------------------------------------------------------------------
def drain(state, until=lambda s, h: False, timeout: float = 60.0):
    """Poll like the page's periodic callback; return all rows and frames seen."""
    rows, frames = [], []
    deadline = time.time() + timeout
    while time.time() < deadline:
        handover = state.poll()
        rows += handover.rows
        if handover.frames is not None:
            frames.append(handover.frames)
        if handover.finished or until(state, handover):
            return rows, frames
        state.request_frame()
        time.sleep(0.02)
    raise AssertionError(
        f"run did not finish in time: {state.status!r} {state.error!r} {state.run.job.state if state.run.job else None}"
    )


def nst(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m nstcore *args`` in a process of its own (forked from a server with torch imported: see
    cli_child), with its exit code, stdout and stderr."""
    from cli_child import run_cli

    return run_cli(list(args), cwd)


def nst_subprocess(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``python -m nstcore *args`` exactly as a user types it: a new interpreter (for the entry point itself)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "nstcore", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=240
    )


@contextmanager
def cpu_load(seconds: float = 120.0):
    """Every core kept busy by separate processes (each stops by itself after ``seconds``, and at the end of the
    block): a test of something that must hold on a loaded machine runs inside this."""
    code = f"import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"
    burners = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(os.cpu_count() or 1)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)


def assert_clean_failure(result: subprocess.CompletedProcess, needle: str) -> None:
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and needle in lines[-1], result.stderr


@pytest.fixture(scope="session", autouse=True)
def _no_job_threads_left_at_exit():
    """After the last test, stop every scheduler and wait for its job threads: a thread still inside a torch step
    when the interpreter exits makes the process abort ("terminate called without an active exception")."""
    yield
    import gc

    from demo_app.jobs.scheduler import Scheduler

    # type(), not isinstance(): isinstance reads __class__, which warns on torch.distributed's deprecated aliases
    for scheduler in [o for o in gc.get_objects() if type(o) is Scheduler]:
        scheduler.shutdown(timeout=10.0)


@pytest.fixture(autouse=True)
def _fresh_password_guard(monkeypatch):
    """Wrong host-password tries are counted process-wide (demo_app/server/unlock.py): each test starts with none."""
    from demo_app.server import unlock

    monkeypatch.setattr(unlock, "GUARD", unlock.PasswordGuard())


@pytest.fixture(autouse=True)
def _close_pages_left_open(request):
    """A browser test that fails leaves its pages open, and their run holds the job slot: the file's next tests
    then waited behind it and failed too, far from the cause. Closing the pages ends their sessions and runs."""
    yield
    browser = request.node.funcargs.get("browser")
    if browser is not None:
        for context in list(browser.contexts):
            context.close()
