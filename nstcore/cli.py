"""Command line: ``python -m nstcore CONTENT STYLE -o OUT.png [options]``.

Every option except the few about files and output is derived from :class:`nstcore.config.StyleConfig`, so the
flags, their defaults and their help never drift from the engine (Gatys et al.'s alpha, beta, layers ...).
Bad input ends with one sentence on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .progress import Progress
from .shared_cli import (
    add_common_arguments,
    add_config_arguments,
    build_config,
    check_output,
    drive,
    guarded,
    save_result,
)
from .timelapse import FORMATS as TIMELAPSE_FORMATS
from .timelapse import FrameKeeper, write_timelapse


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore",
        description="Neural style transfer (Gatys, Ecker & Bethge 2015): repaint CONTENT in the style of STYLE.",
    )
    add_common_arguments(parser, "Where to write the result (.png, .jpg ...).")
    parser.add_argument("--save-config", metavar="FILE.json", help="Write the effective settings as JSON.")
    parser.add_argument(
        "--timelapse",
        metavar="FILE.gif|FILE.mp4",
        help="Also write the run as a time-lapse of its preview frames (one every --preview-every steps).",
    )
    add_config_arguments(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    from .device import describe_device, resolve_device
    from .engine import run

    config = build_config(args)
    inputs = {"content image": args.content, "style image": args.style, "config file": args.config}
    output = check_output(args.output, keep=inputs)
    for flag, path in (
        ("--save-config", args.save_config),
        ("--log-json", args.log_json),
        ("--timelapse", args.timelapse),
    ):
        if path:
            check_output(path, flag=flag, image=False, keep={**inputs, "output image": output})
    if args.timelapse and Path(args.timelapse).suffix.lower() not in TIMELAPSE_FORMATS:
        raise ConfigError(f"--timelapse {args.timelapse} must end in .gif or .mp4.")
    if args.save_config:
        Path(args.save_config).write_text(config.to_json() + "\n", encoding="utf-8")
    device = resolve_device(config.device)
    snapshots = run(config, args.content, args.style, device=device, progress=not args.no_progress)
    if not args.no_progress:
        print(
            f"nstcore: {config.model} ({config.weights} weights, {config.pooling} pooling) on "
            f"{describe_device(device)}; {config.steps} {config.optimizer} steps at {config.size} px",
            file=sys.stderr,
        )
    frames: FrameKeeper[Any] = FrameKeeper()
    last = drive(
        _keeping(snapshots, frames) if args.timelapse else snapshots, config.steps, args.no_progress, args.log_json
    )
    save_result(last.image, output, config.to_json())
    if args.timelapse:
        write_timelapse(frames.frames, args.timelapse)
    if not args.no_progress:
        print(
            f"wrote {output} ({last.image.shape[1]}x{last.image.shape[0]}), final loss {last.loss.total:.4g}, "
            f"{last.rate:.2f} steps/s",
            file=sys.stderr,
        )
    return 0


def _keeping(snapshots: Generator[Progress, None, None], frames: FrameKeeper[Any]) -> Generator[Progress, None, None]:
    """The run's snapshots, passing each preview image to ``frames`` on the way (closing this closes the run)."""
    try:
        for snapshot in snapshots:
            if snapshot.image is not None:
                frames.offer(snapshot.image)
            yield snapshot
    finally:
        snapshots.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nstcore CONTENT STYLE -o OUT`` (``python -m nstcore compare ...`` goes to compare_cli)."""
    return guarded(_run, _parser().parse_args(list(sys.argv[1:] if argv is None else argv)))
