"""Lanes: slices of a run's variants that share one forward/backward pass, each with its own image and optimiser.

One lane holds the whole batch when it fits; the batch is split in halves on out-of-memory until it does, and on the
CPU large images run one variant per lane because that measured faster (benchmarks/results_batch.md). A lane also
keeps L-BFGS usable at this loss scale (loss scaling, tolerances 0, the blow-up guard).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from .config import LossWeights, StyleConfig
from .controls import ControlsState
from .features import Network, VGGFeatures
from .objective import Objective

# Measured (benchmarks/results_batch.md, 2 cores, bf16 channels-last): on the CPU a batch of variants is 1.27-1.46x
# faster than separate passes at 128x128, but 0.59-0.90x at 256x256, where one image already keeps every core busy
# and a batch only adds memory traffic. Above this many pixels the CPU path steps variants one per
# pass (still one run, one snapshot per step).
CPU_BATCH_PIXELS = 160 * 160


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the RuntimeError MPS and older CUDA builds raise."""
    return isinstance(exc, torch.cuda.OutOfMemoryError) or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
    )


@dataclass(frozen=True)
class Targets:
    """What the lanes of one scale (and colour mode) are measured against: the network, the content and style
    pictures (and masks) at that scale, the layers, each variant's pooling, the precision. One value for every lane,
    pixel or generator, instead of the same nine arguments handed on by hand."""

    config: StyleConfig
    network: Network
    content: Tensor
    styles: Sequence[Tensor]
    content_names: list[str]
    style_names: list[str]
    poolings: list[str]  # one per variant of the run, indexed by a lane's indices
    bf16: bool
    masks: Sequence[Tensor] | None = None

    def objective(self, indices: Sequence[int]) -> Objective:
        """The objective of a lane holding the variants ``indices`` (one target per variant when their poolings
        differ, since the targets' features then differ too)."""
        pools = [self.poolings[i] for i in indices]
        names = [*self.content_names, *self.style_names]
        extractor = VGGFeatures(self.network, names, pools if len(set(pools)) > 1 else pools[0])
        content, styles = self.content, list(self.styles)
        if extractor.mixed:
            content = content.expand(len(indices), -1, -1, -1)
            styles = [t.expand(len(indices), -1, -1, -1) for t in styles]
        return Objective(
            extractor, content, styles, self.content_names, self.style_names, self.config.loss_norm, masks=self.masks
        )


class Lane(Protocol):
    """What the step loops (:mod:`.stepping`, :mod:`.engine`, :mod:`.training`) need of a lane: the variants it
    holds, its picture, its objective, new weights, and one step. :class:`PixelLane` optimises pixels;
    :class:`~nstcore.generator.GeneratorLane` a generator network's weights."""

    indices: list[int]
    objective: Objective

    @property
    def image(self) -> Tensor: ...

    def set_controls(self, variants: Sequence[LossWeights], lr: float) -> None: ...

    def step(self) -> Tensor:
        """One objective evaluation and update: the (b, 2T) weighted then raw terms of the evaluated picture."""
        ...


class Joint(Protocol):
    """Where a job's lanes step when it shares passes with other jobs (:class:`nstcore.batching.Batch`)."""

    shared: int  # how many jobs' lanes the last pass held

    def step(self, lanes: Sequence[Lane]) -> list[Tensor]: ...


_JOINT: contextvars.ContextVar[Joint | None] = contextvars.ContextVar("nst_joint", default=None)


@contextmanager
def stepping_in(joint: Joint) -> Iterator[None]:
    """Within this block (on this thread), the step loops step their lanes through ``joint``."""
    token = _JOINT.set(joint)
    try:
        yield
    finally:
        _JOINT.reset(token)


def step_lanes(lanes: Sequence[Lane]) -> list[Tensor]:
    """One step of every lane: alone, or in the passes of the batch this thread's job joined."""
    joint = _JOINT.get()
    if joint is None:
        return [lane.step() for lane in lanes]
    return joint.step(lanes)


def sharing() -> int:
    """How many jobs shared this thread's last step (1 outside a batch)."""
    joint = _JOINT.get()
    return 1 if joint is None else joint.shared


class PixelLane:
    """A slice of the variants that shares one forward/backward pass, with its own image and optimiser."""

    def __init__(self, indices: list[int], targets: Targets, start: Tensor, lr: float) -> None:
        config = targets.config
        self.indices = indices
        self.network = targets.network
        self.device_type = targets.network.device.type
        self.bf16 = targets.bf16
        self.pooling = targets.poolings[indices[0]]
        self.objective = targets.objective(indices)
        self.image = start[indices].clone().requires_grad_(True)
        self.lbfgs = config.optimizer == "lbfgs"
        if not self.lbfgs:
            self.optimizer: torch.optim.Optimizer = torch.optim.Adam([self.image], lr=lr)
        else:
            # max_iter=1: every .step() is exactly one objective evaluation, so a "step" means the same for both
            # optimisers; the curvature history lives in the optimiser state across calls. Tolerances 0: the step
            # budget (or the person watching) decides when to stop; torch's absolute defaults (gradient 1e-7,
            # change 1e-9) froze a 256 px image after ~90 steps while every later step still paid for an evaluation.
            self.optimizer = torch.optim.LBFGS(
                [self.image],
                lr=lr,
                max_iter=1,
                history_size=config.lbfgs_history,
                tolerance_grad=0.0,
                tolerance_change=0.0,
            )
        # L-BFGS sees the loss times the number of pixel values: the "mean" losses give per-pixel gradients of
        # ~1e-7, where torch's fixed threshold for keeping a curvature pair (y.s > 1e-10) drops most pairs and the
        # method degrades to plain gradient steps. (Adam is scale-free; it sees the loss as it is.)
        self.loss_scale = float(self.image[0].numel()) if self.lbfgs else 1.0
        self._accepted: tuple[float, Tensor, Tensor] | None = None  # L-BFGS: last point that was no blow-up
        self._undone = 0  # L-BFGS steps undone in a row
        self._evaluated: Tensor | None = None  # this step's: see begin, evaluate, finish
        self._total = self._terms = torch.zeros(0)

    def autocast(self) -> torch.autocast:
        """bf16 convolutions where enabled; Gram matrices and losses upcast to fp32 in nstcore.losses."""
        return torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.bf16)

    def set_controls(self, variants: Sequence[LossWeights], lr: float) -> None:
        with self.autocast():  # new targets in the same arithmetic as the image's features (content loss 0 at init)
            self.objective.set_weights([variants[i] for i in self.indices], self.image.device)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.lbfgs:  # a new objective: old curvature pairs and the old loss level no longer describe it
            self.optimizer.state.clear()
            self._accepted = None

    def step(self) -> Tensor:
        """One objective evaluation and update; returns the (b, 2T) terms at the evaluated image: the weighted ones,
        then the raw ones (:meth:`Objective.evaluate`)."""
        self.begin()
        self.evaluate().backward()
        return self.finish()

    # A step in three parts, so that lanes of several jobs can share the forward and backward pass between them
    # (nstcore.batching): begin, evaluate (from shared responses), one backward over all, finish. Each lane keeps
    # its own optimiser, so its step is the one it would take alone.
    @property
    def batch_key(self) -> tuple[Any, ...] | None:
        """Lanes with equal keys may share one forward pass (None: this one steps alone)."""
        if self.objective.extractor.mixed:
            return None
        extractor = self.objective.extractor
        return (id(self.network), self.pooling, self.bf16, extractor.channels_last, tuple(self.image.shape[1:]))

    def begin(self) -> None:
        """Before the evaluation: gradients cleared; under L-BFGS the evaluated image kept for the blow-up guard."""
        self.optimizer.zero_grad(set_to_none=True)
        self._evaluated = self.image.detach().clone() if self.lbfgs else None

    def evaluate(self, responses: dict[str, Tensor] | None = None) -> Tensor:
        """The objective at the lane's image (from ``responses`` of a shared pass, or its own); returns what to
        differentiate (scaled for L-BFGS)."""
        with self.autocast():
            total, weighted, raw = self.objective.evaluate(self.image, responses)
        self._total = total.detach()
        self._terms = torch.cat([weighted, raw], dim=1)
        return total * self.loss_scale if self.lbfgs else total

    def finish(self) -> Tensor:
        """After the backward pass: the optimiser's update (gradients are in place), clamping, the guard."""
        total = self._total
        self.optimizer.step(lambda: total)  # type: ignore[arg-type,return-value]  # torch's stub says float; L-BFGS takes a Tensor
        with torch.no_grad():
            self.image.clamp_(0.0, 1.0)
            if self._evaluated is not None:
                return self._guard(self._terms, self._evaluated)
        return self._terms

    def _guard(self, terms: Tensor, evaluated: Tensor) -> Tensor:
        """Undo an L-BFGS step that blew up; returns the terms that belong to the image the lane now holds.

        Without a line search (one evaluation per step) and with clamping to [0, 1], L-BFGS now and then steps far
        past the minimum along its direction: at 256 px the loss jumped up to 1000x every ~50 steps and took dozens
        of steps to come back. When an evaluation comes out above twice the last good one, the image goes back to
        that point. The curvature pair that the bad step produced stays in the history (it is what makes the next
        direction shorter), and ``d`` is zeroed so the jump back is not learnt as a step; after three undone steps
        in a row the history starts afresh. Such a step reports the losses of the point it went back to (which is also
        the image it yields), not those of the blow-up. Measured: benchmarks/results_ablation.md.
        """
        loss = float(terms[:, : terms.shape[1] // 2].sum())  # the weighted half: what the optimiser minimises
        if self._accepted is None or loss <= 2.0 * self._accepted[0]:
            self._accepted = (loss, evaluated, terms)
            self._undone = 0
            return terms
        _, image, good_terms = self._accepted
        self.image.copy_(image)
        self._undone += 1
        state = self.optimizer.state[self.image]
        if self._undone >= 3 or "d" not in state:
            self.optimizer.state.clear()
            self._undone = 0
        else:
            state["d"].zero_()  # the next curvature pair has s = 0 and is skipped
        return good_terms


def build_lanes(
    targets: Targets, start_image: Tensor, state: ControlsState, chunk: int, indices: Sequence[int] | None = None
) -> tuple[list[PixelLane], list[Tensor], int]:
    """Lanes of up to ``chunk`` of the variants ``indices`` (default: all) and their first step; halves ``chunk`` on
    out-of-memory until it fits."""
    members = list(range(start_image.shape[0]) if indices is None else indices)
    while True:
        lanes = []
        try:
            for first in range(0, len(members), chunk):
                lane = PixelLane(members[first : first + chunk], targets, start_image, state.lr)
                lane.set_controls(state.variants, state.lr)
                lanes.append(lane)
            return lanes, step_lanes(lanes), chunk
        except Exception as exc:
            if not is_out_of_memory(exc) or chunk == 1:
                raise
            del lanes
            if targets.network.device.type == "cuda":
                torch.cuda.empty_cache()
            chunk = (chunk + 1) // 2


def in_order(lanes: Sequence[Lane], parts: Sequence[Tensor]) -> Tensor:
    """One tensor per lane (images or loss rows) joined in variant order (lanes of different colour modes may hold
    variants that are not neighbours)."""
    joined = parts[0] if len(parts) == 1 else torch.cat(list(parts))
    order = [i for lane in lanes for i in lane.indices]
    if order == sorted(order):
        return joined
    return joined[torch.tensor(sorted(range(len(order)), key=order.__getitem__), device=joined.device)]


def split_note(
    batch: int, lanes: Sequence[Lane], auto: bool, max_batch: int | None, per_variant: bool = False
) -> tuple[str, ...]:
    """A sentence when the variants do not share one pass, saying why (for Progress.notes)."""
    lane_size = max(len(lane.indices) for lane in lanes)
    if lane_size >= batch:
        return ()
    if per_variant:
        why = "(L-BFGS keeps one curvature history per image, so variants cannot share its steps)"
    elif auto and lane_size == 1:
        why = "(on the CPU, images this large run faster one per pass; see benchmarks/results_batch.md)"
    elif max_batch and lane_size == max_batch:
        why = "to stay within max_batch"
    else:
        why = "to fit in the device's memory"
    return (f"{batch} variants run as {len(lanes)} batches of up to {lane_size} {why}.",)


def steer(lanes: Sequence[Lane], state: ControlsState, batch: int) -> None:
    """Apply controls that changed mid-run (weights, layers, lr) to every lane before its next step."""
    if len(state.variants) != batch:
        from .errors import ConfigError

        raise ConfigError("The number of variants cannot change during a run.")
    for lane in lanes:
        lane.set_controls(state.variants, state.lr)
