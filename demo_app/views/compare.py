"""The Compare tab: 2-8 variants of one run (Gatys et al.'s Figure 1 studies and your own), optimised as one batch.

A preset fills the table; every cell of it can be edited before the run. Results stream into a labelled grid (one
cell per variant) and a chart with one total-loss line per variant. Like the rest of the page, the Bokeh models here
are only changed from the session's periodic callback (:meth:`CompareView.apply`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from functools import partial
from typing import Any

import pandas as pd
import panel as pn
import param

import nstcore

from ..jobs.scheduler import Handover
from ..session.state import SessionState
from ..session.text import as_html
from .charts import column_key, loss_figure, rows_to_columns, term_weights
from .loop import NewestFrames, in_background
from .sweep import SweepControls, sweep_grid
from .two_way import NoEcho
from .variants_table import table_frame, variants_table
from .widgets import clicks, plain_text, set_text
from .zoom import rgba_planes, zoom_figures

ZOOM_LABEL = "Zoom all cells together"
ZOOM_CELL_MAX = 640  # px: a zoomed cell grows with the screen up to this
LABEL_STYLE = {"font-size": "13px", "overflow-wrap": "anywhere"}
CELL_BASIS, CELL_MAX = 320, 480  # px: a grid cell's width to start from and at most (the row shares the rest)
VIEW_TITLES = {
    "total": "Total loss per variant (weighted, log scale)",
    "content": "Content term per variant (÷ α, log scale)",
    "style": "Style terms per variant (÷ β·w, log scale)",
}


def _sum_shown(values: list[float]) -> float:
    """Sum of the finite values (a switched-off layer is NaN on the chart); NaN when there are none."""
    finite = [v for v in values if v == v]
    return sum(finite) if finite else float("nan")


def undrawn(view: str, weights: list[dict[str, float]], labels: Sequence[str]) -> str:
    """One sentence for the variants a view has no line for, and why (a term weighted 0 is not computed), or ""."""
    if view == "total" or not weights:
        return ""
    if view == "content":
        missing = [i for i, w in enumerate(weights) if not w.get("content", 0) > 0]
        why = "α = 0 (no content term)"
    else:
        missing = [i for i, w in enumerate(weights) if not any(v > 0 for k, v in w.items() if k.startswith("style:"))]
        why = "β = 0 or no style layer (no style term)"
    if not missing:
        return ""
    if len(missing) == len(weights):
        return f"Every variant here has {why}, so this view has no line to draw; see “total”."
    names = ", ".join(f"“{labels[i]}”" if i < len(labels) else f"variant {i + 1}" for i in missing)
    return f"No line for {names}: {why}."


COMPARE_HELP = (
    "Variants share the images and the run settings on the left; each has its own α, β, TV, layers "
    "(`conv1_1:1,conv2_1:0.5`), pooling, colour preservation and, with several style images (More styles), "
    "blend (`3:1`). They are optimised **together as one batch**: press **▶ Run comparison** above."
)


class CompareView(pn.viewable.Viewer):
    """Widgets and views of the Compare tab of one session."""

    cells_filled = param.Integer(default=0, doc="Grid cells that have shown a frame in the current comparison.")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__(**params)
        self.state = state
        self._frames_encoder = NewestFrames(self.apply_frames, lambda exc: state.log_failure("preview", exc))
        self.preset = pn.widgets.Select.from_param(state.param.preset, label="Preset", width=160)
        # Picking a preset loads it (there was a separate "Load preset" click); "Reload" brings its rows back.
        self._preset_watcher = state.param.watch(lambda e: state.load_preset(e.new), "preset")
        self.load = pn.widgets.Button(label="Reload preset", width=120, css_classes=["load-preset"])
        self.load.on_click(clicks(state.load_preset))
        self.sweep = SweepControls(state)
        self.shared_note = plain_text("", styles={"font-size": "12px"}, css_classes=["nst-compare-shared"])
        state.param.watch(lambda e: self._note_shared(), "compare_shared")
        self._note_shared()
        self.add = pn.widgets.Button(label="+ variant", width=90, css_classes=["add-variant"])
        self.remove = pn.widgets.Button(label="- variant", width=90)
        self.add.on_click(clicks(state.add_variant))
        self.remove.on_click(clicks(state.remove_variant))
        self.table = variants_table(self._frame())
        self._from_state()
        no_echo = NoEcho()
        self.table.param.watch(no_echo(self._edited), "value")
        state.param.watch(no_echo(self._from_state), "variants")
        self.grid = pn.FlexBox(sizing_mode="stretch_width", flex_wrap="wrap")
        self.chart_view = pn.widgets.RadioButtonGroup(
            options=list(VIEW_TITLES), value="total", color="light", css_classes=["nst-compare-view"]
        )
        self.chart_view.param.watch(lambda e: self._show_view(), "value")
        self.chart_note = plain_text("", styles={"font-size": "13px"}, css_classes=["nst-chart-note"])
        self._weights: list[dict[str, float]] = []
        self._cell_pngs: list[bytes] = []
        self._cell_downloads: list[pn.widgets.FileDownload] = []
        self.zoom_button = pn.widgets.Button(label=ZOOM_LABEL, disabled=True, width=220, css_classes=["nst-zoom-cells"])
        self.zoom_button.on_click(clicks(self._zoom))
        self.zoomed = pn.Column(visible=False, sizing_mode="stretch_width", css_classes=["nst-zoomed"])
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
        self.help = pn.pane.Markdown(COMPARE_HELP, margin=(0, 10))

    # -- table <-> state ------------------------------------------------------------------------------------------
    def _frame(self) -> pd.DataFrame:
        return table_frame(self.state.variants)

    def _from_state(self, event: param.parameterized.Event | None = None) -> None:
        frame = self._frame()
        # a column empty in every row (e.g. blend with one style image) takes no width
        self.table.hidden_columns = [c for c in ("style_blend",) if not frame[c].astype(str).str.strip().any()]
        self.table.value = frame

    def _edited(self, event: param.parameterized.Event) -> None:
        """The table's rows, edited in the page, become the variants (a cell that is no number puts the table
        back as the variants are, with a sentence)."""
        rows = event.new.drop(columns=["ratio"], errors="ignore").to_dict(orient="records")
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
        self.state.variants = rows

    def _note_shared(self) -> None:
        needs = self.state.compare_shared
        set_text(
            self.shared_note,
            "This preset runs with " + ", ".join(f"{k} = {v}" for k, v in needs.items()) + " (the comparison only)."
            if needs
            else "",
        )

    # -- results ------------------------------------------------------------------------------------------------
    def started(self) -> None:
        """A comparison began: one empty cell and one chart line per variant."""
        self._frames_encoder.reset()
        labels = list(self.state.labels)
        self._cells = [
            # Panel writes alt_text into the tag as a Python repr, not HTML-escaped: a label's quotes are escaped here
            pn.pane.JPG(None, sizing_mode="scale_width", embed=True, alt_text=f"Result of {as_html(label, 80)}")
            for label in labels
        ]
        self._cell_pngs = []
        self._cell_downloads = [
            pn.widgets.FileDownload(
                callback=partial(self._cell_file, i),
                filename=f"nst-cell-{i + 1}.png",
                label="PNG",
                width=70,
                height=30,
                disabled=True,
                css_classes=["nst-cell-download"],
            )
            for i in range(len(labels))
        ]
        # Each cell as wide as the screen allows (two to four a row on a laptop or projector, one on a phone), its
        # label in full under it, wrapped (the PNG button once covered "style conv1_1+conv2_").
        shape = self.state.run.sweep_shape
        cells = [
            pn.Column(
                cell,
                *([] if shape else [plain_text(label, styles=LABEL_STYLE, sizing_mode="stretch_width")]),
                download,
                css_classes=["nst-cell"],
                margin=4,
                styles={} if shape else {"flex": f"1 1 {CELL_BASIS}px", "max-width": f"{CELL_MAX}px"},
            )
            for cell, label, download in zip(self._cells, labels, self._cell_downloads)
        ]
        self.grid.objects = [sweep_grid(cells, *shape)] if shape else cells  # a sweep: its headings say the labels
        self.zoomed.objects = []
        self.zoomed.visible = False
        self.zoom_button.disabled = True
        self._keys = [f"variant_{i}" for i in range(len(labels))]
        fig, self._source = loss_figure(self._keys, title=VIEW_TITLES[self.chart_view.value], labels=labels)
        # Besides the weighted totals (which differ by construction between alpha/beta variants): each variant's
        # content term / alpha and its style terms / (beta * w_l), which do compare across variants.
        self._source.data = {
            **self._source.data,
            **{f"{part}_{key}": [] for key in self._keys for part in ("content", "style")},
        }
        self._weights = [self._variant_weights(row) for row in self.state.variants[: len(labels)]]
        self.chart.object = fig
        self._show_view()
        self.cells_filled = 0
        self.set_grid_png(None)

    @staticmethod
    def _variant_weights(row: dict[str, Any]) -> dict[str, float]:
        try:
            style = nstcore.parse_layers(str(row.get("style_layers", "")))
            content = nstcore.parse_layers(str(row.get("content_layers", "")))
            return term_weights(float(row["alpha"]), float(row["beta"]), float(row["tv"]), content, style)
        except (nstcore.ConfigError, KeyError, TypeError, ValueError):
            return {}

    def _show_view(self) -> None:
        fig = self.chart.object
        if fig is None:
            return
        view = self.chart_view.value
        for renderer in fig.renderers:
            key = renderer.name
            if key:
                renderer.glyph.y = key if view == "total" else f"{view}_{key}"
        fig.title.text = VIEW_TITLES[view]
        set_text(self.chart_note, undrawn(view, self._weights, self.state.labels))

    def apply(self, handover: Handover) -> None:
        """What the job handed over since the last tick: loss rows now, the cells' frames once encoded."""
        self.apply_rows(handover)
        if handover.frames is not None:
            self._frames_encoder.offer(handover.frames)

    def finished(self) -> None:
        """The comparison ended: its grid and each cell's PNG are made on workers, then offered for download."""
        state = self.state
        in_background(state.grid_png, self.set_grid_png, lambda exc: state.log_failure("grid", exc))
        in_background(state.cell_pngs, self.set_cell_pngs, lambda exc: state.log_failure("cells", exc))

    def apply_rows(self, handover: Handover) -> None:
        """Put the worker's new loss rows into the chart (session event loop only)."""
        if handover.rows and self._source is not None:
            data: dict[str, list[float]] = {"step": [s for s, _ in handover.rows]}
            for i, key in enumerate(self._keys):
                weights = self._weights[i] if i < len(self._weights) else {}
                # the weights' keys are the terms already ("style:conv1_1"): prefixing them again named no term,
                # and every style line was NaN (an empty chart)
                terms = ["total", "content", *[n for n in weights if n.startswith("style:")]]
                column = rows_to_columns([(s, losses[i]) for s, losses in handover.rows], terms, weights)
                data[key] = data["u_" + key] = column["total"]
                data[f"content_{key}"] = column["u_content"]
                style = [column[f"u_{column_key(t)}"] for t in terms[2:]]
                data[f"style_{key}"] = [_sum_shown([values[j] for values in style]) for j in range(len(handover.rows))]
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
        if data is not None:
            self.grid_download.filename = self.state.result_filename().replace("nst-", "nst-compare-", 1)
        self.grid_download.disabled = data is None

    def set_cell_pngs(self, pngs: list[bytes]) -> None:
        """Each cell's PNG (made on a worker when the comparison ended): a download under every cell, and the
        shared-zoom view of them all."""
        self._cell_pngs = pngs
        stem = self.state.result_filename().removesuffix(".png")
        for i, download in enumerate(self._cell_downloads):
            download.filename = f"{stem}-cell{i + 1}.png"
            download.disabled = i >= len(pngs)
        self.zoom_button.disabled = not pngs

    def _cell_file(self, index: int) -> io.BytesIO | None:
        return io.BytesIO(self._cell_pngs[index]) if index < len(self._cell_pngs) else None

    def _zoom(self) -> None:
        """Every cell at full resolution, zooming and panning together; pressing again closes the view."""
        if self.zoomed.visible:
            self.zoomed.visible = False
            self.zoom_button.label = ZOOM_LABEL
            return
        frames, labels = list(self.state.result or ()), list(self.state.labels)
        if not frames:
            return

        def show(planes: list) -> None:
            # A grid of up to three columns that share the width (each figure scales with it): in a FlexBox the
            # Bokeh figures were laid out empty, only their toolbars' dots showed (issue 24).
            figures = zoom_figures(planes, labels, width=ZOOM_CELL_MAX, scale=True)
            panes = [pn.pane.Bokeh(f, sizing_mode="stretch_width") for f in figures]
            self.zoomed.objects = [pn.GridBox(*panes, ncols=min(len(panes), 3), sizing_mode="stretch_width")]
            self.zoomed.visible = True
            self.zoom_button.label = "Close the zoom view"

        in_background(lambda: rgba_planes(frames), show, lambda exc: self.state.log_failure("zoom", exc))

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
            pn.FlexBox(self.preset, self.load, self.add, self.remove, align_items="end"),
            self.sweep,
            self.shared_note,
            self.table,
            self.grid,
            self.zoom_button,
            self.zoomed,
            self.chart_view,
            self.chart_note,
            self.chart,
            pn.Row(self.grid_download, self.json_download),
            sizing_mode="stretch_width",
        )
