"""Where a new job joins the queue: visitors take turns, so one visitor's several jobs do not all go first.

With ``--max-jobs-per-client`` above 1, a visitor who queued three runs before a newcomer made the newcomer wait for
all three. Each queued job has a round: how many jobs of the same visitor are ahead of it. A new job goes before the
first job of a later round than its own, so the queue runs one job of each visitor, then a second of each, and so
on: a newcomer waits behind at most one queued job of each other visitor (and the jobs already running).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from ..session.visitor import Visitor


class Queued(Protocol):
    visitor: Visitor
    session_id: str


def owner(job: Queued) -> str:
    """Whose turn a job takes: its visitor, or its page where it has none (work outside a server)."""
    return job.visitor.key or f"page:{job.session_id}"


def turn_place(queue: Iterable[Queued], job: Queued) -> int:
    """The index at which ``job`` joins ``queue`` (front first) to take its visitor's next turn."""
    seen: dict[str, int] = {}
    mine = owner(job)
    items = list(queue)
    rounds = []
    for queued in items:
        key = owner(queued)
        rounds.append(seen.get(key, 0))
        seen[key] = rounds[-1] + 1
    own_round = seen.get(mine, 0)
    for index, round_ in enumerate(rounds):
        if round_ > own_round:
            return index
    return len(items)
