"""How fast this device is, measured, and the run sizes that follow from it.

Quick and Full used to be fixed numbers tuned for one 2-core CPU (both 256 px), far too small on the GPU a workshop
server has. :func:`calibrate` times a few L-BFGS steps of the real engine (the given network, in the precision jobs
use, on synthetic 4:3 pictures) at three sizes, and a pass of four pictures against one; :class:`Calibration` fits
a step's time between and beyond them (a power law in the pixels, piece by piece), and :func:`run_lengths` picks the
largest picture each run length finishes in its time target (:class:`RunTargets`). Queue estimates start from the
same model. Nothing here is tuned for one machine: a faster device gets larger pictures by the same code.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .config import Precision, StyleConfig
from .errors import ConfigError
from .interrupt import Stopped

# Long sides measured (4:3 pictures): small enough that a 2-core CPU calibrates in seconds, far enough apart to fit.
CALIBRATION_SIDES = (64, 128, 256)
CALIBRATION_STEPS = 5  # per size: the first builds the scale's targets, the rest time a step
BATCH_SIDE, BATCH_JOBS = 128, 4  # a pass of this many pictures against as many passes of one
# A batched pass "pays" when it costs at most this share of separate passes (below it, --batch-jobs auto turns it on).
BATCH_PAYS_BELOW = 0.8
# Beyond the sizes measured, a step's time grows with pixels ** this (measured 0.82-0.91 on a 2-core CPU between 64 and
# 256 px; a GPU's fixed cost per step makes it smaller there, so it over-estimates: the safe side).
EXTRAPOLATION_EXPONENT = 0.9
ASPECT = 3 / 4  # the usual photo: what a run length's time is predicted for
SIZE_STEP = 32  # run-length sizes are multiples of this (each coarse-to-fine scale stays whole)
# What each run length runs, whatever the device (the steps a picture needs do not depend on the device's speed):
# coarse to fine in three sizes, each half the next. Quick: 20 L-BFGS steps per size, which lowered the style loss as
# far as 80 steps at one size in 1.3x their time where one pass at the full size took 2.7x (benchmarks/
# results_quick.md); L-BFGS reached the naive baseline's loss in 0.24x of its time where Adam had not reached it when
# the baseline finished (benchmarks/results_speed_epyc.md). Full: 50 per size, past the point where the style loss
# stops falling visibly on the sample images.
QUICK_PLAN = {"steps": 60, "optimizer": "lbfgs", "scales": 3}
FULL_PLAN = {"steps": 150, "optimizer": "lbfgs", "scales": 3}
SMALLEST_QUICK = 256  # a smaller result is a thumbnail on the wall (issue 23): a slow device takes longer instead
FULL_OVER_QUICK = 1.5  # Full's long side is at least this times Quick's, so Full is worth waiting for


def pixels_of(side: int, aspect: float = ASPECT) -> int:
    return side * max(1, round(side * aspect))


@dataclass(frozen=True)
class Calibration:
    """Seconds per step by output pixels (after a scale's first step), the extra seconds of a scale's first step
    (its targets), a job's seconds before its first step, and a batched pass's cost against separate ones."""

    device: str
    precision: str  # "fp32" or "bf16": what jobs on this device use
    step: Mapping[int, float]  # pixels -> seconds per step
    setup: Mapping[int, float]  # pixels -> extra seconds of a scale's first step
    startup: float
    batch_ratio: float | None  # a pass of BATCH_JOBS pictures / BATCH_JOBS passes of one; None: not measured
    seconds: float = 0.0  # how long calibrating took

    def step_seconds(self, pixels: float) -> float:
        return _fit(self.step, pixels)

    def setup_seconds(self, pixels: float) -> float:
        return _fit(self.setup, pixels)

    def plan_seconds(self, plan: Sequence[tuple[int, int]]) -> float:
        """A job's seconds from its start, for ``plan`` ((pixels, steps) per scale)."""
        return self.startup + sum(self.setup_seconds(px) + steps * self.step_seconds(px) for px, steps in plan)

    @property
    def batching_pays(self) -> bool:
        return self.batch_ratio is not None and self.batch_ratio <= BATCH_PAYS_BELOW

    def lines(self) -> list[str]:
        """The figures, one line each (the CLI prints them; /status and the host console show them)."""
        steps = ", ".join(f"{self.step[px]:.3g} s at {_side(px)} px" for px in sorted(self.step))
        batch = (
            f"a pass of {BATCH_JOBS} pictures costs {self.batch_ratio:.2f}x {BATCH_JOBS} separate passes "
            f"(batching {'pays' if self.batching_pays else 'does not pay'})"
            if self.batch_ratio is not None
            else "batching not measured"
        )
        return [
            f"{self.device}, {self.precision}: an L-BFGS step takes {steps}; a job starts in {self.startup:.2g} s",
            f"{batch}; measured in {self.seconds:.1f} s",
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "precision": self.precision,
            "step": {str(k): v for k, v in self.step.items()},
            "setup": {str(k): v for k, v in self.setup.items()},
            "startup": self.startup,
            "batch_ratio": self.batch_ratio,
            "seconds": self.seconds,
        }


def _side(pixels: int) -> int:
    return round(math.sqrt(pixels / ASPECT))


def _fit(points: Mapping[int, float], pixels: float) -> float:
    """Piecewise power law through the measured points (log-log linear between neighbours; beyond them, the
    nearest segment's slope, but at least EXTRAPOLATION_EXPONENT going up, so a big picture is never promised fast)."""
    known = sorted((px, max(s, 1e-9)) for px, s in points.items())
    if not known:
        raise ValueError("no measurements")
    pixels = max(pixels, 1.0)
    if len(known) == 1:
        px, s = known[0]
        return s * (pixels / px) ** EXTRAPOLATION_EXPONENT
    segments = list(zip(known, known[1:]))
    (p0, s0), (p1, s1) = next((seg for seg in segments if pixels <= seg[1][0]), segments[-1])
    slope = math.log(s1 / s0) / math.log(p1 / p0)
    if pixels > p1:
        return s1 * (pixels / p1) ** max(slope, EXTRAPOLATION_EXPONENT)
    return s0 * (pixels / p0) ** slope


@dataclass(frozen=True)
class RunTargets:
    """What the host asks of the run lengths (``python -m demo_app`` flags of the same names)."""

    # A newcomer's first picture, "Try an example" included: seconds to wait on this device.
    quick_seconds: float = field(default=10.0, metadata={"help": "Quick's time target in seconds on this device."})
    # The better picture: about a minute, what a room waits for while the host talks.
    full_seconds: float = field(default=60.0, metadata={"help": "Full's time target in seconds on this device."})
    # Pin a size instead of the time target (0: from the target).
    quick_size: int = field(default=0, metadata={"help": "Pin Quick's long side in px (default: from its target)."})
    full_size: int = field(default=0, metadata={"help": "Pin Full's long side in px (default: from its target)."})

    def __post_init__(self) -> None:
        for name in ("quick_seconds", "full_seconds"):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be a number of seconds above 0, got {value}.")
        for name in ("quick_size", "full_size"):
            if getattr(self, name) < 0 or 0 < getattr(self, name) < 16:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 16 px (or 0: from the target).")


def plan_of(side: int, settings: Mapping[str, Any]) -> list[tuple[int, int]]:
    """(pixels, steps) per scale of a run length at long side ``side`` on a 4:3 picture."""
    config = StyleConfig(size=side, **settings)
    return [(pixels_of(size), steps) for size, steps in config.scale_plan()]


def largest_side(
    calibration: Calibration, settings: Mapping[str, Any], seconds: float, smallest: int, largest: int
) -> int:
    """The largest multiple of SIZE_STEP in [smallest, largest] whose run of ``settings`` fits ``seconds``
    (``smallest`` when none does)."""
    best = smallest
    for side in range(smallest, largest + 1, SIZE_STEP):
        if calibration.plan_seconds(plan_of(side, settings)) <= seconds:
            best = side
    return best


def run_lengths(
    calibration: Calibration | None = None, targets: RunTargets = RunTargets(), max_size: int = 1024
) -> dict[str, dict[str, Any]]:
    """``{"quick": {...}, "full": {...}}``: the settings each run length sets, sizes from the device's speed (before
    a calibration, the sizes a 2-core CPU gets: 256 and 384 px). Full is always larger than Quick."""
    top = max(16, max_size)
    if calibration is None:
        full = targets.full_size or min(top, 384)
        quick = targets.quick_size or min(SMALLEST_QUICK, full)
    else:
        floor = min(SMALLEST_QUICK, top)
        full = targets.full_size or largest_side(calibration, FULL_PLAN, targets.full_seconds, floor, top)
        quick = targets.quick_size or largest_side(calibration, QUICK_PLAN, targets.quick_seconds, floor, top)
        if not targets.full_size:
            full = max(full, min(top, _round_up(quick * FULL_OVER_QUICK)))
        if not targets.quick_size:
            quick = min(quick, max(16, _round_down(full / FULL_OVER_QUICK)))
    return {"quick": {"size": min(quick, top), **QUICK_PLAN}, "full": {"size": min(full, top), **FULL_PLAN}}


# The default --max-size: the largest picture one Bigger pass (presets.BIGGER_RUN: 20 steps at one size) makes within
# this many times Full's target; a larger one is a long wait on one job for a shared room.
MAX_SIZE_OVER_FULL = 2.0
LARGEST_SIDE = 4096  # StyleConfig.size's own limit


def default_max_size(calibration: Calibration, targets: RunTargets, memory_side: int) -> int:
    """The largest long side a server offers when the host names none: what one Bigger pass makes within
    MAX_SIZE_OVER_FULL x Full's target, at most ``memory_side`` (what one job's memory allows), at least 1024."""
    from .presets import BIGGER_RUN

    bigger = {"optimizer": "lbfgs", **BIGGER_RUN}
    by_time = largest_side(calibration, bigger, MAX_SIZE_OVER_FULL * targets.full_seconds, 1024, LARGEST_SIDE)
    return max(1024, min(by_time, _round_down(memory_side)))


def _round_up(side: float) -> int:
    return int(math.ceil(side / SIZE_STEP) * SIZE_STEP)


def _round_down(side: float) -> int:
    return max(SIZE_STEP, int(side // SIZE_STEP * SIZE_STEP))


# -- measuring ------------------------------------------------------------------------------------------------------
Measure = Callable[[int, int], tuple[float, float, float]]  # (side, pictures) -> (startup, first step, later step)


def calibrate(
    network: Any,
    precision: Precision = "auto",
    sides: Sequence[int] = CALIBRATION_SIDES,
    measure: Measure | None = None,
    batch: bool = True,
    before_each: Callable[[], None] | None = None,
) -> Calibration:
    """Time this device: L-BFGS steps at each of ``sides`` and a batched pass, through the engine's own run with
    ``network`` (seconds on a 2-core CPU, under one on a GPU). ``measure`` replaces the timing (tests: a fake
    device); the rest is the same code path. ``before_each`` is called before each measurement: it may wait (a
    server waits while jobs run: they come first, and would skew the figures) or raise to give up; a measurement
    stopped inside (:func:`nstcore.stop_when` around this call) is made again after it."""
    from .device import describe_device, use_bf16

    began = time.perf_counter()
    device = network.device
    measure = measure or (lambda side, pictures: _time_run(network, precision, side, pictures))

    def timing(side: int, pictures: int) -> tuple[float, float, float]:
        while True:
            if before_each is not None:
                before_each()
            try:
                return measure(side, pictures)
            except Stopped:  # its owner wanted the device back (nstcore.interrupt): once before_each lets it, again
                if before_each is None:
                    raise

    step, setup, startups = {}, {}, []
    for side in sides:
        startup, first, later = timing(side, 1)
        step[pixels_of(side)], setup[pixels_of(side)] = later, max(0.0, first - later)
        startups.append(startup)
    ratio = None
    if batch:  # twice, and the less favourable: a busy machine's noise once made batching look worth it on a CPU
        ratios = []
        for _ in range(2):
            _, _, alone = timing(BATCH_SIDE, 1)
            _, _, together = timing(BATCH_SIDE, BATCH_JOBS)
            ratios.append(together / (BATCH_JOBS * alone) if alone > 0 else math.inf)
        ratio = max(ratios) if all(math.isfinite(r) for r in ratios) else None
    return Calibration(
        describe_device(device),
        "bf16" if use_bf16(precision, device) else "fp32",
        step,
        setup,
        min(startups),
        ratio,
        time.perf_counter() - began,
    )


def _time_run(network: Any, precision: Precision, side: int, pictures: int) -> tuple[float, float, float]:
    """(seconds before the first step, the first step, a later step) of a short L-BFGS run at ``side`` of
    ``pictures`` variants sharing each pass, on synthetic pictures."""
    from .request import RunRequest
    from .variants import Variant

    config = StyleConfig(
        size=side, steps=CALIBRATION_STEPS, scales=1, optimizer="lbfgs", precision=precision, preview_every=0
    )
    variants = tuple(Variant(f"{i}", config.loss_weights()) for i in range(pictures))
    request = RunRequest(config, _picture(side, 0), (_picture(side, 1),), variants=variants)
    began = time.perf_counter()
    first_at, elapsed = None, []
    for progress in request.snapshots(device=network.device, network=network):
        if first_at is None:
            first_at = time.perf_counter() - began - progress.elapsed
        elapsed.append(progress.elapsed)
    steps = sorted(b - a for a, b in zip(elapsed, elapsed[1:])) or [elapsed[0]]
    later = steps[len(steps) // 2]  # the median step: one disturbed by another process does not move it
    return max(0.0, first_at or 0.0), elapsed[0], later


def _picture(side: int, seed: int) -> Any:
    """A 4:3 picture with structure at every scale (gradients and noise), so the optimiser has work to do."""
    import numpy as np
    from PIL import Image

    height = max(1, round(side * ASPECT))
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:side]
    base = np.stack([x / side, y / height, (x + y) / (side + height)], axis=-1) * 200
    noisy = base + rng.normal(0, 25, base.shape)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
