"""User text is never markup, in every pane a label reaches: Panel's ``Str`` pane sends its text to the page as
markup (a Compare label ``<img src=x onerror=...>`` ran script in its author's page)."""

from __future__ import annotations

import html

from bokeh.model import Model

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.views.dashboard import Dashboard

SCRIPT = "<img src=x onerror=alert(1)>"


def page_markup(viewable) -> list[str]:
    """What the browser puts into innerHTML for every text-bearing model under ``viewable`` (Panel's HTML models
    carry escaped text that the page unescapes once)."""
    root = viewable.get_root()
    texts = []
    for model in root.select({"type": Model}):
        text = getattr(model, "text", None)
        if isinstance(text, str):
            texts.append(html.unescape(text))
    return texts


def test_a_script_named_label_is_text_in_every_compare_pane_and_the_status() -> None:
    state = SessionState(Backend(weights="random", device_name="cpu"), Limits())
    dashboard = Dashboard(state)
    try:
        state.param.update(size=32, steps=2, preview_every=0, precision="fp32")
        state.load_preset("pooling")
        state.variants = [{**row, "label": f"{SCRIPT} \"' {i}"} for i, row in enumerate(state.variants)]
        assert state.start_compare(), state.error
        dashboard.compare.started()
        state.compare_shared = {SCRIPT: 1}  # what a loaded comparison file could name
        dashboard.compare._note_shared()
        state.status = f"Stopped {SCRIPT}"
        dashboard.tick()
        markup = page_markup(dashboard.compare.grid) + page_markup(dashboard.compare.shared_note)
        markup += page_markup(dashboard.status)
        assert sum("onerror" in text for text in markup) >= 3  # the labels, the note and the status are there ...
        assert not any("<img src=x" in text for text in markup), [t for t in markup if "<img src=x" in t]  # ... as text
        # the cells' alt texts go into the tag as Panel writes them (a repr): no quote or bracket may reach it raw
        alts = [cell.alt_text for cell in dashboard.compare._cells]
        assert alts and all(not set("<>\"'") & set(alt) and "onerror" in alt for alt in alts), alts
    finally:
        state.close()
        state.wait(30)


def test_no_view_uses_panels_str_pane() -> None:
    """The rule behind the test above, for panes added later: text goes through views.widgets.plain_text."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "demo_app"
    users = [str(p) for p in root.rglob("*.py") if "pane.Str(" in p.read_text(encoding="utf-8")]
    assert users == []
