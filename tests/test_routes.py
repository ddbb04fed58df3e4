"""Only the routes the app needs: Panel's /components route imported any module named in the URL (before
authentication); the app's replacement serves resources of loaded Panel, Bokeh and app modules only."""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

import pytest
from browser import served_dashboard

from demo_app.jobs.backend import Backend
from demo_app.server.routes import allowed_module
from demo_app.session.limits import Limits


def status_of(url: str) -> int:
    try:
        return urllib.request.urlopen(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_the_components_route_imports_nothing_named_in_the_url() -> None:
    for name in ("this", "antigravity", "json.tool"):
        sys.modules.pop(name, None)
    with served_dashboard(Backend(weights="random", device_name="cpu"), Limits()) as url:
        for name in ("this", "antigravity", "json.tool", "os", "torch", "nstcore.engine"):
            assert status_of(f"{url}components/{name}/X/_css/a.css") == 404, name
        assert "this" not in sys.modules and "antigravity" not in sys.modules and "json.tool" not in sys.modules
        # Panel's own component resources still resolve through the route (403: not a listed resource, not 404)
        assert status_of(f"{url}components/panel.widgets.file_selector/FileSelector/_css/x.css") in (403, 404)
        assert status_of(f"{url}liveness") == 200


@pytest.mark.parametrize(
    ("name", "allowed"),
    [
        ("panel.widgets", True),
        ("demo_app.server.wall", True),
        ("bokeh.models", True),
        ("this", False),
        ("os", False),
        ("panelx", False),
        ("demo_app_evil", False),
    ],
)
def test_which_modules_the_route_may_read(name: str, allowed: bool) -> None:
    import importlib

    if allowed:
        importlib.import_module(name)
    assert allowed_module(name) is allowed
