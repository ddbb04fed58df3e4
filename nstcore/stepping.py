"""The step loop, written once for a run (:mod:`.engine`, once per scale) and a generator training
(:mod:`.training`): :func:`snapshots` steps the lanes and yields a :class:`~nstcore.progress.Progress` after each step.

Before each step but a scale's first, the loop reads its :class:`~nstcore.controls.Controls` and, if anything moved
since the last read, applies it to every lane (:func:`~nstcore.lanes.steer`); the version it read is what the
step's snapshot reports (``Progress.controls_version``: where a steered change took effect, for records). A step
carries pictures at the last step, at a scale's last step, every ``preview_every`` steps, and when a consumer asked
for one (``Controls.request_image``; asked once, answered once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from torch import Tensor

from .controls import Controls, ControlsState
from .lanes import Lane, in_order, sharing, steer, step_lanes
from .objective import losses_from_row
from .progress import Progress

# A step's pictures in variant order, and a generator's weights with them (None for a pixel run).
Pictures = Callable[[], tuple[tuple[np.ndarray, ...], tuple[dict[str, Any], ...] | None]]


class ControlsReader:
    """The loop's view of its controls: the state it last read and applied."""

    def __init__(self, controls: Controls) -> None:
        self.controls = controls
        self.state: ControlsState = controls.read()

    @property
    def version(self) -> int:
        """The version the next snapshot reports (the one its step ran with)."""
        return self.state.version

    def refresh(self, lanes: Sequence[Lane], batch: int) -> None:
        """Before a step: read the controls, and apply them to ``lanes`` if they changed since the last read."""
        state = self.controls.read()
        if state.version != self.state.version:
            steer(lanes, state, batch)
        self.state = state

    def restart(self) -> ControlsState:
        """A new scale builds its lanes from the controls as they are now (they may have moved during the last step
        of the previous one): read them afresh, to build from."""
        self.state = self.controls.read()
        return self.state


def wants_image(step: int, steps: int, preview_every: int, controls: Controls, end_of_scale: bool = False) -> bool:
    """Whether ``step`` carries pictures; a consumer's request is taken only when nothing else asks for one."""
    return (
        step == steps
        or end_of_scale
        or (preview_every > 0 and step % preview_every == 0)
        or controls.take_image_request()
    )


@dataclass(frozen=True)
class Loop:
    """What every step of one run or training reports against, whichever scale it is in."""

    controls: Controls
    reader: ControlsReader
    total_steps: int
    preview_every: int
    labels: tuple[str, ...]  # one per variant; a training's one generator has none
    notes: tuple[str, ...]
    start: float = field(default_factory=time.perf_counter)

    @property
    def variants(self) -> int:
        return max(1, len(self.labels))

    def with_notes(self, more: tuple[str, ...]) -> Loop:
        return replace(self, notes=self.notes + more) if more else self


def snapshots(
    loop: Loop,
    lanes: Sequence[Lane],
    steps: range,
    *,
    size: int,
    style_count: int,
    pictures: Pictures,
    taken: Sequence[Tensor] | None = None,
    before: Callable[[int], None] | None = None,
) -> Generator[Progress, None, None]:
    """Step ``lanes`` through ``steps`` (the run's step numbers), a snapshot after each. ``taken``: the terms of the
    first step, already taken (a scale's lanes take it when they are built, to find the batch that fits);
    ``before(step)`` runs before each step the loop takes (a training's next crop). The controls are read before
    every step but the run's first; the pictures come when :func:`wants_image` says."""
    names_c, names_s = lanes[0].objective.content_names, lanes[0].objective.style_names
    terms: Sequence[Tensor]
    for step in steps:
        if taken is None:
            if before is not None:
                before(step)
            if step > 1:
                loop.reader.refresh(lanes, loop.variants)
            terms = step_lanes(lanes)
        else:
            terms, taken = taken, None
        rows = in_order(lanes, terms).tolist()  # the one device->host sync of the losses
        images, trained = None, None
        if wants_image(step, loop.total_steps, loop.preview_every, loop.controls, end_of_scale=step == steps[-1]):
            images, trained = pictures()
        yield Progress(
            trained=trained,
            step=step,
            total_steps=loop.total_steps,
            losses=tuple(losses_from_row(row, names_c, names_s, style_count) for row in rows),
            elapsed=time.perf_counter() - loop.start,
            images=images,
            labels=loop.labels,
            notes=loop.notes,
            size=size,
            controls_version=loop.reader.version,
            shared=sharing(),
        )
