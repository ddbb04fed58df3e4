"""How much memory each kind of job needs: the admission gate's estimates, from measurements.

Every figure below is peak RSS growth over the process after loading the network, each kind in a process of its own
(``benchmarks/bench_memory.py``; random VGG19 weights, the 4:3 sample image, the 2-core AVX-512 EPYC), fitted as a
fixed part plus a part per pixel at 256 and 512 px, then rounded up: the gate must never admit a job that needs more
than its estimate (tests/test_memory.py holds measured peak <= estimate <= 2 x measured peak for each kind). On a GPU
the same figures stand in for device memory until ``gpu_check.py`` measures them there.
"""

from __future__ import annotations

import nstcore
from nstcore.lanes import CPU_BATCH_PIXELS  # the engine's: over it a CPU steps variants one per pass

MIB = 2**20
# A run (L-BFGS, Adam, Bigger): what one job holds besides its images (the content and style targets, the allocator's
# pools): 52-96 MiB measured.
RUN_FIXED = 100 * MIB
# Per output pixel of each image in a forward pass (activations forward and backward, fp32): 2.1-2.3 KB measured.
BYTES_PER_PIXEL = {"vgg19": 2600, "vgg16": 2300}
# What each variant holds of its own: its picture, gradient and optimiser state (6 MiB and ~250 B/px measured over 4
# variants; 12.8 MiB a cell in Figure 3's sweep at 128 px), and under L-BFGS its curvature history, which fills to
# ``lbfgs_history`` pairs of two 3-channel fp32 vectors (24 B/px a pair: +7 MiB a step at 512 px until it is full).
VARIANT_FIXED = 8 * MIB
VARIANT_BYTES_PER_PIXEL = 400
HISTORY_BYTES_PER_PIXEL_PAIR = 2 * 3 * 4
# A training (HRNet on square crops): the generator, its Adam state and the network's passes: 340 MiB and 7.4 KB/px
# measured (the audit saw +4.8 GB at 1024 px within 40 s against an estimate of 2.93 GiB).
TRAINING_FIXED = 400 * MIB
TRAINING_BYTES_PER_PIXEL = 8500
# An instant style: one generator pass without gradients: 43 MiB and 2.7 KB/px measured.
APPLY_FIXED = 64 * MIB
APPLY_BYTES_PER_PIXEL = 3300
# A time-lapse: the page's kept JPEG frames decoded (3 B per pixel) and encoded as a GIF or MP4: 5.5-5.8 B per frame
# pixel measured (262 MiB for 240 frames at 512 px).
TIMELAPSE_FIXED = 8 * MIB
TIMELAPSE_BYTES_PER_FRAME_PIXEL = 7.0


def memory_estimate(request: nstcore.RunRequest, device: str = "cpu") -> int:
    """Bytes the job of ``request`` needs on a ``device`` ("cpu", "cuda"...): a training's crops, or a run's fixed
    part, the images that share a forward pass (one at a time under L-BFGS, whose curvature history is per image,
    and on a CPU for large images; else at most ``max_batch``) and each variant's own state."""
    config = request.config
    if request.photos is not None:
        return int(TRAINING_FIXED + config.size * config.size * TRAINING_BYTES_PER_PIXEL)
    width, height = request.content.size
    scale = config.size / max(width, height, 1)
    pixels = width * height * scale * scale
    variants = len(request.variants or ()) or 1
    apart = request.max_batch is None and device == "cpu" and pixels > CPU_BATCH_PIXELS
    together = 1 if config.optimizer == "lbfgs" or apart else min(variants, request.max_batch or variants)
    own = VARIANT_BYTES_PER_PIXEL
    if config.optimizer == "lbfgs":
        own += config.lbfgs_history * HISTORY_BYTES_PER_PIXEL_PAIR
    per_pass = pixels * BYTES_PER_PIXEL.get(config.model, 2600)
    return int(RUN_FIXED + together * per_pass + variants * (VARIANT_FIXED + pixels * own))


def apply_estimate(content_size: tuple[int, int], size: int) -> int:
    """Bytes an instant style needs: one generator pass at ``size`` px on a picture of ``content_size``."""
    width, height = nstcore.target_size(*content_size, size)
    return int(APPLY_FIXED + width * height * APPLY_BYTES_PER_PIXEL)


def timelapse_estimate(frames: int, width: int, height: int) -> int:
    """Bytes encoding a time-lapse of ``frames`` frames of ``width`` x ``height`` needs."""
    return int(TIMELAPSE_FIXED + frames * width * height * TIMELAPSE_BYTES_PER_FRAME_PIXEL)


def largest_batch(request: nstcore.RunRequest, budget_bytes: float, device: str = "cpu") -> int:
    """The most variants of ``request`` one forward pass may take within ``budget_bytes`` (at least 1)."""
    variants = len(request.variants or ()) or 1
    for batch in range(variants, 1, -1):
        if memory_estimate(request.replace(max_batch=batch), device) <= budget_bytes:
            return batch
    return 1


def largest_side_in_memory(max_job_gb: float, model: str = "vgg19") -> int:
    """The long side of the largest 4:3 picture whose run (L-BFGS, the default) the memory estimate lets through
    ``max_job_gb``."""
    per_pixel = BYTES_PER_PIXEL.get(model, 2600) + VARIANT_BYTES_PER_PIXEL + 20 * HISTORY_BYTES_PER_PIXEL_PAIR
    pixels = max(0.0, max_job_gb * 2**30 - RUN_FIXED - VARIANT_FIXED) / per_pixel
    return int((pixels / 0.75) ** 0.5)
