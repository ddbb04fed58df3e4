"""The Compare tab: 2-8 variants of one run (Gatys et al.'s Figure 1 studies and your own), optimised as one batch.

A preset fills the table; every cell of it can be edited before the run. Results stream into a labelled grid (one
cell per variant) and a chart with one total-loss line per variant. Like the rest of the page, the Bokeh models here
are only changed from the session's periodic callback (:meth:`CompareView.apply`).
"""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import panel as pn
import param

import nstcore

from .charts import loss_figure, rows_to_columns
from .scheduler import Handover
from .state import SessionState
from .widgets import clicks

COLUMNS = ["label", "alpha", "beta", "tv", "content_layers", "style_layers", "pooling"]


class CompareView(pn.viewable.Viewer):
    """Widgets and views of the Compare tab of one session."""

    cells_filled = param.Integer(default=0, doc="Grid cells that have shown a frame in the current comparison.")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__(**params)
        self.state = state
        self._syncing = False
        self.preset = pn.widgets.Select.from_param(state.param.preset, label="Preset", width=160)
        self.load = pn.widgets.Button(label="Load preset", width=110, css_classes=["load-preset"])
        self.load.on_click(clicks(state.load_preset))
        self.add = pn.widgets.Button(label="+ variant", width=90, css_classes=["add-variant"])
        self.remove = pn.widgets.Button(label="- variant", width=90)
        self.add.on_click(clicks(state.add_variant))
        self.remove.on_click(clicks(state.remove_variant))
        self.run = pn.widgets.Button(label="▶ Run comparison", color="primary", width=160, css_classes=["run-compare"])
        self.run.on_click(clicks(state.start_compare))
        self.table = pn.widgets.Tabulator(
            self._frame(),
            show_index=False,
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            height=260,
            editors={
                "pooling": {"type": "list", "values": ["avg", "max"]},
                "alpha": {"type": "number"},
                "beta": {"type": "number"},
                "tv": {"type": "number"},
            },
            css_classes=["variants-table"],
        )
        self.table.param.watch(self._edited, "value")
        state.param.watch(self._from_state, "variants")
        state.param.watch(lambda e: self._sync_run_button(), ["running"])
        self.grid = pn.GridBox(ncols=4, sizing_mode="stretch_width")
        self._cells: list[pn.pane.JPG] = []
        self._keys: list[str] = []
        self._source: Any = None  # the chart's ColumnDataSource, made per comparison
        self.chart = pn.pane.Bokeh(None, sizing_mode="stretch_width", min_height=300)  # filled by started()
        self._grid_png: bytes | None = None
        self.grid_download = pn.widgets.FileDownload(
            callback=self._grid_file,
            filename="nst-compare.png",
            label="Download grid (PNG)",
            color="success",
            width=200,
            disabled=True,
        )
        self.json_download = pn.widgets.FileDownload(
            callback=self._json_file,
            filename="nst-variants.json",
            label="Download variants (JSON)",
            color="light",
            width=200,
        )
        self.help = pn.pane.Markdown(
            "Variants share the images and the run settings on the left; each has its own α, β, TV, layers "
            "(`conv1_1:1,conv2_1:0.5`) and pooling. They are optimised **together as one batch**.",
            margin=(0, 10),
        )
        self._sync_run_button()

    # -- table <-> state ------------------------------------------------------------------------------------------
    def _frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.state.variants, columns=COLUMNS)

    def _from_state(self, event: param.parameterized.Event | None = None) -> None:
        if not self._syncing:
            self._syncing = True
            try:
                self.table.value = self._frame()
            finally:
                self._syncing = False

    def _edited(self, event: param.parameterized.Event) -> None:
        if self._syncing:
            return
        rows = event.new.to_dict(orient="records")
        for i, row in enumerate(rows):
            row["label"] = nstcore.clean_label(row.get("label"), f"variant {i + 1}")
            for key in ("alpha", "beta", "tv"):
                try:
                    row[key] = float(row[key])
                except (TypeError, ValueError):
                    self.state.error = (
                        f"{key} of {row['label']} must be a number, got "
                        f"{nstcore.shown(row[key], 40)}; the table was not changed."
                    )
                    self._from_state()
                    return
        self._syncing = True
        try:
            self.state.variants = rows
        finally:
            self._syncing = False

    def _sync_run_button(self) -> None:
        self.run.disabled = self.state.running

    # -- results ------------------------------------------------------------------------------------------------
    def started(self) -> None:
        """A comparison began: one empty cell and one chart line per variant."""
        labels = list(self.state.labels)
        self._cells = [pn.pane.JPG(None, width=200, height=160, fixed_aspect=True, embed=True) for _ in labels]
        self.grid.objects = [
            pn.Column(cell, pn.pane.Str(label, styles={"font-size": "12px"}), css_classes=["nst-cell"], margin=4)
            for cell, label in zip(self._cells, labels)
        ]
        self._keys = [f"variant_{i}" for i in range(len(labels))]
        fig, self._source = loss_figure(self._keys, title="Total loss per variant (log scale)", labels=labels)
        self.chart.object = fig
        self.cells_filled = 0
        self.set_grid_png(None)

    def apply_rows(self, handover: Handover) -> None:
        """Put the worker's new loss rows into the chart (session event loop only)."""
        if handover.rows and self._source is not None:
            data: dict[str, list[float]] = {"step": [s for s, _ in handover.rows]}
            for i, key in enumerate(self._keys):
                column = rows_to_columns([(s, losses[i]) for s, losses in handover.rows], ["total"])
                data[key] = column["total"]
            self._source.stream(data)

    def apply_frames(self, jpegs: list[bytes]) -> None:
        """Show the cells' newest frames, already encoded on a worker thread (session event loop only)."""
        filled = 0
        for cell, data in zip(self._cells, jpegs):
            cell.object = data
            filled += 1
        self.cells_filled = max(self.cells_filled, filled)

    def set_grid_png(self, data: bytes | None) -> None:
        """The finished comparison's grid, rendered on a worker thread: offered for download from now on."""
        self._grid_png = data
        self.grid_download.disabled = data is None

    def _grid_file(self) -> io.BytesIO | None:
        return io.BytesIO(self._grid_png) if self._grid_png else None

    def _json_file(self) -> io.BytesIO:
        try:
            return io.BytesIO(self.state.variants_json().encode())
        except nstcore.ConfigError as exc:
            self.state.error = str(exc)
            return io.BytesIO(b"{}")

    def __panel__(self) -> pn.viewable.Viewable:
        return pn.Column(
            self.help,
            pn.Row(self.preset, self.load, self.add, self.remove, self.run),
            self.table,
            self.grid,
            self.chart,
            pn.Row(self.grid_download, self.json_download),
            sizing_mode="stretch_width",
        )
