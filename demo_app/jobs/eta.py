"""How long jobs will take, for the queue's estimates ("starts in about 40 s").

A step's cost depends on the size it runs at, and not in proportion to its pixels: at 64 px the fixed cost of a
step dominates, and the first step of every coarse-to-fine scale also builds that scale's targets. Measured in a
five-page room (benchmarks/results_queue.md), estimating from "steps left at the speed so far" or "pixel-steps left
at the speed so far" was 50-70 % too long 10 s before a start, and 3-17x too long at first. So the scheduler learns
the seconds a step takes at each size (pixels x variants) from the scales of finished jobs, and the seconds a job
spends before its first step (loading, preparing its images); a running job's time left is the sum over the scales
it has left: its own speed in the scale it is in (once it has made three steps there, leaving out the first, which
builds the scale), the learnt speed for the others.

Before any job has finished, the device's calibration (:mod:`nstcore.calibration`, measured at server start) is the
prior: a fresh server's first estimates came from nothing ("about 2 min" for a 23-s wait). Once jobs have finished,
the prior is scaled by what they measured at the nearest size (a real job's previews and the server's pages cost a
little more than the calibration's bare steps).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import nstcore

from .job import Job

SMOOTHING = 0.3  # weight of a new measurement against what was learnt (an exponential moving average)
# A step's time grows as pixels ** SIZE_EXPONENT between sizes: measured 0.82 from 64 to 256 px and 0.91 from 128 to
# 256 px (L-BFGS, VGG19, 2-core AVX-512 EPYC; benchmarks/results_quick.md). Used only where a size has not been seen.
SIZE_EXPONENT = 0.85


def _average(old: float | None, sample: float) -> float:
    return sample if old is None else (1 - SMOOTHING) * old + SMOOTHING * sample


class StepCosts:
    """Seconds per step by size, and per job before its first step, learnt from the jobs a scheduler finished."""

    def __init__(self) -> None:
        self._per_step: dict[int, float] = {}
        self._startup: float | None = None
        self.prior: nstcore.Calibration | None = None  # the device's measured speed, until jobs teach better

    @property
    def startup(self) -> float | None:
        """Seconds a job spends before its first step: learnt, else the calibration's."""
        if self._startup is None and self.prior is not None:
            return self.prior.startup
        return self._startup

    def learn(self, job: Job) -> None:
        """Take the timings of a finished job: each scale it completed, and its time before its first step."""
        marks, latest = job.marks, job.latest
        previous, step = 0.0, 0
        for pixels, steps in job.plan:
            step += steps
            if step not in marks or steps <= 0:
                break
            self._per_step[pixels] = _average(self._per_step.get(pixels), (marks[step] - previous) / steps)
            previous = marks[step]
        if latest is not None and job.finished_at and job.started_at and marks:
            self._startup = _average(self._startup, max(0.0, job.finished_at - job.started_at - latest.elapsed))

    def per_step(self, pixels: int, reach: float | None = None, steps: int = 0) -> float | None:
        """Seconds per step at ``pixels`` in a scale of ``steps`` steps (its first step builds the scale): learnt at
        that size; else the calibration, scaled by what finished jobs measured at the nearest size; else scaled from
        the nearest size learnt (only from one at most ``reach`` times larger or smaller, when given)."""
        if pixels in self._per_step:
            return self._per_step[pixels]
        nearest = min(self._per_step, key=lambda known: abs(math.log(known / pixels))) if self._per_step else None
        if self.prior is not None and pixels > 0:
            prior = self.prior

            def calibrated(size: int) -> float:  # a step, and the scale's first step's extra spread over the scale
                return prior.step_seconds(size) + prior.setup_seconds(size) / (steps or 20)

            if nearest is None:
                return calibrated(pixels)
            return calibrated(pixels) * self._per_step[nearest] / calibrated(nearest)
        if nearest is None or pixels <= 0:
            return None
        if reach is not None and max(nearest / pixels, pixels / nearest) > reach:
            return None
        return self._per_step[nearest] * (pixels / nearest) ** SIZE_EXPONENT

    def job_seconds(self, job: Job) -> float | None:
        """A job's whole time, from its start (None before anything was learnt)."""
        return self.plan_seconds(job.plan)

    def plan_seconds(self, plan: Sequence[tuple[int, int]], reach: float | None = None) -> float | None:
        """The whole time of a job of ``plan`` ((pixels, steps) per scale), from its start (None before anything
        was learnt, or with ``reach``, before a size near each scale's was)."""
        costs = [self.per_step(pixels, reach, steps) for pixels, steps in plan]
        if self.startup is None or any(cost is None for cost in costs):
            return None
        return self.startup + sum((cost or 0.0) * steps for cost, (_, steps) in zip(costs, plan))

    def remaining(self, job: Job, now: float) -> float | None:
        """Seconds until running ``job`` ends (None when neither it nor earlier jobs say yet)."""
        latest = job.latest
        if latest is None or latest.step <= 0:
            whole = self.job_seconds(job)
            return None if whole is None else max(0.0, whole - (now - job.started_at))
        total, first = 0.0, 1
        for pixels, steps in job.plan:
            last = first + steps - 1
            if latest.step < last:
                rate = self._rate(job, first, pixels, steps)
                if rate is None:
                    return None
                total += rate * (last - max(latest.step, first - 1))
            first = last + 1
        return total

    def _rate(self, job: Job, first: int, pixels: int, steps: int) -> float | None:
        """Seconds per step in the job's scale that begins at step ``first``: its own speed there once it has three
        steps in it, else the learnt one, else its own speed in a scale it has stepped in, scaled to this size (None
        before it has made two steps in one scale: the first step of a scale also builds it)."""
        latest = job.latest
        assert latest is not None
        steady = _steady_rates(job)
        if latest.step - first >= 2 and first in steady:
            return steady[first][1]
        learnt = self.per_step(pixels, steps=steps)
        if learnt is not None:
            return learnt
        if not steady:
            return None
        known_pixels, known_rate = steady[max(steady)]
        return known_rate * (pixels / known_pixels) ** SIZE_EXPONENT


def _steady_rates(job: Job) -> dict[int, tuple[int, float]]:
    """First step of each scale the job has made two steps in -> (its pixels, seconds per step after the first)."""
    latest = job.latest
    assert latest is not None
    rates, first = {}, 1
    for pixels, steps in job.plan:
        last = min(first + steps - 1, latest.step)
        until = latest.elapsed if last == latest.step else job.marks.get(last)
        if last > first and first in job.marks and until is not None:
            rates[first] = (pixels, (until - job.marks[first]) / (last - first))
        first += steps
        if first > latest.step:
            break
    return rates
