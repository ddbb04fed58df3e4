"""Time-lapses: the emergence of style over a run (the teaching point of Gatys et al.'s method), as GIF or MP4.

Frames are the run's preview images, in order. GIF needs only Pillow; MP4 (H.264, yuv420p: plays in every browser
and phone) uses the static ffmpeg binary of the ``imageio-ffmpeg`` wheel. The engine never calls this; the CLI
(``--timelapse out.gif``) and the page do, at the edges.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
from PIL import Image

from .errors import ConfigError

FORMATS = (".gif", ".mp4")
FPS = 10  # 300 steps with a frame every 10: a 3 s clip, long enough to watch the style arrive
HOLD_LAST = 1.5  # seconds the finished picture stays on screen before a player loops


T = TypeVar("T")
MAX_FRAMES = 240  # 24 s at 10 fps; a longer run keeps every 2nd, 4th ... frame so memory stays flat


class FrameKeeper(Generic[T]):
    """Keeps at most ``limit`` frames spread evenly over a run of any length: when full, every other frame is
    dropped and from then on only every 2nd (4th ...) offered frame is kept."""

    def __init__(self, limit: int = MAX_FRAMES) -> None:
        self.limit = max(2, limit)
        self.frames: list[T] = []
        self._stride, self._offered = 1, 0

    def offer(self, frame: T) -> None:
        self._offered += 1
        if (self._offered - 1) % self._stride:
            return
        self.frames.append(frame)
        if len(self.frames) > self.limit:
            self.frames = self.frames[::2]
            self._stride *= 2

    def __len__(self) -> int:
        return len(self.frames)


def _even(frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Frames cropped to even sides (H.264 with yuv420p needs them) and to the last frame's size (coarse-to-fine
    frames grow; the smaller ones are scaled up)."""
    height, width = frames[-1].shape[:2]
    height, width = height - height % 2, width - width % 2
    out = []
    for frame in frames:
        if frame.shape[:2] != frames[-1].shape[:2]:
            frame = np.asarray(Image.fromarray(frame).resize(frames[-1].shape[1::-1], Image.Resampling.BICUBIC))
        out.append(np.ascontiguousarray(frame[:height, :width, :3]))
    return out


def timelapse_bytes(frames: Sequence[np.ndarray], kind: str, fps: int = FPS) -> bytes:
    """Encode HxWx3 uint8 ``frames`` as ``kind`` ("gif" or "mp4"). Raises ConfigError with one sentence."""
    kind = kind.lower().lstrip(".")
    if not frames:
        raise ConfigError("There are no frames for a time-lapse yet; run for a few steps first.")
    frames = _even(frames)
    if min(frames[-1].shape[:2]) < 2:
        raise ConfigError("The frames are too small for a time-lapse.")
    hold = max(1, round(HOLD_LAST * fps))
    if kind == "gif":
        images = [Image.fromarray(f).quantize(colors=256, method=Image.Quantize.MEDIANCUT) for f in frames]
        durations = [round(1000 / fps)] * (len(images) - 1) + [round(1000 * HOLD_LAST)]
        buf = io.BytesIO()
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], duration=durations, loop=0)
        return buf.getvalue()
    if kind == "mp4":
        import imageio_ffmpeg

        height, width = frames[-1].shape[:2]
        handle, name = tempfile.mkstemp(suffix=".mp4")
        os.close(handle)
        try:
            writer = imageio_ffmpeg.write_frames(
                name,
                (width, height),
                fps=fps,
                codec="libx264",
                pix_fmt_out="yuv420p",
                quality=8,
                macro_block_size=2,
                ffmpeg_log_level="error",
            )
            writer.send(None)
            for frame in [*frames, *[frames[-1]] * (hold - 1)]:
                writer.send(frame)
            writer.close()
            return Path(name).read_bytes()
        finally:
            Path(name).unlink(missing_ok=True)
    raise ConfigError(f"A time-lapse is a .gif or an .mp4, not {kind!r}.")


def write_timelapse(frames: Sequence[np.ndarray], path: str | os.PathLike, fps: int = FPS) -> None:
    """Write ``frames`` to ``path``; the suffix (.gif or .mp4) picks the format."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(f"--timelapse {os.fspath(path)} must end in .gif or .mp4.")
    data = timelapse_bytes(frames, suffix, fps)
    try:
        Path(path).write_bytes(data)
    except OSError as exc:
        raise ConfigError(f"Could not write the time-lapse {os.fspath(path)} ({exc.strerror}).") from None
