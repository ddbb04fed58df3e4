"""Stopping a job inside a step, between layers, instead of after it.

The engine's snapshot generator is stopped by closing it, which only happens between steps; one step of a 1024 px
run (or training) on a CPU takes seconds, and a thread still inside it cannot be given another job or ended cleanly
when the process stops (a process that exits while torch's threads compute aborts). So whoever iterates the
snapshots on a thread may say when it wants out: inside :func:`stop_when`, the feature network checks the given test
between its layers, forward and backward, and raises :class:`Stopped` once it is true. The engine needs no
argument for this (it runs on the caller's thread and context) and behaves as before when nobody asked.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from torch import Tensor

from .errors import NSTError

_CHECK: contextvars.ContextVar[Callable[[], bool] | None] = contextvars.ContextVar("nst_stop_check", default=None)


class Stopped(NSTError):
    """The job was stopped inside a step (its owner asked to, see :func:`stop_when`)."""

    def __init__(self) -> None:
        super().__init__("The run was stopped.")


@contextmanager
def stop_when(check: Callable[[], bool]) -> Iterator[None]:
    """Within this block (on this thread), the feature network raises :class:`Stopped` between layers once
    ``check()`` is true."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def current_check() -> Callable[[], bool] | None:
    """The stop test of the code running this (None outside :func:`stop_when`): to run another thread's work
    under it (a batch's shared pass, :mod:`nstcore.batching`)."""
    return _CHECK.get()


def stop_requested() -> bool:
    """Whether the code running this (inside :func:`stop_when`) was asked to stop: for loops that wait rather than
    compute (a job streamed from a cluster)."""
    check = _CHECK.get()
    return check is not None and check()


def checkpoint(x: Tensor, backward: bool = True) -> None:
    """Between two layers: raise :class:`Stopped` if the caller asked to stop; with ``backward``, have the backward
    pass check again when it reaches ``x`` (the check is captured: backward may run on another thread)."""
    check = _CHECK.get()
    if check is None:
        return
    if check():
        raise Stopped()
    if backward and x.requires_grad:
        x.register_hook(lambda grad: _stop_in_backward(check))


def _stop_in_backward(check: Callable[[], bool]) -> None:
    if check():
        raise Stopped()
