"""The "More styles" card: several style images blended by live weights, and regions painted over the content image.

Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer") blend styles by weighting each one's
Gram terms, and put each style in its own region with guided Gram matrices (nstcore.masks). Here a visitor adds
style images (each with a weight slider that acts during a run), then draws around the region each style should
cover, right over the content image (a Bokeh freehand tool: a closed stroke fills in), or uploads a mask. A style
without a region goes everywhere.

Everything is built per session, and only when the card is first opened: its two uploaders and its drawing figure
cost a browser nothing until someone wants them. Rasterising the strokes and decoding uploads run on worker threads.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import panel as pn
import param
from bokeh.events import PanEnd
from bokeh.models import ColumnDataSource, FreehandDrawTool, Range1d
from bokeh.plotting import figure
from PIL import Image, ImageDraw

import nstcore

from ..session.imaging import REGION_COLOURS, PreparedMask, mask_thumbnail
from ..session.state import SessionState
from .loop import decoder, in_background, unique_key
from .reach import with_focus_ring
from .two_way import NoEcho
from .uploads import image_uploader
from .widgets import LazyCard, clicks

# The drawing canvas: the content image at this long side (what a sidebar fits; strokes are scaled to the image).
CANVAS_SIDE = 290
HELP = (
    "Add a second or third painting to **blend** them: each slider sets that style's share of β, live during a run. "
    "To put each style **in its own place**, pick it below and draw around its region over the photo (a closed "
    "stroke fills in), or upload a mask (white = here). A style without a region goes everywhere. *Style scale* "
    "(Run settings) still sets the size of the brush strokes for every style."
)


def hex_colour(index: int) -> str:
    r, g, b = REGION_COLOURS[index % len(REGION_COLOURS)]
    return f"#{r:02x}{g:02x}{b:02x}"


def rasterise(strokes: dict[str, list], size: tuple[int, int], canvas: tuple[float, float], styles: int) -> dict:
    """Masks from the drawn patches: ``{style index: PreparedMask}`` for each style that has strokes. ``canvas``
    is the drawing's (width, height) in its data units; y points up there, down in the image."""
    width, height = size
    sx, sy = width / canvas[0], height / canvas[1]
    layers: dict[int, Image.Image] = {}
    for xs, ys, colour in zip(strokes.get("xs", []), strokes.get("ys", []), strokes.get("colour", [])):
        index = next((i for i in range(styles) if hex_colour(i) == colour), None)
        points = [(float(x) * sx, (canvas[1] - float(y)) * sy) for x, y in zip(xs, ys)]
        if index is None or len(points) < 3:
            continue
        layer = layers.setdefault(index, Image.new("L", size, 0))
        ImageDraw.Draw(layer).polygon(points, fill=255)
    out = {}
    for index, layer in layers.items():
        if np.asarray(layer).max() > 0:
            out[index] = PreparedMask(layer, mask_thumbnail(layer, index), nstcore.file_sha256(layer.tobytes()))
    return out


def overlay_planes(masks: dict[int, Image.Image], size: tuple[int, int]) -> np.ndarray:
    """The masks at the canvas size, each in its style's colour at 45 % opacity, as Bokeh's packed RGBA (bottom row
    first)."""
    out = np.zeros((size[1], size[0], 4), np.uint8)
    for index, mask in masks.items():
        alpha = np.asarray(mask.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255 * 0.45
        where = alpha > out[..., 3] / 255
        out[where, :3] = REGION_COLOURS[index % len(REGION_COLOURS)]
        out[where, 3] = (alpha[where] * 255).astype(np.uint8)
    rgba = np.flipud(out).copy()
    return rgba.view(np.uint32).reshape(rgba.shape[:2])


class StylesView(LazyCard):
    """The card's widgets for one session (built when the card is first opened)."""

    masks_painted = param.Integer(default=0, doc="Times the drawn regions became masks (tests).")

    def __init__(self, state: SessionState, **params) -> None:
        super().__init__("More styles: blend, regions", "nst-styles-card", **params)
        self.state = state
        self._painted_from: set[int] = set()  # styles whose region came from the drawing
        self._stroke_styles: list[int] = []  # the style of each drawn stroke, in order

    # -- building ---------------------------------------------------------------------------------------------------
    def build(self) -> None:
        state = self.state
        limit = state.limits.max_upload_bytes
        self.add_upload = image_uploader(
            limit,
            "upload-extra-style",
            self._style_uploaded,
            partial(self._refused, "The style upload"),
            state.upload_budget(),
        )
        self.rows = pn.Column(sizing_mode="stretch_width", css_classes=["nst-style-rows"])
        self.paint_for = pn.widgets.RadioButtonGroup(
            options=["style 1"], value="style 1", css_classes=["nst-paint-for"]
        )
        self.paint_for.param.watch(lambda e: self._pick_colour(), "value")
        self.undo = pn.widgets.Button(label="Undo stroke", width=110, css_classes=["nst-undo-stroke"])
        self.undo.on_click(clicks(self._undo))
        self.clear = pn.widgets.Button(label="Clear regions", width=120, css_classes=["nst-clear-regions"])
        self.clear.on_click(clicks(self._clear))
        self.mask_upload = image_uploader(
            limit, "upload-mask", self._mask_uploaded, partial(self._refused, "The mask upload"), state.upload_budget()
        )
        self.note = pn.pane.HTML("", styles={"font-size": "12px"}, margin=(0, 10), css_classes=["nst-mask-note"])
        self._strokes = ColumnDataSource({"xs": [], "ys": [], "colour": []})
        self._canvas_source = ColumnDataSource({"image": [], "dw": [], "dh": []})
        self._overlay_source = ColumnDataSource({"image": [], "dw": [], "dh": []})
        self.canvas = self._make_canvas()
        # A stroke reaches the server point by point (patches of the source); its end is the moment to rasterise.
        self._fig.on_event(PanEnd, lambda event: self._painted())
        self.body.objects = [
            pn.pane.Markdown(HELP, styles={"font-size": "13px"}, margin=(0, 10)),
            pn.pane.HTML("Add a style image", styles={"font-size": "13px"}, margin=(4, 10, 0, 10)),
            self.add_upload,
            self.rows,
            pn.pane.HTML("<b>Regions</b>: draw around where a style goes", margin=(6, 10, 0, 10)),
            self.paint_for,
            self.canvas,
            pn.Row(self.undo, self.clear),
            pn.pane.HTML("…or upload a mask for the chosen style", styles={"font-size": "13px"}, margin=(4, 10, 0, 10)),
            self.mask_upload,
            self.note,
        ]
        state.param.watch(lambda e: self._refresh(), ["styles_version", "mask_note"])
        # a blend change moves the sliders in place: rebuilding the rows dropped a keyboard user's focus to <body>
        # after one arrow press (issue 24)
        # The sliders and the blend are a two-way pair: a slider's own move must not come back to it (under load
        # Panel hands a moving handle's newer value over with its older throttled one, and the echo of the older
        # one pulled the handle back).
        self._no_echo = NoEcho()
        state.param.watch(self._no_echo(lambda e: self._blend_changed()), "style_blend")
        state.param.watch(lambda e: self._content_changed(), ["images_version"])
        self._content_changed()
        self._refresh()

    def _make_canvas(self) -> pn.pane.Bokeh:
        fig = figure(
            width=CANVAS_SIDE,
            height=CANVAS_SIDE,
            # fixed ranges (set to the photo's size): auto ranges would zoom out to fit every stroke drawn past
            # the photo's edge
            x_range=Range1d(start=0, end=CANVAS_SIDE),
            y_range=Range1d(start=0, end=CANVAS_SIDE),
            tools="",
            toolbar_location=None,
            x_axis_type=None,
            y_axis_type=None,
            min_border=0,
        )
        fig.grid.visible = False
        fig.outline_line_color = None
        fig.image_rgba(image="image", x=0, y=0, dw="dw", dh="dh", source=self._canvas_source)
        # uploaded masks, tinted in their style's colour (drawn regions show as their strokes)
        fig.image_rgba(image="image", x=0, y=0, dw="dw", dh="dh", source=self._overlay_source)
        patches = fig.patches(
            "xs",
            "ys",
            source=self._strokes,
            fill_color="colour",
            fill_alpha=0.45,
            line_color="colour",
            line_width=2,
        )
        self._draw = FreehandDrawTool(renderers=[patches], empty_value=hex_colour(0))  # type: ignore[list-item]
        fig.add_tools(self._draw)
        fig.toolbar.active_drag = self._draw
        self._fig = fig
        return pn.pane.Bokeh(fig, css_classes=["nst-paint-canvas"])

    # -- styles -----------------------------------------------------------------------------------------------------
    def _refresh(self) -> None:
        """The rows (one per style: thumbnail, weight, region, remove) and the painter's style choice."""
        state = self.state
        count = state.style_count
        blend = list(state.style_blend) or [1.0] * count
        rows: list[Any] = []
        self._blend_sliders: list[pn.widgets.FloatSlider] = []
        if count > 1:
            for index in range(count):
                prepared = state.style_image if index == 0 else state.extra_styles[index - 1]
                thumb = _small_picture(prepared.thumb_png if prepared else None, f"Style image {index + 1}")
                region = state.masks.get(index)
                shown = _small_picture(region.overlay_png if region else None, f"Region of style {index + 1}")
                slider = pn.widgets.FloatSlider(
                    label=f"Style {index + 1} weight",
                    start=0.0,
                    end=1.0,
                    step=0.05,
                    value=min(max(blend[index], 0.0), 1.0),
                    width=110,
                    css_classes=[f"nst-blend-{index + 1}"],
                )
                slider.param.watch(self._no_echo(partial(self._blend_moved, index)), "value_throttled")
                self._blend_sliders.append(slider)
                parts: list[Any] = [thumb, slider, shown]
                if index > 0:
                    remove = pn.widgets.Button(
                        label="✕",
                        description=f"Remove style {index + 1}",
                        width=34,
                        css_classes=[f"nst-remove-style-{index + 1}"],
                    )
                    remove.on_click(clicks(partial(state.remove_style, index)))
                    parts.append(remove)
                rows.append(pn.Row(*parts, align="start"))
        with_focus_ring(*rows)
        self.rows.objects = rows
        options = [f"style {i + 1}" for i in range(count)]
        if self.paint_for.options != options:
            value = self.paint_for.value if self.paint_for.value in options else options[0]
            self.paint_for.param.update(options=options, value=value)
        self._show_uploaded_masks()
        self.note.object = state.mask_note or (
            f"Regions: {', '.join(f'style {i + 1}' for i in sorted(state.masks))}; other styles go everywhere."
            if state.masks
            else ""
        )
        self.add_upload.disabled = count >= state.limits.max_styles

    def _blend_changed(self) -> None:
        state = self.state
        if len(self._blend_sliders) != (state.style_count if state.style_count > 1 else 0):
            self._refresh()
            return
        blend = list(state.style_blend) or [1.0] * state.style_count
        for slider, weight in zip(self._blend_sliders, blend):
            weight = min(max(weight, 0.0), 1.0)
            if slider.value != weight:
                with param.edit_constant(slider):  # both: a later move to this same weight must still be an event
                    slider.param.update(value=weight, value_throttled=weight)

    def _blend_moved(self, index: int, event: param.parameterized.Event) -> None:
        self.state.set_blend(index, event.new)

    def _style_uploaded(self, filename: str, data: bytes) -> None:
        state = self.state

        decoder(state).submit(
            unique_key("style"),
            lambda: state.prepare_upload(data, filename),
            state.add_style,
            partial(state.upload_failed, filename, "The upload"),
        )

    def _refused(self, what: str, filename: str, size: int) -> None:
        self.state.upload_too_large(filename, what)

    # -- regions ----------------------------------------------------------------------------------------------------
    def _chosen(self) -> int:
        return int(str(self.paint_for.value).split()[-1]) - 1

    def _pick_colour(self) -> None:
        self._draw.empty_value = hex_colour(self._chosen())

    def _content_changed(self) -> None:
        """The photo to draw on (small: strokes are scaled to the real image when they become masks)."""
        content = self.state.content
        if content is None:
            return
        shown = content.copy()
        shown.thumbnail((CANVAS_SIDE, CANVAS_SIDE))
        rgba = np.flipud(np.asarray(shown.convert("RGBA"))).copy()  # Bokeh's image origin is the bottom left
        planes = rgba.view(np.uint32).reshape(rgba.shape[:2])
        self._canvas_size = (float(shown.width), float(shown.height))
        self._canvas_source.data = {"image": [planes], "dw": [shown.width], "dh": [shown.height]}
        self._fig.x_range.update(start=0, end=shown.width)
        self._fig.y_range.update(start=0, end=shown.height)
        self._fig.height = max(40, round(CANVAS_SIDE * shown.height / shown.width))
        self._strokes.data = {"xs": [], "ys": [], "colour": []}
        self._painted_from, self._stroke_styles = set(), []

    def _show_uploaded_masks(self) -> None:
        """Tint the canvas where uploaded masks put their styles (computed on a worker; drawn regions have strokes)."""
        uploaded = {i: m.image for i, m in self.state.masks.items() if i not in self._painted_from}
        size = getattr(self, "_canvas_size", None)
        if size is None:
            return
        if not uploaded:
            self._overlay_source.data = {"image": [], "dw": [], "dh": []}
            return

        def show(planes: np.ndarray) -> None:
            self._overlay_source.data = {"image": [planes], "dw": [size[0]], "dh": [size[1]]}

        in_background(lambda: overlay_planes(uploaded, (round(size[0]), round(size[1]))), show)

    def _painted(self) -> None:
        """A stroke ended (or strokes were undone): give new strokes the chosen style's colour, then turn all of
        them into masks on a worker. The style of a stroke is decided here, on the server, when it ends: the tool's
        own fill value (``empty_value``) is only the colour the stroke shows while it is drawn."""
        state = self.state
        if state.content is None:
            return
        strokes = {key: list(values) for key, values in self._strokes.data.items()}
        count = len(strokes.get("xs", []))
        self._stroke_styles = (self._stroke_styles + [self._chosen()] * count)[:count]
        colours = [hex_colour(i) for i in self._stroke_styles]
        if strokes.get("colour") != colours:
            strokes["colour"] = colours
            self._strokes.data = dict(strokes)
        size, canvas, styles = state.content.size, self._canvas_size, state.style_count

        def apply(masks: dict) -> None:
            # a style whose strokes were all undone loses its painted region (an uploaded one stays)
            state.replace_masks(masks, drop=self._painted_from - set(masks))
            self._painted_from = set(masks)
            self.masks_painted += 1

        in_background(
            lambda: rasterise(strokes, size, canvas, styles), apply, lambda exc: state.log_failure("paint", exc)
        )

    def _undo(self) -> None:
        data = {key: list(values) for key, values in self._strokes.data.items()}
        if data["xs"]:
            for values in data.values():
                values.pop()
            self._stroke_styles = self._stroke_styles[: len(data["xs"])]
            self._strokes.data = data
            self._painted()  # the remaining strokes paint the regions again

    def _clear(self) -> None:
        self._strokes.data = {"xs": [], "ys": [], "colour": []}
        self._painted_from, self._stroke_styles = set(), []
        self.state.clear_masks()

    def _mask_uploaded(self, filename: str, data: bytes) -> None:
        state, index = self.state, self._chosen()

        decoder(state).submit(
            f"mask-{index}",
            lambda: state.prepare_mask(data, index, filename),
            partial(state.set_mask, index),
            partial(state.upload_failed, filename, "The mask"),
        )


def _small_picture(png: bytes | None, alt: str) -> pn.pane.PNG:
    """A 48-px thumbnail in a style's row, named for screen readers."""
    return pn.pane.PNG(png, width=48, height=48, fixed_aspect=True, alt_text=alt)
