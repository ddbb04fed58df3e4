"""Only the routes the app needs: Panel's ``/components/<module>/<class>/<attribute>/<file>`` route imports *any*
module named in the URL, before authentication (it printed the Zen of Python into a basic-auth server's log;
``torch._inductor.compile_fx`` blocked the loop for 1.2 s). :data:`COMPONENTS_ROUTE` replaces it (Tornado takes the
first matching pattern, and ``extra_patterns`` come before Panel's own): behind the same authentication as the
pages, it serves only modules already loaded that belong to Panel or to this app, and never imports one.
"""

from __future__ import annotations

import sys

from panel.io.server import AuthenticatedStaticFileHandler, ComponentResourceHandler
from tornado.web import HTTPError

# Whose component resources a page may load: Panel's widgets (FileDropper, Tabulator ...) and this app's.
ALLOWED_PACKAGES = ("panel", "bokeh", "demo_app")


def allowed_module(name: str) -> bool:
    """A module the route may read resources of: loaded already, and Panel's, Bokeh's or this app's."""
    package = name.split(".", 1)[0]
    return package in ALLOWED_PACKAGES and name in sys.modules


class AppComponents(AuthenticatedStaticFileHandler, ComponentResourceHandler):
    """Panel's component resources, for authenticated visitors, from allowed modules only."""

    def parse_url_path(self, path: str) -> str:
        if not allowed_module(path.split("/", 1)[0]):
            raise HTTPError(404, "Not found")
        return super().parse_url_path(path)


COMPONENTS_ROUTE: tuple[str, type, dict] = (r"/components/(.*)", AppComponents, {})
