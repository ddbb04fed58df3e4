"""Two-way syncing between a widget and the session state, where the value is converted on the way.

Panel's ``.link(target, bidirectional=True)`` keeps two parameters equal, and ``pn.bind``/``from_param`` go one
way; none of them converts both ways. Four controls need that: a log slider and its weight, the style-strength
slider and the two weights whose ratio it is, Quick/Full and the settings they stand for, the Compare table and the
variants. Each pair has two watchers, and each watcher's own change must not come back as the other's event (an
echo rounds a value, or clamps it to the slider's range, and writes it back). :class:`NoEcho` is that rule, once:
the watchers of one pair are wrapped by one ``NoEcho``, and while one of them runs the other is not called.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import ParamSpec

P = ParamSpec("P")


class NoEcho:
    """Wraps the watchers of one two-way pair: while one runs, a change it makes does not call the other back."""

    def __init__(self) -> None:
        self.active = False

    def __call__(self, watcher: Callable[P, object]) -> Callable[P, None]:
        @functools.wraps(watcher)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> None:
            if self.active:
                return
            self.active = True
            try:
                watcher(*args, **kwargs)
            finally:
                self.active = False

        return wrapped
