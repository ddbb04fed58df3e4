"""The engine on a GPU: run by ``python benchmarks/gpu_check.py`` (``pytest -m gpu``; ``NST_TEST_DEVICE`` names the
device, by default the GPU where there is one, else the CPU).

Left out of the ordinary suite (``-m "not gpu"`` in pyproject.toml): on a machine without a GPU,
``gpu_check.py --dry-run`` runs these same tests on the CPU at tiny sizes, and the suite runs that dry run
(tests/test_benchmarks.py), so they are proven to work before a GPU is ever lent.

Tolerances, stated: a GPU's kernels round differently from the CPU's (cuDNN's convolutions use TF32 by default on
Ampere and later), and an optimiser carries that on, so the comparison uses Adam (no line of curvature pairs to
amplify it) over ten steps: every step's total loss within 2 % of the CPU's in fp32 and 10 % in bf16, the pictures
within 3 (fp32) or 8 (bf16) grey levels on average.
"""

from __future__ import annotations

import gc
import os
import threading

import numpy as np
import pytest
import torch
from conftest import make_image

import nstcore
from demo_app.jobs.job import Job
from nstcore.batching import Batch

pytestmark = pytest.mark.gpu

DEVICE = torch.device(os.environ.get("NST_TEST_DEVICE") or ("cuda" if torch.cuda.is_available() else "cpu"))
SIZE = int(os.environ.get("NST_TEST_SIZE", "64"))
TOLERANCE = {"fp32": (0.02, 3.0), "bf16": (0.10, 8.0)}  # (loss, relative; picture, mean grey levels)


@pytest.fixture(scope="module")
def networks() -> tuple[nstcore.Network, nstcore.Network]:
    if DEVICE.type == "cuda" and not torch.cuda.is_available():
        raise AssertionError("NST_TEST_DEVICE=cuda but torch sees no GPU; run gpu_check.py --dry-run instead.")
    return nstcore.load_network("vgg19", "random", DEVICE), nstcore.load_network("vgg19", "random", "cpu")


def config(**changes) -> nstcore.StyleConfig:
    base = nstcore.StyleConfig(size=SIZE, steps=10, weights="random", optimizer="adam", preview_every=0)
    return base.replace(**changes)


def images() -> tuple:
    return make_image(SIZE, SIZE * 3 // 4, 1), make_image(SIZE, SIZE, 2)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_the_engine_on_the_device_matches_the_cpu(networks, precision) -> None:
    device_net, cpu_net = networks
    content, style = images()
    on_device = list(nstcore.run(config(precision=precision), content, style, network=device_net))
    on_cpu = list(nstcore.run(config(precision="fp32"), content, style, network=cpu_net))
    assert device_net.device.type == DEVICE.type
    if DEVICE.type != "mps":  # channels-last where the device prefers it (nstcore.device.prefers_channels_last)
        weight = next(p for p in device_net.features.parameters() if p.dim() == 4)
        assert weight.is_contiguous(memory_format=torch.channels_last)
    loss_tolerance, grey = TOLERANCE[precision]
    for mine, reference in zip(on_device, on_cpu):
        assert mine.loss.total == pytest.approx(reference.loss.total, rel=loss_tolerance), mine.step
    last, expected = on_device[-1].image, on_cpu[-1].image
    assert last is not None and expected is not None
    assert np.abs(last.astype(float) - expected.astype(float)).mean() <= grey


def test_batched_jobs_on_the_device_each_get_their_own_result(networks) -> None:
    device_net, _ = networks
    content, style = images()
    settings = [config(beta=beta, optimizer="lbfgs") for beta in (1e5, 1e6)]
    solo = [list(nstcore.run(c, content, style, network=device_net))[-1] for c in settings]
    batch, results = Batch(window=5.0), [None, None]

    def work(index: int) -> None:
        with batch.joined():
            results[index] = list(nstcore.run(settings[index], content, style, network=device_net))[-1]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert batch.most_shared == 2
    for mine, alone in zip(results, solo):
        assert mine is not None and mine.loss.total == pytest.approx(alone.loss.total, rel=1e-3)


def test_out_of_memory_ends_the_job_with_a_sentence(networks, monkeypatch) -> None:
    """On a GPU the device is really made too small for the job; on the CPU the error is raised where a GPU's
    allocator would raise it (the first convolution)."""
    device_net, _ = networks
    content, style = images()
    request = nstcore.RunRequest(config(size=512 if DEVICE.type == "cuda" else SIZE), content, (style,))
    if DEVICE.type == "cuda":
        torch.cuda.empty_cache()
        used = torch.cuda.memory_allocated(DEVICE) / torch.cuda.get_device_properties(DEVICE).total_memory
        torch.cuda.set_per_process_memory_fraction(used + 0.0005, DEVICE)
    else:
        real = torch.nn.Conv2d.forward

        def no_memory(self, x):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

        monkeypatch.setattr(torch.nn.Conv2d, "forward", no_memory)
    try:
        job = Job("s", lambda: request.snapshots(device=DEVICE, network=device_net), steps=10, pixels=1)
        job.execute()
    finally:
        if DEVICE.type == "cuda":
            torch.cuda.set_per_process_memory_fraction(1.0, DEVICE)
        else:
            monkeypatch.setattr(torch.nn.Conv2d, "forward", real)
    assert job.state == "failed"
    assert job.take().error == "The run ran out of memory on the server; try a smaller size or fewer variants."
    # ... and the next job runs.
    after = Job("s", lambda: request.snapshots(device=DEVICE, network=device_net), steps=10, pixels=1)
    after.execute()
    assert after.state == "done"


def _big_tensors() -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, torch.Tensor) and o.numel() > 10_000)


def test_a_finished_job_leaves_no_memory_behind(networks) -> None:
    device_net, _ = networks
    content, style = images()
    request = nstcore.RunRequest(config(), content, (style,))
    Job("s", lambda: request.snapshots(device=DEVICE, network=device_net), steps=10, pixels=1).execute()
    nstcore.release_memory(DEVICE)
    tensors = _big_tensors()
    allocated = torch.cuda.memory_allocated(DEVICE) if DEVICE.type == "cuda" else 0
    for _ in range(2):
        job = Job("s", lambda: request.snapshots(device=DEVICE, network=device_net), steps=10, pixels=1)
        job.execute()
        assert job.state == "done"
        nstcore.release_memory(DEVICE)
    assert _big_tensors() <= tensors
    if DEVICE.type == "cuda":
        assert torch.cuda.memory_allocated(DEVICE) <= allocated + 2**20
        assert torch.cuda.memory_reserved(DEVICE) - torch.cuda.memory_allocated(DEVICE) < 64 * 2**20
