"""What every optimisation loop does around a step, written once: a run's (:mod:`.engine`) and a generator
training's (:mod:`.training`).

Before each step but a scale's first, the loop reads its :class:`~nstcore.controls.Controls` and, if anything moved
since the last read, applies it to every lane (:func:`~nstcore.lanes.steer`); the version it read is what the
step's snapshot reports (``Progress.controls_version``: where a steered change took effect, for records). A step
carries pictures at the last step, at a scale's last step, every ``preview_every`` steps, and when a consumer asked
for one (``Controls.request_image``; asked once, answered once).
"""

from __future__ import annotations

from collections.abc import Sequence

from .controls import Controls, ControlsState
from .lanes import Lane, steer


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
