"""What every part of a session's state shares: the status parameters the page watches, and (declared here, set in
:meth:`SessionState.__init__ <demo_app.session.state.SessionState>`) the images, the run and the results. The
parts (:mod:`.settings`, :mod:`.inputs`, :mod:`.launch`, :mod:`.results`) subclass this, so each sees the others'
attributes with their types."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import param
from PIL import Image

import nstcore

from ..jobs.backend import Backend
from ..jobs.gate import Refused
from .config_params import ConfigParams
from .current_run import CurrentRun
from .history import History
from .imaging import PreparedImage, PreparedMask
from .limits import Limits
from .text import capped
from .visitor import Visitor

log = logging.getLogger("demo_app")
T = TypeVar("T")


class SessionCore(ConfigParams):  # type: ignore[misc, valid-type]  # a class made at import from StyleConfig
    """Settings (from StyleConfig) plus the status of one session's job."""

    running = param.Boolean(default=False, doc="A job of this session is running.")
    status = param.String(default="Ready.", doc="One line about the current run.")
    error = param.String(default="", doc="The last problem, as a sentence for people.")
    step = param.Integer(default=0)
    total_steps = param.Integer(default=0)
    mode: param.Selector = param.Selector(
        default="single", objects=["single", "compare"], doc="Kind of the current/last job."
    )
    trained_version = param.Integer(default=0, doc="Counts generators this session trained (instant styles).")

    backend: Backend
    limits: Limits
    visitor: Visitor  # whose page it is: a browser or signed-in user, and its address (session/visitor.py)
    session_id: str
    content: Image.Image | None
    style: Image.Image | None
    content_image: PreparedImage | None  # with its thumbnail and preview, ready to show
    style_image: PreparedImage | None
    extra_styles: list[PreparedImage]  # style images 2, 3 ... (blended with the first, or each in its region)
    masks: dict[int, PreparedMask]  # regions: style index (0 = the first style) -> its mask, in the content's frame
    trained: tuple[dict[str, Any], nstcore.StyleConfig] | None  # the generator the last hrnet run trained
    _trained_pending: dict[str, Any] | None  # the running generator's latest weights
    result: tuple[Any, ...] | None  # last frames (numpy arrays) of the last run
    notes: tuple[str, ...]
    run: CurrentRun
    history: History
    last_losses: dict[str, float]  # the last step's terms of a single run (for its history entry)
    _run_content_jpeg: bytes  # the content image the current run started from (before/after)
    _restoring: bool
    announcements: list[str]  # notifications for the page's next tick
    # A served page starts, and Reset returns, on Quick, as its examples run (in-process: StyleConfig's defaults).
    starts_on_quick: bool = False

    def announce(self, text: str) -> None:
        """A message for this page, from the host or about a loaded file (shown as a notification on its next tick,
        escaped)."""
        self.announcements.append(capped(text, 200))

    def log_failure(self, what: str, exc: BaseException) -> None:
        """Details of an unexpected failure go to the server log, never to the page."""
        log.error("session %s: %s failed", self.session_id[:8], what, exc_info=exc)

    def gated(self, kind: str, what: str, work: Callable[[], T]) -> Callable[[], T] | None:
        """``work`` as a worker-pool task the gate admitted (one of ``kind`` per page, a few per visitor: see
        :meth:`Gate.task <demo_app.jobs.gate.Gate.task>`), to hand to ``in_background``; None, with the refusal
        in ``error``, when the gate says no. ``what`` names it in that sentence ("A time-lapse")."""
        gate = self.backend.gate
        try:
            ticket = gate.task(self.limits, self.session_id, self.visitor, kind, what)
        except Refused as exc:
            self.error = str(exc)
            return None

        def admitted() -> T:
            with gate.running(ticket):
                return work()

        return admitted
