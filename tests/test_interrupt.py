"""Stop inside a step: the feature network leaves a step between layers, forward and backward, once asked
(nstcore.interrupt), so a stopped job's thread returns in a fraction of a step instead of after it."""

from __future__ import annotations

import threading
import time

import pytest
import torch

import nstcore
from demo_app.jobs.job import Job
from nstcore import VGGFeatures
from tests.conftest import make_image

LAYERS = ["conv1_1", "conv3_1", "conv5_1"]


def test_forward_stops_between_layers_only_when_asked(network) -> None:
    extractor = VGGFeatures(network, LAYERS)
    image = torch.rand(1, 3, 32, 32)
    assert set(extractor(image, LAYERS)) == set(LAYERS)  # nobody asked: as before
    with nstcore.stop_when(lambda: False):
        assert set(extractor(image, LAYERS)) == set(LAYERS)
    seen = []

    def check() -> bool:
        seen.append(1)
        return len(seen) > 3  # true from the fourth layer on

    with nstcore.stop_when(check), pytest.raises(nstcore.Stopped):
        extractor(image, LAYERS)
    assert len(seen) == 4


def test_backward_stops_too(network) -> None:
    extractor = VGGFeatures(network, LAYERS)
    image = torch.rand(1, 3, 32, 32, requires_grad=True)
    stop = threading.Event()
    with nstcore.stop_when(stop.is_set):
        loss = sum(f.square().mean() for f in extractor(image, LAYERS).values())
    stop.set()  # asked after the forward pass: the backward pass notices
    with pytest.raises((nstcore.Stopped, RuntimeError), match="stopped"):
        loss.backward()


def test_a_job_stopped_mid_step_returns_in_a_fraction_of_a_step(network) -> None:
    """An L-BFGS step at 384 px takes ~20 evaluations; Stop asked just after a step begins ends the thread well
    before the step would have (measured against the job's own step time, so a slow machine is no excuse)."""
    config = nstcore.StyleConfig(size=384, steps=50, weights="random", optimizer="lbfgs", precision="fp32")
    request = nstcore.RunRequest(config, make_image(384, 288, 1), (make_image(256, 256, 2),))
    job = Job("s", lambda: request.snapshots(device="cpu", network=network), steps=50, pixels=1)
    thread = threading.Thread(target=job.execute)
    thread.start()
    try:
        elapsed = {}
        deadline = time.time() + 120
        while len(elapsed) < 2 and time.time() < deadline:
            latest = job.latest
            if latest is not None and latest.step in (2, 3):
                elapsed[latest.step] = latest.elapsed
            time.sleep(0.002)
        step_seconds = elapsed[3] - elapsed[2]  # one whole step, as this machine runs it now
        time.sleep(step_seconds * 0.1)  # now inside a step
        t = time.perf_counter()
        job.request_stop()
        thread.join(step_seconds * 5)
        took = time.perf_counter() - t
        assert not thread.is_alive() and job.state == "cancelled"
        print(f"stop took {took:.3f} s of a {step_seconds:.3f} s step")
        assert took < step_seconds * 0.35, f"stopping took {took:.2f} s; a step takes {step_seconds:.2f} s"
    finally:
        job.request_stop()
        thread.join(60)


def test_a_shutdown_inside_a_long_step_exits_cleanly() -> None:
    """SIGTERM during a long step used to end the process with SIGABRT or SIGSEGV (the job's thread was still
    inside torch when the interpreter exited); now the thread leaves the step and the process exits 0."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "tests" / "scripts" / "stop_mid_step.py")],
        cwd=root,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root), "HOME": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0 and "clean=True" in proc.stderr, (proc.returncode, proc.stderr[-2000:])


def test_the_generator_stops_between_its_blocks_forward_and_backward() -> None:
    """A training's generator (HRNet) checks between its blocks too: its passes took seconds at 384 px on one busy
    thread, and a shutdown under load gave up on the thread after 3 s (the process then aborted in the test's
    script, tests/scripts/stop_mid_step.py)."""
    from nstcore.hrnet import HRNet
    from nstcore.interrupt import Stopped

    net, x = HRNet(), torch.rand(1, 3, 32, 32)
    assert net(x).shape == x.shape  # nobody asked: as before
    with nstcore.stop_when(lambda: True), pytest.raises(Stopped):
        net(x)
    asked = [False]
    with nstcore.stop_when(lambda: asked[0]):
        out = net(x)
        asked[0] = True
        with pytest.raises(Stopped):
            out.mean().backward()
