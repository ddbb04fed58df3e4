"""A comparison's results as one labelled picture (one cell per variant, the label under each), and a sweep's as a
table with its row and column headings (Gatys et al.'s Figure 3: style layers down, α/β across)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .variants import clean_label

LABEL_LINE = 14
MIN_CELL = 128
LABEL_LINES = 2
GAP = 6


def grid_image(images: Sequence[np.ndarray], labels: Sequence[str], columns: int | None = None) -> Image.Image:
    """Lay out HxWx3 uint8 images (all the same size) in a grid with a label strip under each cell."""
    if not images or len(images) != len(labels):
        raise ValueError("grid_image needs one label per image and at least one image")
    height, width = images[0].shape[:2]
    if width < MIN_CELL:  # tiny previews (48 px runs) are blown up so that the labels fit under them
        factor = math.ceil(MIN_CELL / width)
        images = [
            np.asarray(
                Image.fromarray(np.asarray(a)).resize((width * factor, height * factor), Image.Resampling.NEAREST)
            )
            for a in images
        ]
        height, width = height * factor, width * factor
    columns = columns or min(4, len(images))
    rows = math.ceil(len(images) / columns)
    cell_h = height + LABEL_LINE * LABEL_LINES + 6
    canvas = Image.new("RGB", (columns * width + (columns + 1) * GAP, rows * cell_h + (rows + 1) * GAP), "white")
    draw = ImageDraw.Draw(canvas)
    font = label_font()
    for i, (array, label) in enumerate(zip(images, labels)):
        x = GAP + (i % columns) * (width + GAP)
        y = GAP + (i // columns) * (cell_h + GAP)
        canvas.paste(Image.fromarray(np.asarray(array)), (x, y))
        for line_no, line in enumerate(_wrap(draw, label, font, width - 4)):
            draw.text((x + 2, y + height + 3 + line_no * LABEL_LINE), line, fill=(20, 20, 20), font=font)
    return canvas


HEADING_WIDTH = 150  # px: the row headings' column ("style conv1_1..conv5_1" in two lines)
HEADING_LINES = 2


def sweep_image(
    images: Sequence[np.ndarray], rows: Sequence[str], columns: Sequence[str], scale: int = 1
) -> Image.Image:
    """HxWx3 uint8 images, row by row, under their column headings and beside their row headings."""
    if not images or len(images) != len(rows) * len(columns):
        raise ValueError("sweep_image needs one image per row and column")
    height, width = images[0].shape[:2]
    factor = max(1, scale, math.ceil(MIN_CELL / width))  # tiny cells are blown up so that headings fit over them
    height, width = height * factor, width * factor
    top = GAP + LABEL_LINE * HEADING_LINES + 4
    canvas = Image.new(
        "RGB",
        (HEADING_WIDTH + len(columns) * (width + GAP) + GAP, top + len(rows) * (height + GAP) + GAP),
        "white",
    )
    draw = ImageDraw.Draw(canvas)
    font = label_font()
    for c, heading in enumerate(columns):
        x = HEADING_WIDTH + GAP + c * (width + GAP)
        for n, line in enumerate(_wrap(draw, heading, font, width - 4)):
            draw.text((x + 2, GAP + n * LABEL_LINE), line, fill=(20, 20, 20), font=font)
    for r, heading in enumerate(rows):
        y = top + r * (height + GAP)
        for n, line in enumerate(_wrap(draw, heading, font, HEADING_WIDTH - 8)):
            draw.text((GAP, y + 2 + n * LABEL_LINE), line, fill=(20, 20, 20), font=font)
        for c in range(len(columns)):
            cell = Image.fromarray(np.asarray(images[r * len(columns) + c]))
            if factor > 1:
                cell = cell.resize((width, height), Image.Resampling.NEAREST)
            canvas.paste(cell, (HEADING_WIDTH + GAP + c * (width + GAP), y))
    return canvas


def label_font(size: int = 12) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """DejaVu Sans where the system has it (it writes α/β = 1×10⁻⁴; Pillow's own font draws boxes for α, × and the
    superscripts), else Pillow's own."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default(size=size)


def _fit(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> int:
    """The longest prefix of ``text`` (at least one character) that fits ``width``, by bisection: O(log n) text
    measurements instead of one per character removed (a 3,000-character label took 28 s the old way)."""
    lo, hi = 1, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid], font=font) <= width:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _wrap(draw: ImageDraw.ImageDraw, text: str, font, width: int) -> list[str]:
    """Break ``text`` into at most LABEL_LINES lines that fit ``width`` (at spaces, '+' or '..' where possible)."""
    lines: list[str] = []
    rest = clean_label(text, "")
    while rest and len(lines) < LABEL_LINES:
        cut = _fit(draw, rest, font, width)
        if cut < len(rest):
            soft = max(rest.rfind(" ", 0, cut), rest.rfind("+", 0, cut), rest.rfind(".", 0, cut))
            cut = soft + 1 if soft > 0 else cut
        lines.append(rest[:cut].strip())
        rest = rest[cut:].lstrip()
    if rest and lines:
        last = lines[-1]
        lines[-1] = last[: _fit(draw, last + "…", font, width) - 1] + "…" if last else "…"
    return lines
