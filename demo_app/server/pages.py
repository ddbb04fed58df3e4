"""Pages built off the event loop: a Bokeh application whose session documents are filled on a worker thread.

Bokeh builds a new session's document on the server's event loop (``initialize_document``), which every visitor
shares: the dashboard's ~250 models took ~0.25 s of it per page load, so four people reloading kept ``/liveness``
waiting 1.3-1.8 s. Bokeh awaits each handler's ``on_session_created`` *before* it initialises the document, and
until that returns the document belongs to no connection, so nothing else can touch it. :class:`OffLoopPage` does
the whole build there, on a worker thread (``run_in_executor``), and its ``modify_document`` (on the loop) has
nothing left to do. The loop only waits for the result, while serving everyone else.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from bokeh.application.handlers.handler import Handler
from bokeh.document import Document
from bokeh.settings import settings
from panel.io.application import Application, _eval_panel
from panel.io.resources import CDN_DIST, LOCAL_DIST, use_cdn
from panel.io.state import state

from ..jobs.priority import give_way

log = logging.getLogger("demo_app")

# One builder: page building is pure Python, so a second builder thread would only take turns with the first on the
# GIL, and every thread that wants the GIL makes the loop wait longer for it. A burst of page loads queues here.
_BUILDERS = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nst-page", initializer=give_way)


class OffLoopPage(Handler):
    """Fills each new session's document with ``create()``'s page on a worker thread."""

    def __init__(
        self, create: Callable[[], Any], title: str, identify: Callable[[Any], dict[str, Any]] | None = None
    ) -> None:
        super().__init__()
        self._identify = identify
        # Panel's own body of a function handler (private API; panel is pinned in requirements.txt, and every browser
        # test goes through this path, so an upgrade that changes it fails loudly).
        # location=True: the page template embeds the URL-location root (and its theme toggle reloads with ?theme=).
        self._build = partial(_eval_panel, create, None, title, True, False)

    def process_request(self, request: Any) -> dict[str, Any]:
        """Bokeh's hook on a page's HTML request, on the loop: what the new session's token carries (the visitor,
        :mod:`.visitors`)."""
        return self._identify(request) if self._identify is not None else {}

    async def on_session_created(self, session_context) -> None:
        doc: Document = session_context._document
        try:
            await asyncio.get_running_loop().run_in_executor(_BUILDERS, self._build_and_check, doc)
        except Exception:  # noqa: BLE001 - Bokeh would log and serve an empty page; say what happened
            log.exception("building a page failed")
            raise

    def _build_and_check(self, doc: Document) -> None:
        # Where the page's stylesheets come from. Panel writes this into the document when it renders the page's
        # HTML, *after* the build, and patches the models then; but a session whose browser connects later than
        # the unused-session lifetime is discarded and built again for the websocket, with no HTML render. Without
        # this, every model of such a page, and every one made later in any page's callbacks, pointed at Panel's
        # CDN: offline (a workshop network), the page lost its uploaders' and buttons' styles.
        doc._template_variables.setdefault("dist_url", panel_dist_url())
        self._build(doc)
        doc.validate()  # Bokeh's integrity checks, here instead of on the loop (see off_loop_application)

    def modify_document(self, doc: Document) -> None:
        """Bokeh calls this on the loop after ``on_session_created``: the page is already there."""


def panel_dist_url() -> str:
    """The base URL of Panel's own CSS and JS, as Panel's HTML handler computes it for a served page."""
    if use_cdn():
        return CDN_DIST
    return f"{state.rel_path}/{LOCAL_DIST}" if state.rel_path else LOCAL_DIST


def off_loop_application(
    create: Callable[[], Any], title: str, identify: Callable[[Any], dict[str, Any]] | None = None
) -> Application:
    """A Panel application (sessions, on-load callbacks, logging as usual) whose pages are built off the loop.

    Bokeh validates every new document on the loop after building it (58 ms of a dashboard page); the builder
    validates it on its thread instead, so that step is switched off for this server process.
    """
    settings.perform_document_validation.set_value(False)
    # The loop thread needs the GIL for a moment per request; with a builder thread busy in Python, it waits for
    # the builder's switch interval each time (5 ms by default, often several times per request). 1 ms keeps
    # /liveness answers short while pages build; the builder loses a little to the extra switches.
    sys.setswitchinterval(0.001)
    return Application(OffLoopPage(create, title, identify))
