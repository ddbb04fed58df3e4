"""Rerunning a record: the settings a result PNG (or record JSON) carries, every change steered into its run applied
at the step it took effect, stopping where it stopped. The command line's ``--config`` and :func:`replay_record`
share it; on a CPU in fp32 the rerun makes the same pixels (on the record's number of CPU threads)."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .config import StyleConfig
from .controls import Controls
from .progress import Progress
from .records import changes_by_step, every_layer, recorded_threads, replay


def recorded_snapshots(
    config: StyleConfig,
    record: Mapping[str, Any],
    content: Any,
    style: Any,
    *,
    masks: Any = None,
    device: Any = "cpu",
    progress: bool = False,
    start: Any = None,
) -> tuple[Generator[Progress, None, None], dict[int, Any]]:
    """The snapshots of ``config``'s run on these images, replaying ``record``'s changes (its ``"run"`` part) at their
    steps and stopping where it stopped; and those changes by step."""
    from .engine import run

    changes = changes_by_step(config, record) if record else {}
    # A record from the page: every layer listed, as the page runs it, so a layer switched on mid-run exists.
    running = every_layer(config) if "changes" in record else config
    controls = Controls([running.loss_weights()], lr=running.effective_lr)
    snapshots = run(
        running, content, style, masks=masks, device=device, controls=controls, progress=progress, start=start
    )
    if changes:
        snapshots = replay(snapshots, controls, changes, config)
    done = record.get("steps_done")
    if isinstance(done, int) and not isinstance(done, bool) and 1 <= done < config.steps:
        snapshots = until(snapshots, done, controls)  # the recorded run was stopped there: so is this one
    return snapshots, changes


def until(snapshots: Generator[Progress, None, None], last_step: int, controls: Any) -> Generator[Progress, None, None]:
    """The run's snapshots up to ``last_step`` (which carries the image), then the run is closed."""
    try:
        for snapshot in snapshots:
            yield snapshot
            if snapshot.step >= last_step:
                return
            if snapshot.step == last_step - 1:
                controls.request_image()
    finally:
        snapshots.close()


ASSETS = Path(__file__).resolve().parents[1] / "assets"  # the project's sample images (the page's examples)


def find_input(run_part: Mapping[str, Any], key: str, folders: list[Path]) -> Path:
    """The file in ``folders`` whose SHA-256 is the record's ``key`` (``content_sha256``, ``style_sha256``)."""
    import hashlib

    wanted = run_part.get(key)
    if isinstance(wanted, list):
        wanted = wanted[0] if len(wanted) == 1 else None
    if isinstance(wanted, str) and wanted:
        for folder in folders:
            for path in sorted(folder.glob("*")) if folder.is_dir() else []:
                if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == wanted:
                    return path
    role = key.split("_")[0]
    raise ValueError(f"no {role} image with the record's SHA-256 in {', '.join(map(str, folders))}; pass {role}=...")


def replay_record(
    record: str | Path | bytes,
    content: Any = None,
    style: Any = None,
    *,
    device: Any = "cpu",
    start: Any = None,
    folders: list[str | Path] | None = None,
) -> np.ndarray:
    """Rerun the record in ``record`` (a result PNG this tool wrote, or a record JSON: a path or its bytes) and return
    its final picture (HxWx3 uint8). The record names its images by SHA-256 only: give ``content`` and ``style``
    (paths or PIL images), or they are found by their hash in ``folders`` (default: the record's folder and the
    project's sample images, which the page's examples use). On a CPU in fp32 the picture is the recorded result's
    pixels: the run uses the record's number of CPU threads, as ``python -m nstcore ... --config result.png`` does."""
    from .device import resolve_device, set_cpu_threads
    from .png_config import record_from_bytes

    data = record if isinstance(record, bytes) else Path(record).read_bytes()
    config, run_part = record_from_bytes(data, "The record")
    where = [Path(f) for f in folders] if folders is not None else []
    if folders is None:
        where = ([Path(record).parent] if not isinstance(record, bytes) else []) + [
            ASSETS / "content",
            ASSETS / "style",
        ]
    content = content if content is not None else find_input(run_part, "content_sha256", where)
    style = style if style is not None else find_input(run_part, "style_sha256", where)
    dev = resolve_device(device)
    threads = recorded_threads(run_part) if dev.type == "cpu" else None
    if threads is not None:
        set_cpu_threads(threads)
    snapshots, _ = recorded_snapshots(config, run_part, content, style, device=dev, start=start)
    pictures = [p.images[0] for p in snapshots if p.images is not None]
    if not pictures:
        raise ValueError("the replayed run produced no picture")
    return np.asarray(pictures[-1])
