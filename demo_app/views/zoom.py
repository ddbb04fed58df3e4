"""Enlarge and zoom: results at full resolution in Bokeh plots whose pan and zoom are shared across the cells.

A comparison is read by looking at the same spot of every cell; one mouse wheel over any cell zooms all of them
(their ranges are shared), and a double-click resets. The single run's result gets the same view, alone. The pixels
are prepared on a worker thread (:func:`rgba_planes`); the figures are made on the session's loop, like every Bokeh
model of the page.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from bokeh.models import Range1d
from bokeh.plotting import figure

from ..session.text import capped

CELL_WIDTH = 320  # px on the page per cell; the picture keeps its aspect


def rgba_planes(images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """HxWx3 uint8 images as the HxW uint32 RGBA planes Bokeh's ``image_rgba`` draws (bottom row first)."""
    planes = []
    for image in images:
        height, width = image.shape[:2]
        rgba = np.empty((height, width, 4), dtype=np.uint8)
        rgba[..., :3] = image[..., :3]
        rgba[..., 3] = 255
        planes.append(np.ascontiguousarray(rgba[::-1]).view(np.uint32).reshape(height, width))
    return planes


def zoom_figures(
    planes: Sequence[np.ndarray], labels: Sequence[str], width: int = CELL_WIDTH, scale: bool = False
) -> list:
    """One figure per image, all sharing one pair of ranges (zoom one, zoom all). Labels are drawn as plain text.
    With ``scale`` the figure shrinks with a narrow screen (keeping its aspect), up to ``width``."""
    height, wide = planes[0].shape
    x_range = Range1d(start=0, end=wide, bounds=(0, wide))
    y_range = Range1d(start=0, end=height, bounds=(0, height))
    figures = []
    for plane, label in zip(planes, labels):
        fig = figure(
            x_range=x_range,
            y_range=y_range,
            width=width,
            height=max(60, round(width * height / wide)),
            tools="wheel_zoom,pan,box_zoom,reset,save",
            active_scroll="wheel_zoom",
            toolbar_location="above",
            title=capped(label, 60) if label else None,
            match_aspect=True,
        )
        fig.toolbar.logo = None
        if scale:
            fig.sizing_mode, fig.max_width = "scale_width", width
        fig.image_rgba(image=[plane], x=0, y=0, dw=plane.shape[1], dh=plane.shape[0])
        fig.axis.visible = False
        fig.grid.visible = False
        figures.append(fig)
    return figures
