"""Every private name of Panel, Bokeh, param and Dask that this package reads or writes, in one list, with why.

Each is a break waiting for an upgrade, so each one is here with the place that uses it and the reason no public
API does the job; :func:`missing` says which of them an installed version no longer has, and
``tests/test_architecture.py`` fails loudly, naming them, when one goes (the versions are pinned in
requirements.txt). A new private use belongs in this list, or it is not allowed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class PrivateName:
    owner: str  # "module:Class" or "module"
    name: str
    where: str  # the file that uses it
    why: str
    # How to see it: "attribute" (on the class or module), "init" (set in the class's __init__),
    # "instance" (on an instance made with no arguments)
    kind: str = "attribute"


PRIVATE_NAMES: tuple[PrivateName, ...] = (
    PrivateName(
        "panel.io.application",
        "_eval_panel",
        "server/pages.py",
        "Panel's body of a function handler; building a page with it on a worker thread keeps ~0.25 s per page "
        "load off the loop every visitor shares. Panel builds pages only on the loop.",
    ),
    PrivateName(
        "bokeh.server.contexts:BokehSessionContext",
        "_document",
        "server/pages.py",
        "the new session's document, to fill before Bokeh hands the session to the loop; on_session_created gets "
        "only the context.",
        "init",
    ),
    PrivateName(
        "bokeh.document:Document",
        "_template_variables",
        "server/pages.py",
        "where the page's stylesheets come from (dist_url) for a page rebuilt for a late websocket; Panel sets it "
        "only when it renders the HTML, so offline pages lost their styles.",
        "instance",
    ),
    PrivateName(
        "panel.io.callbacks:PeriodicCallback",
        "_background",
        "views/loop.py",
        "a page clock that does not set Panel's process-wide busy flag (which spun every page's busy spinner); "
        "add_periodic_callback has no such switch.",
        "init",
    ),
    PrivateName(
        "panel.widgets:FileDropper",
        "_process_event",
        "views/uploads.py",
        "each upload chunk as it arrives, to refuse a file over the server's limit before it is held whole; "
        "FileDropper's public value appears only when the file is complete.",
    ),
    PrivateName(
        "panel.widgets:FileDropper",
        "_file_buffer",
        "views/uploads.py",
        "the chunks of a refused file, dropped at once instead of held until the page closes.",
        "init",
    ),
    PrivateName(
        "param:Path",
        "_resolve",
        "server/param_cache.py",
        "param searches the file system on every read of a path parameter; Panel's page designs read their CSS "
        "paths on every widget change (~15 % of the loop with a room of pages). Cached per path.",
    ),
    PrivateName(
        "distributed.queues:QueueExtension",
        "client_refcount",
        "jobs/dask_runner.py",
        "a finished job's queue removed from the Dask scheduler whatever the ending (a crashed server's client "
        "never releases it).",
        "init",
    ),
    PrivateName(
        "distributed.variable:VariableExtension",
        "waiting_conditions",
        "jobs/dask_runner.py",
        "a finished job's variables removed from the Dask scheduler (Variable.delete needs the client that made them).",
        "init",
    ),
)


def _present(entry: PrivateName) -> bool:
    module_name, _, class_name = entry.owner.partition(":")
    try:
        owner: object = importlib.import_module(module_name)
        if class_name:
            owner = getattr(owner, class_name)
    except (ImportError, AttributeError):
        return False
    if entry.kind == "init":
        init = getattr(owner, "__init__", None)
        code = getattr(init, "__code__", None)
        return code is not None and entry.name in code.co_names
    if entry.kind == "instance":
        return hasattr(owner(), entry.name)  # type: ignore[operator]
    return hasattr(owner, entry.name)


def missing(entries: tuple[PrivateName, ...] = PRIVATE_NAMES) -> list[str]:
    """The private names the installed libraries no longer have, as ``owner.name (where)``."""
    return [f"{e.owner}.{e.name} ({e.where})" for e in entries if not _present(e)]
