"""A session's earlier runs: each finished or stopped single run, with its picture, settings and final losses.

Every run used to overwrite the last; now the session keeps its newest runs (``Limits.history_size``) so a participant
can look back, restore a run's settings, or put two results (or a result and its content image) side by side.
Built on a worker thread when a run ends (encoding is slow); no Panel and no torch here.
"""

from __future__ import annotations

import base64
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

import nstcore

from .imaging import PREVIEW_SIDE, encode_jpeg
from .text import capped

HISTORY_THUMB = 112  # thumbnail side in the history strip


@dataclass(frozen=True)
class HistoryItem:
    """One earlier run as the page shows it."""

    number: int  # 1, 2, 3 ... within the session
    when: float
    content_name: str  # capped plain text (visitors name their files)
    style_name: str
    record: Mapping[str, Any]  # the settings as exported (what the PNG carries)
    steps_done: int
    losses: Mapping[str, float]  # total, content, style, tv of the last step
    png: bytes  # the result, carrying its settings (download)
    jpeg: bytes  # the result for the page, at most PREVIEW_SIDE
    thumb: bytes  # the result for the strip
    content_jpeg: bytes  # the content image as it was, for a before/after view
    filename: str = field(default="nst-result.png")

    @property
    def size(self) -> int:
        """Bytes this entry holds (its pictures)."""
        return len(self.png) + len(self.jpeg) + len(self.thumb) + len(self.content_jpeg)

    def caption(self) -> str:
        """``#3 · β 1e+06 · 120/300 steps · loss 2.1e-03``: what tells two runs apart at a glance."""
        steps = self.record.get("steps", self.steps_done)
        done = f"{self.steps_done}/{steps}" if self.steps_done != steps else f"{steps}"
        beta = self.record.get("beta")
        beta_text = f" · β {beta:.0e}" if isinstance(beta, (int, float)) else ""
        return f"#{self.number}{beta_text} · {done} steps · loss {self.losses.get('total', float('nan')):.2g}"

    def details(self) -> list[tuple[str, str]]:
        """(label, value) rows for the page: images, steps, losses and the settings people change most."""
        r = self.record
        rows = [
            ("content", capped(self.content_name, 60)),
            ("style", capped(self.style_name, 60)),
            ("steps", f"{self.steps_done} of {r.get('steps', '?')}"),
            ("final loss", ", ".join(f"{k} {v:.3g}" for k, v in self.losses.items())),
        ]
        for key in ("size", "alpha", "beta", "tv", "optimizer", "init", "model", "pooling", "seed"):
            if key in r:
                value = r[key]
                rows.append((key, f"{value:g}" if isinstance(value, float) else capped(value, 40)))
        layers = r.get("style_layers")
        if isinstance(layers, Mapping):
            rows.append(("style layers", capped(nstcore.format_layers({k: v for k, v in layers.items() if v}), 120)))
        return rows


def make_item(
    number: int,
    result: np.ndarray,
    record: Mapping[str, Any],
    png_record: Mapping[str, Any] | None = None,
    *,
    content_name: str,
    style_name: str,
    content_jpeg: bytes,
    steps_done: int,
    losses: Mapping[str, float],
    filename: str,
    when: float | None = None,
) -> HistoryItem:
    """Encode one run for the history (slow: call it on a worker thread). ``record`` is its settings as steered (what
    "Restore settings" brings back); ``png_record`` the full record its PNG carries (default: ``record``)."""
    import json

    image = Image.fromarray(result)
    shown = image.copy()
    shown.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    thumb = image.copy()
    thumb.thumbnail((HISTORY_THUMB, HISTORY_THUMB))
    return HistoryItem(
        number=number,
        when=time.time() if when is None else when,
        content_name=content_name,
        style_name=style_name,
        record=dict(record),
        steps_done=steps_done,
        losses=dict(losses),
        png=nstcore.png_with_config(result, json.dumps(dict(png_record or record), indent=2)),
        jpeg=encode_jpeg(np.asarray(shown)),
        thumb=encode_jpeg(np.asarray(thumb), quality=80),
        content_jpeg=content_jpeg,
        filename=filename,
    )


class History:
    """The newest runs of one session, oldest dropped first (touched only on the session's event loop)."""

    def __init__(self, size: int, max_bytes: int | None = None) -> None:
        self._items: deque[HistoryItem] = deque(maxlen=size)
        # The entries' bytes at most (Limits.max_history_mb): 12 entries of 2.3 MB each at 1024 px were 852 MB for
        # one address's 32 pages. The newest entry always stays.
        self.max_bytes = max_bytes
        self.numbers = 0  # runs numbered so far (an item's number never changes as older ones drop out)

    def next_number(self) -> int:
        self.numbers += 1
        return self.numbers

    def add(self, item: HistoryItem) -> None:
        self._items.append(item)
        while self.max_bytes is not None and len(self._items) > 1 and self.bytes > self.max_bytes:
            self._items.popleft()

    @property
    def bytes(self) -> int:
        return sum(item.size for item in self._items)

    def get(self, number: int) -> HistoryItem | None:
        return next((item for item in self._items if item.number == number), None)

    def __iter__(self) -> Iterator[HistoryItem]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def data_url(jpeg: bytes) -> str:
    """A JPEG as a ``data:`` URL for an <img> in the page."""
    return "data:image/jpeg;base64," + base64.b64encode(jpeg).decode("ascii")


SETTLED = ("weights", "device", "max_image_pixels", "run")  # not settings a person compares


def differences(records: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """For each record, only the settings whose values differ among ``records`` (what tells the runs apart)."""
    keys = sorted({k for r in records for k in r if k not in SETTLED})
    varying = [k for k in keys if len({_key(r.get(k)) for r in records}) > 1]
    return [{k: r.get(k) for k in varying} for r in records]


def _key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True, default=str)


def _shown_value(value: Any) -> str:
    if isinstance(value, Mapping):
        return nstcore.format_layers({k: v for k, v in value.items() if v}) or "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


def compare_runs(items: list[HistoryItem]) -> tuple[bytes, str, list[str]]:
    """2-8 runs side by side: a labelled grid PNG (each cell's label: its number and only the settings that differ)
    and a JSON with every run's record. Slow: call it on a worker thread."""
    import io
    import json

    if not 2 <= len(items) <= 8:
        raise nstcore.ConfigError(f"Pick 2 to 8 runs to compare; {len(items)} are picked.")
    images = [Image.open(io.BytesIO(item.png)).convert("RGB") for item in items]
    width, height = max(i.width for i in images), max(i.height for i in images)
    cells = []
    for image in images:  # runs of different sizes share one cell size: scaled to fit, centred on white
        scale = min(width / image.width, height / image.height)
        fitted = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.LANCZOS)
        canvas = Image.new("RGB", (width, height), "white")
        canvas.paste(fitted, ((width - fitted.width) // 2, (height - fitted.height) // 2))
        cells.append(np.asarray(canvas))
    diffs = differences([item.record for item in items])
    labels = [
        capped(
            f"#{item.number}: " + (", ".join(f"{k} {_shown_value(v)}" for k, v in diff.items()) or "same settings"), 160
        )
        for item, diff in zip(items, diffs)
    ]
    buf = io.BytesIO()
    nstcore.grid_image(cells, labels).save(buf, format="PNG")
    data = {
        "runs": [
            {"number": item.number, "differs": diff, "record": dict(item.record)} for item, diff in zip(items, diffs)
        ]
    }
    return buf.getvalue(), json.dumps(data, indent=2, default=str), labels
