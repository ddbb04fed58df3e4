"""One browser session's state: the chosen images, every run setting, and the run in progress.

Separate from the views (``demo_app/views``) so it can be tested without a server or a browser. The settings are the
parameters of :class:`~demo_app.session.config_params.ConfigParams`, i.e. nstcore's ``StyleConfig`` fields; those that
the engine reads at every step (alpha, beta, TV, lr, layer weights) are forwarded to the running job's
``nstcore.Controls`` as soon as they change, so the next steps use them (Gatys et al.'s objective, steered live).
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import param

import nstcore

from ..jobs.backend import Backend
from .config_params import LIVE_FIELDS
from .current_run import CurrentRun
from .history import History
from .inputs import InputsPart
from .launch import LaunchPart, variant_row
from .limits import Limits
from .nickname import NICKNAMES
from .results import ResultsPart, slug
from .samples import DEFAULT_CONTENT, DEFAULT_STYLE
from .settings import SettingsPart
from .visitor import Visitor

__all__ = ["SessionState", "slug", "variant_row"]


class SessionState(InputsPart, SettingsPart, LaunchPart, ResultsPart):
    """One session: its settings (:mod:`.settings`), images (:mod:`.inputs`), jobs (:mod:`.launch`) and results
    (:mod:`.results`), the status the page shows, and the live changes forwarded to a running job."""

    def __init__(
        self, backend: Backend, limits: Limits | None = None, visitor: Visitor | None = None, **params: Any
    ) -> None:
        super().__init__(**params)
        self.backend = backend
        self.limits = limits or Limits()
        self.visitor = visitor or Visitor()  # whose page it is (per-visitor shares; the address's ceilings)
        self.content = self.style = None  # the attributes' meaning: SessionCore
        self.content_image = self.style_image = None
        self.extra_styles, self.masks = [], {}
        self.trained = self._trained_pending = None
        self.result = None
        self.session_id = uuid.uuid4().hex
        self.created = time.time()
        self._restoring = False
        self.notes = ()
        self.announcements: list[str] = []  # the host's messages, shown by the page's next tick
        self.run = CurrentRun(backend, self.limits, self.session_id, self.visitor)
        self.history = History(self.limits.history_size, int(self.limits.max_history_mb * 2**20))
        self.last_losses = {}
        self._run_content_jpeg = b""
        self.param.watch(self._forward_live_change, list(LIVE_FIELDS))
        self.param.watch(self._optimizer_changed, ["optimizer"])
        self.param.watch(self._model_changed, ["model"])
        self.param.watch(self._generator_changed, ["generator"])
        self.use_sample("content", DEFAULT_CONTENT)
        self.use_sample("style", DEFAULT_STYLE)
        self.load_preset("pooling")

    @property
    def nickname(self) -> str:
        """The visitor's nickname ("Blue Fox"): the same in every tab of their browser and after a reload."""
        return NICKNAMES.of(self.visitor.key or self.session_id)

    def close(self) -> None:
        """Session ended: cancel its job (queued or running) and forget its images."""
        self.run.close()
        self.backend.gate.unbuffer(self.session_id)  # its unfinished uploads
        self.content = self.style = None
        self.extra_styles, self.masks = [], {}
        self.result = None

    # -- live changes -------------------------------------------------------------------------------------------
    def _forward_live_change(self, *events: param.parameterized.Event) -> None:
        if not self.running:
            return
        changes = {event.name: event.new for event in events}
        if "style_blend" in changes and len(changes["style_blend"]) != self.run.styles:
            del changes["style_blend"]  # a style added or removed during the run: for the next run
        try:
            self.run.steer(changes, self.step)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
