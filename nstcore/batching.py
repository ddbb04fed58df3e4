"""Jobs that step together: several visitors' runs in one forward and one backward pass (cross-session batching).

A workshop's GPU spends a 256-px step of one run mostly waiting; the room's runs fill it only when they share the
passes. A :class:`Batch` is a meeting point for the threads of jobs that run at once: each job's thread joins it
(:meth:`Batch.joined`) and runs its engine generator as always; every lane step goes through the batch
(:func:`nstcore.lanes.step_lanes`). A *round* forms when every member that stepped in the last round has asked for
its next step, or when the first request of the round has waited ``window`` (at most half the last pass): one thread
(the leader) then steps the round's lanes, one forward and one backward pass per group of lanes with the same shape,
network, pooling and precision (:attr:`PixelLane.batch_key`).

A round waits only for members that are stepping. One that has just joined (still setting up: its targets, a style
image at 4x scale), or that missed a round (a new scale's targets, a picture), is not waited for until it asks again
and steps; it then joins the next round. So a member that restarts, changes scale or is slow between steps costs the
others at most one round's wait, once. Before, every round waited for it until the window ran out: a member stopping
or failing and restarting five times made the rounds of the two jobs beside it wait 1.1 s in all, about six passes;
now they wait for nothing (benchmarks/bench_churn.py, results_batch.md).

Each lane keeps its own images, targets, weights and optimiser (an L-BFGS history of its own: nothing couples the
elements but the pass that computes their gradients), so a job's result is the one it gets alone, to the rounding of
batched kernels (tests/test_batching.py). Steering, stopping and failing stay per job: a job's controls are read by
its own thread, a stopped job leaves at the next round (a request of a job stopped after it asked is dropped from the
round, not stepped), and a failed shared pass is stepped again one lane at a time so an error reaches only the job it
belongs to. Jobs join and leave between any two steps.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import torch
from torch import Tensor

from .features import VGGFeatures
from .interrupt import Stopped, current_check, stop_requested, stop_when
from .lanes import CPU_BATCH_PIXELS, Lane, PixelLane, stepping_in
from .layers import layer_names


def _never() -> bool:
    return False


@dataclass(eq=False)
class _Request:
    """One member's step: its lanes, its stop test, and (once the round ran) its terms or its error."""

    lanes: list[Lane]
    check: Callable[[], bool]
    member: _Member
    taken: bool = False
    done: bool = False
    terms: list[Tensor | None] = field(default_factory=list)
    error: BaseException | None = None


class _Member:
    """One job's place in a batch; what :func:`nstcore.lanes.step_lanes` steps through."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch
        self.shared = 1
        self.stepping = False  # it took part in the last round: the next round waits for it (a while)

    def step(self, lanes: Sequence[Lane]) -> list[Tensor]:
        return self.batch._step(self, lanes)


class Batch:
    """A meeting point where the lanes of the jobs that joined it step together (see the module's text).

    ``window``: the longest a round waits for a member (seconds; the wait is also at most half the last pass).
    ``split_pixels``: on a CPU, lanes larger than this step one after the other in a round, not in one pass
    (measured slower batched, benchmarks/results_batch.md); None: always share.
    """

    def __init__(self, *, window: float = 0.25, split_pixels: int | None = CPU_BATCH_PIXELS) -> None:
        self.window = window
        self.split_pixels = split_pixels
        self._cv = threading.Condition()
        self._members: set[_Member] = set()
        self._pending: list[_Request] = []
        self._busy = False  # a round is being stepped (rounds run one at a time: one device)
        self._since: float | None = None  # when the current wait for a round began
        self._last_pass = 0.0
        self._extractors: dict[tuple[Any, ...], VGGFeatures] = {}
        self.most_shared = 1  # the most jobs one pass held so far
        self.rounds = 0
        self.short_rounds = 0  # rounds that went without a member that had stepped in the round before

    @contextlib.contextmanager
    def joined(self) -> Iterator[_Member]:
        """Within this block, this thread's runs step in the batch's rounds."""
        member = _Member(self)
        with self._cv:
            self._members.add(member)
        try:
            with stepping_in(member):
                yield member
        finally:
            with self._cv:
                self._members.discard(member)
                self._cv.notify_all()  # a round that waited for this member may go now

    # -- a member's step ----------------------------------------------------------------------------------------
    def _step(self, member: _Member, lanes: Sequence[Lane]) -> list[Tensor]:
        request = _Request(list(lanes), current_check() or _never, member)
        with self._cv:
            self._pending.append(request)
            if self._since is None:
                self._since = time.monotonic()
            self._cv.notify_all()
            round_ = self._wait(request)
        if round_ is not None:  # this thread leads the round
            started = time.monotonic()
            try:
                self._run(round_)
            finally:
                with self._cv:
                    self._last_pass = time.monotonic() - started
                    self._busy = False
                    self._since = time.monotonic() if self._pending else None
                    for each in round_:
                        each.done = True
                    self._cv.notify_all()
        if request.error is not None:
            raise request.error
        return [terms for terms in request.terms if terms is not None]

    def _wait(self, request: _Request) -> list[_Request] | None:
        """Under the lock: wait until ``request`` is stepped by another thread (None) or this thread should lead a
        round (the round's requests)."""
        while not request.done:
            if not request.taken:
                if stop_requested():
                    self._pending.remove(request)
                    if not self._pending:
                        self._since = None
                    raise Stopped()
                if not self._busy:
                    waited = time.monotonic() - (self._since or 0.0)
                    patience = min(self.window, 0.5 * self._last_pass) if self._last_pass else self.window
                    asking = {id(each.member) for each in self._pending}
                    missing = sum(1 for m in self._members if m.stepping and id(m) not in asking)
                    if not missing or waited >= patience:
                        return self._form_round(missing)
                    self._cv.wait(max(0.001, min(0.05, patience - waited)))
                    continue
            self._cv.wait(0.05)
        return None

    def _form_round(self, missing: int) -> list[_Request]:
        """Under the lock: the pending requests become a round; its members are the ones the next round waits for."""
        round_, self._pending = self._pending, []
        in_round = {id(each.member) for each in round_}
        for member in self._members:
            member.stepping = id(member) in in_round
        for each in round_:
            each.taken = True
        self._busy, self._since = True, None
        self.rounds += 1
        self.short_rounds += bool(missing)
        return round_

    # -- the leader's round -------------------------------------------------------------------------------------
    def _run(self, round_: list[_Request]) -> None:
        """Step every lane of the round: lanes with equal keys in one pass, the others alone. A request whose job
        was stopped since it asked is not stepped: it gets :class:`Stopped` and leaves the pass to the others."""
        for request in round_:
            if request.check():
                request.error = Stopped()
        round_ = [request for request in round_ if request.error is None]
        groups: dict[Any, list[tuple[_Request, int]]] = {}
        for request in round_:
            request.terms = [None] * len(request.lanes)
            for index, lane in enumerate(request.lanes):
                key = self._key(lane)
                groups.setdefault(key if key is not None else ("alone", id(lane)), []).append((request, index))
        for request in round_:
            request.member.shared = 1
        for entries in groups.values():
            jobs = len({id(request) for request, _ in entries})
            for request, _ in entries:
                request.member.shared = max(request.member.shared, jobs)
            self.most_shared = max(self.most_shared, jobs)
            if len(entries) > 1:
                self._together(entries)
            else:
                self._alone(entries)

    def _key(self, lane: Lane) -> tuple[Any, ...] | None:
        if not isinstance(lane, PixelLane) or lane.batch_key is None:
            return None
        height, width = lane.image.shape[-2:]
        if self.split_pixels is not None and lane.device_type == "cpu" and height * width > self.split_pixels:
            return None
        return lane.batch_key

    def _together(self, entries: list[tuple[_Request, int]]) -> None:
        """One forward and one backward pass for the entries' lanes; if the pass fails, each lane alone (so the
        error reaches only the jobs it belongs to)."""
        lanes = [cast(PixelLane, request.lanes[index]) for request, index in entries]  # only these have keys
        checks = [request.check for request, _ in entries]
        try:
            with stop_when(lambda: all(check() for check in checks)):
                _shared_pass(lanes, self._extractor(lanes[0]))
        except BaseException:  # noqa: BLE001 - stepped again alone below, where the error finds its owner
            self._alone(entries)
            return
        for (request, index), lane in zip(entries, lanes):
            if request.error is not None:
                continue
            try:
                request.terms[index] = lane.finish()
            except BaseException as exc:  # noqa: BLE001 - one job's failure is its own
                request.error = exc

    def _alone(self, entries: list[tuple[_Request, int]]) -> None:
        for request, index in entries:
            if request.error is not None:
                continue
            try:
                with stop_when(request.check):
                    request.terms[index] = request.lanes[index].step()
            except BaseException as exc:  # noqa: BLE001 - one job's failure is its own
                request.error = exc

    def _extractor(self, lane: PixelLane) -> VGGFeatures:
        """One extractor per network and pooling, able to tap every layer (a pass stops at the deepest asked for)."""
        key = (id(lane.network), lane.pooling, lane.objective.extractor.channels_last)
        if key not in self._extractors:
            names = layer_names(lane.network.model)
            channels_last = lane.objective.extractor.channels_last
            self._extractors[key] = VGGFeatures(lane.network, names, lane.pooling, channels_last=channels_last)
        return self._extractors[key]


def _shared_pass(lanes: Sequence[PixelLane], extractor: VGGFeatures) -> None:
    """The lanes' images through one forward pass, each lane's objective on its slice, one backward pass: every
    lane's gradient in place for :meth:`PixelLane.finish`."""
    for lane in lanes:
        lane.begin()
    names = sorted({name for lane in lanes for name in lane.objective.needed()})
    with lanes[0].autocast():
        responses = extractor(torch.cat([lane.image for lane in lanes]), names)
    totals = []
    offset = 0
    for lane in lanes:
        size = lane.image.shape[0]
        own = {name: responses[name][offset : offset + size] for name in lane.objective.needed()}
        totals.append(lane.evaluate(own))
        offset += size
    torch.stack(totals).sum().backward()
