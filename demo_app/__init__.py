"""demo_app: the Panel dashboard over nstcore (Gatys et al.'s neural style transfer).

Served by Bokeh server through Panel. The folders follow a request: ``server/`` (the application, its pages and
routes, the host console, the wall), ``views/`` (one view per area of the page, composed by the Dashboard),
``session/`` (what one visitor chose and their run: SessionState, CurrentRun, history, limits, images) and ``jobs/``
(the process's backend, the scheduler, the Dask runner). This package never imports torch: it talks to the engine
through nstcore's public API only.
"""


def __getattr__(name: str):
    """``from demo_app import Workbench, show``: the notebook helpers, imported when first asked for."""
    if name in ("Workbench", "show"):
        from . import notebook

        return getattr(notebook, name)
    raise AttributeError(f"module 'demo_app' has no attribute {name!r}")
