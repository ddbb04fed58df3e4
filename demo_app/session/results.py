"""What a session's job hands back: polling it on the session's loop (status, step, frames, a trained generator),
the result as a PNG that carries its record, a comparison's grid and cells, the history entry of a finished run and
restoring its settings. Part of :class:`~demo_app.session.state.SessionState`.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Callable

from PIL import Image

import nstcore

from ..jobs.gate import Refused
from ..jobs.scheduler import Handover
from .core import SessionCore
from .history import HistoryItem, make_item
from .imaging import timelapse_from_jpegs


class ResultsPart(SessionCore):
    """The current job's output and the last run's result."""

    @property
    def has_job(self) -> bool:
        """A job was started and its end has not been collected by :meth:`poll` yet."""
        return self.run.active

    def request_frame(self) -> None:
        """Ask the engine for the current image at its next step (the page's own frame clock)."""
        if self.running:
            self.run.request_frame()

    def poll(self) -> Handover:
        """Collect what the job produced since the last call; update status. Call on the session's event loop."""
        handover, status = self.run.poll(self.size, self.step, self.total_steps)
        if handover.notes:
            self.notes = handover.notes
        if handover.frames is not None:
            self.result = handover.frames
        if handover.trained is not None:
            self._trained_pending = handover.trained[0]
        if handover.latest is not None:
            self.step = handover.latest.step
            first = handover.latest.losses[0]
            self.last_losses = {
                "total": first.total,
                "content": first.content,
                "style": sum(first.style.values()),
                "tv": first.tv,
            }
        if status is not None:
            self.status = status
        if handover.finished:
            self.running = False
            pending, self._trained_pending = self._trained_pending, None
            if handover.error:
                self.error = handover.error
            elif pending is not None and self.run.config is not None:
                # a generator run's result, finished or stopped: its generator as of its last picture becomes this
                # session's instant style
                self.trained = (pending, self.run.config)
                self.trained_version += 1
        return handover

    def wait(self, timeout: float = 60.0) -> bool:
        """Block until the job has ended (tests and shutdown)."""
        return self.run.wait(timeout)

    def grid_png(self) -> bytes | None:
        if not self.result or self.mode != "compare":
            return None
        shape = self.run.sweep_shape
        if shape is not None:  # a sweep: its cells under their row and column headings
            image = nstcore.sweep_image(list(self.result), *shape)
        else:
            image = nstcore.grid_image(list(self.result), list(self.labels))
        cells = [
            {"label": label, "config": {k: v for k, v in self.run.cell_record(i).items() if k != "run"}}
            for i, label in enumerate(self.labels)
        ]
        record = nstcore.grid_record(self.run.record_dict(), cells, self.run.sweep or None)
        return nstcore.png_with_config(image, json.dumps(record, indent=2))

    def cell_pngs(self) -> list[bytes]:
        """Each cell of the finished comparison as its own PNG carrying that variant's settings (slow: a worker)."""
        if not self.result or self.mode != "compare":
            return []
        return [
            nstcore.png_with_config(image, json.dumps(self.run.cell_record(i), indent=2))
            for i, image in enumerate(self.result)
        ]

    def timelapse_work(self, jpegs: list[bytes], kind: str) -> Callable[[], bytes] | None:
        """A GIF or MP4 of the kept preview frames ``jpegs`` as a worker-pool task the gate admitted (one of a kind
        per page, a few per visitor, and its memory: every frame is decoded), or None with the refusal in
        ``error``."""
        if jpegs:
            width, height = Image.open(io.BytesIO(jpegs[-1])).size  # the header only: microseconds
            try:
                self.backend.gate.check_timelapse(self.limits, len(jpegs), width, height)
            except Refused as exc:
                self.error = str(exc)
                return None
        return self.gated("timelapse", "A time-lapse", lambda: timelapse_from_jpegs(jpegs, kind))

    def result_png(self) -> bytes | None:
        """The last result as PNG, carrying the run's settings in its ``nst-config`` chunk (load it as a config)."""
        return nstcore.png_with_config(self.result[0], self.run.record_json()) if self.result else None

    def history_entry(self, number: int) -> HistoryItem | None:
        """The single run that just ended, encoded for the history (slow: the page calls it on a worker thread);
        None when it left no picture (stopped before its first frame) or was a comparison."""
        if not self.result or self.mode != "single" or not self.run.record:
            return None
        return make_item(
            number,
            self.result[0],
            self.run.record,
            self.run.record_dict(),
            content_name=self.content_name,
            style_name=self.style_name,
            content_jpeg=self._run_content_jpeg,
            steps_done=self.step,
            losses=self.last_losses,
            filename=self.result_filename(),
        )

    def restore_from_history(self, number: int) -> bool:
        """Put every control back to how run ``number`` started (its live weights as steered)."""
        item = self.history.get(number)
        if item is None:
            self.error = "That run is no longer in the history (it keeps the newest ones); pick another."
            return False
        try:
            config = nstcore.StyleConfig.from_dict(item.record)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self.apply_config(config, f"run #{number}")

    def result_filename(self, when: float | None = None) -> str:
        """``nst-<content>-<style>-<date>-<time>.png``: downloads that say what they are and never overwrite."""
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(when))
        return f"nst-{slug(self.content_name, 'content')}-{slug(self.style_name, 'style')}-{stamp}.png"


def slug(name: str, fallback: str) -> str:
    """A file-name-safe short form of an image's name: ASCII letters, digits and dashes, at most 24 characters."""
    stem = name.rsplit(".", 1)[0] if "." in name else name
    text = re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower()[:24].strip("-")
    return text or fallback
