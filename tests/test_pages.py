"""Pages built off the loop (demo_app.server.pages): the document a browser gets, however it was made, loads Panel's CSS
and JS from this server, never from Panel's CDN (a workshop network may have no internet)."""

from __future__ import annotations

import panel as pn
from bokeh.document import Document
from bokeh.models import ImportedStyleSheet
from panel.io.state import set_curdoc

from demo_app.server.pages import OffLoopPage, panel_dist_url


def _stylesheet_urls(doc: Document) -> set[str]:
    return {str(s.url) for root in doc.roots for s in root.select({"type": ImportedStyleSheet})}


def test_a_page_built_without_its_html_render_loads_local_styles() -> None:
    """A session discarded before its browser connected is built again for the websocket, with no HTML render (where
    Panel would set the page's stylesheet base): its models, and those made later in its callbacks, stay local."""
    column = pn.Column(pn.widgets.Button(label="Run"))
    doc = Document()
    OffLoopPage(lambda: column, "test")._build_and_check(doc)
    urls = _stylesheet_urls(doc)
    assert urls and not [u for u in urls if u.startswith("http")], sorted(urls)[:5]
    assert doc._template_variables["dist_url"] == panel_dist_url() == "static/extensions/panel/"
    with set_curdoc(doc):
        column.append(pn.pane.Markdown("made later, in a callback"))  # e.g. a card built when opened
    later = _stylesheet_urls(doc)
    assert len(later) > len(urls) and not [u for u in later if u.startswith("http")], sorted(later)[:5]
