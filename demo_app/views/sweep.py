"""The Compare tab's two-way sweep: two presets crossed, rows by columns (Gatys et al.'s Figure 3 is style layers
down and α/β across, the default), its cells in a table under their headings."""

from __future__ import annotations

from collections.abc import Sequence

import panel as pn

import nstcore

from ..session.state import SessionState
from .widgets import clicks, plain_text

HEADING_STYLE = {"font-size": "13px", "font-weight": "600", "overflow-wrap": "anywhere"}


class SweepControls(pn.viewable.Viewer):
    """Rows and Columns (presets) and "Load sweep", which fills the table with their cells."""

    def __init__(self, state: SessionState) -> None:
        super().__init__()
        self.state = state
        rows, columns = nstcore.DEFAULT_SWEEP
        self.rows = pn.widgets.Select(label="Sweep rows", options=list(nstcore.PRESETS), value=rows, width=150)
        self.columns = pn.widgets.Select(label="× columns", options=list(nstcore.PRESETS), value=columns, width=150)
        self.load = pn.widgets.Button(label="Load sweep", width=120, css_classes=["nst-load-sweep"])
        self.load.on_click(clicks(lambda: state.load_sweep(self.rows.value, self.columns.value)))

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.FlexBox(self.rows, self.columns, self.load, align_items="end", css_classes=["nst-sweep-controls"])


def sweep_grid(cells: Sequence[pn.viewable.Viewable], rows: Sequence[str], columns: Sequence[str]) -> pn.GridBox:
    """The cells (row by row) under their column headings and after their row headings, as the paper lays out its
    Figure 3; the headings are plain text (a label may be a visitor's)."""
    items: list[pn.viewable.Viewable] = [pn.Spacer()]
    items += [plain_text(c, styles=HEADING_STYLE, css_classes=["nst-sweep-column"]) for c in columns]
    for r, heading in enumerate(rows):
        items.append(plain_text(heading, styles=HEADING_STYLE, css_classes=["nst-sweep-row"]))
        items += cells[r * len(columns) : (r + 1) * len(columns)]
    return pn.GridBox(*items, ncols=len(columns) + 1, sizing_mode="stretch_width", css_classes=["nst-sweep-grid"])
