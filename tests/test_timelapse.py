"""Time-lapses: frames kept evenly over any run length, GIF and MP4 written, the CLI's --timelapse, bad input."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import CONTENT, STYLE, nst
from PIL import Image

from nstcore import ConfigError, FrameKeeper, timelapse_bytes


def frames(count: int, size=(40, 30)) -> list[np.ndarray]:
    width, height = size
    return [np.full((height, width, 3), 10 * i % 256, dtype=np.uint8) for i in range(count)]


def test_frame_keeper_stays_bounded_and_spread_over_the_whole_run() -> None:
    keeper: FrameKeeper[int] = FrameKeeper(limit=10)
    for i in range(1000):
        keeper.offer(i)
    assert 5 <= len(keeper) <= 10
    assert keeper.frames[0] == 0 and keeper.frames[-1] > 800  # the start and (nearly) the end are both there
    gaps = {b - a for a, b in zip(keeper.frames, keeper.frames[1:])}
    assert len(gaps) == 1  # evenly spaced
    short: FrameKeeper[int] = FrameKeeper(limit=10)
    for i in range(7):
        short.offer(i)
    assert short.frames == list(range(7))


def test_gif_has_every_frame_and_holds_the_last() -> None:
    data = timelapse_bytes(frames(12), "gif")
    gif = Image.open(io.BytesIO(data))
    assert gif.format == "GIF" and gif.n_frames == 12 and gif.size == (40, 30)
    gif.seek(11)
    assert gif.info["duration"] >= 1000


def test_mp4_is_h264_in_an_mp4_container_and_copes_with_odd_and_growing_frames() -> None:
    growing = frames(3, (21, 15)) + frames(5, (43, 31))  # coarse to fine: frames grow; odd sides
    data = timelapse_bytes(growing, "mp4")
    assert data[4:8] == b"ftyp" and b"avc1" in data[:4096] and len(data) > 500


@pytest.mark.parametrize("given, kind, words", [([], "gif", "no frames"), (frames(2), "webm", "not 'webm'")])
def test_bad_requests_get_a_sentence(given, kind, words) -> None:
    with pytest.raises(ConfigError, match=words):
        timelapse_bytes(given, kind)


def test_cli_writes_a_timelapse(tmp_path) -> None:
    out, gif = tmp_path / "out.png", tmp_path / "run.gif"
    common = [str(CONTENT), str(STYLE), "-o", str(out), "--weights", "random", "--size", "32", "--no-progress"]
    made = nst(*common, "--steps", "6", "--preview-every", "2", "--timelapse", str(gif))
    assert made.returncode == 0, made.stderr
    assert Image.open(gif).n_frames == 3  # steps 2, 4, 6
    bad = nst(*common, "--steps", "2", "--timelapse", str(tmp_path / "run.avi"))
    assert bad.returncode == 2 and "must end in .gif or .mp4" in bad.stderr and "Traceback" not in bad.stderr
