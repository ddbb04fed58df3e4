"""Command line: ``python -m nstcore CONTENT STYLE -o OUT.png [options]``.

Every option except the few about files and output is derived from :class:`nstcore.config.StyleConfig`, so the
flags, their defaults and their help never drift from the engine (Gatys et al.'s alpha, beta, layers ...).
Bad input ends with one sentence on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from .shared_cli import (
    add_common_arguments,
    add_config_arguments,
    build_config,
    check_output,
    drive,
    guarded,
    save_result,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore",
        description="Neural style transfer (Gatys, Ecker & Bethge 2015): repaint CONTENT in the style of STYLE.",
    )
    add_common_arguments(parser, "Where to write the result (.png, .jpg ...).")
    parser.add_argument("--save-config", metavar="FILE.json", help="Write the effective settings as JSON.")
    add_config_arguments(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    from .device import describe_device, resolve_device
    from .engine import run

    config = build_config(args)
    inputs = {"content image": args.content, "style image": args.style, "config file": args.config}
    output = check_output(args.output, keep=inputs)
    for flag, path in (("--save-config", args.save_config), ("--log-json", args.log_json)):
        if path:
            check_output(path, flag=flag, image=False, keep={**inputs, "output image": output})
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
    last = drive(snapshots, config.steps, args.no_progress, args.log_json)
    save_result(last.image, output)
    if not args.no_progress:
        print(
            f"wrote {output} ({last.image.shape[1]}x{last.image.shape[0]}), final loss {last.loss.total:.4g}, "
            f"{last.rate:.2f} steps/s",
            file=sys.stderr,
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nstcore CONTENT STYLE -o OUT`` (``python -m nstcore compare ...`` goes to compare_cli)."""
    return guarded(_run, _parser().parse_args(list(sys.argv[1:] if argv is None else argv)))
