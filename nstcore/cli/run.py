"""Command line: ``python -m nstcore CONTENT STYLE -o OUT.png [options]``.

Every option except the few about files and output is derived from :class:`nstcore.config.StyleConfig`, so the
flags, their defaults and their help never drift from the engine (Gatys et al.'s alpha, beta, layers ...).
Bad input ends with one sentence on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

from ..config import StyleConfig
from ..errors import ConfigError
from ..progress import Progress
from ..timelapse import FORMATS as TIMELAPSE_FORMATS
from ..timelapse import FrameKeeper, write_timelapse
from .shared import (
    add_common_arguments,
    add_config_arguments,
    build_config,
    check_outputs,
    drive,
    guarded,
    input_files,
    mask_paths,
    read_record,
    save_result,
    say,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore",
        description="Neural style transfer (Gatys, Ecker & Bethge 2015): repaint CONTENT in the style of STYLE "
        "(or of several styles, blended or each in its own region).",
    )
    add_common_arguments(parser, "Where to write the result (.png, .jpg ...).")
    parser.add_argument("--save-config", metavar="FILE.json", help="Write the effective settings as JSON.")
    parser.add_argument(
        "--save-generator",
        metavar="FILE.pt",
        help="With --generator hrnet: also save the trained generator (apply it later: python -m nstcore apply).",
    )
    parser.add_argument(
        "--timelapse",
        metavar="FILE.gif|FILE.mp4",
        help="Also write the run as a time-lapse of its preview frames (one every --preview-every steps).",
    )
    parser.add_argument(
        "--start",
        metavar="IMAGE",
        help="Start from this picture instead of --init (e.g. a result, to continue it at a larger --size; the "
        "page's Bigger does this).",
    )
    add_config_arguments(parser)
    return parser


def _run(args: argparse.Namespace) -> int:
    from ..device import describe_device, resolve_device

    config = build_config(args)
    record = read_record(args.config)[1] if args.config else {}
    masks = mask_paths(args)
    if args.save_generator and config.generator != "hrnet":
        raise ConfigError("--save-generator needs --generator hrnet: a pixel run has no generator to save.")
    output = check_outputs(
        input_files(args),
        ("-o", args.output, True),
        ("--save-config", args.save_config, False),
        ("--log-json", args.log_json, False),
        ("--timelapse", args.timelapse, False),
        ("--save-generator", args.save_generator, False),
    )[0]
    assert output is not None
    if args.timelapse and Path(args.timelapse).suffix.lower() not in TIMELAPSE_FORMATS:
        raise ConfigError(f"--timelapse {args.timelapse} must end in .gif or .mp4.")
    hashes = _input_hashes(args, masks, record)
    if args.save_config:
        Path(args.save_config).write_text(config.to_json() + "\n", encoding="utf-8")
    device = resolve_device(config.device)
    _replay_threads(record, device, args.no_progress)
    snapshots, changes = _snapshots(args, config, record, masks, device)
    if not args.no_progress:
        replayed = f"; replaying {sum(map(len, changes.values()))} recorded changes" if changes else ""
        say(
            f"nstcore: {config.model} ({config.weights} weights, {config.pooling} pooling) on "
            f"{describe_device(device)}; {config.steps} {config.effective_optimizer} steps at {config.size} px"
            + (" (hrnet generator)" if config.generator == "hrnet" else "")
            + replayed
            + (f"; {len(args.style)} style images" if len(args.style) > 1 else "")
            + (" with masks" if masks else ""),
        )
    frames: FrameKeeper[Any] = FrameKeeper()
    last = drive(
        _keeping(snapshots, frames) if args.timelapse else snapshots, config.steps, args.no_progress, args.log_json
    )
    _write_outputs(args, config, output, last, frames, _record(config, record, changes, last, hashes, device))
    if not args.no_progress:
        say(
            f"wrote {output} ({last.image.shape[1]}x{last.image.shape[0]}), final loss {last.loss.total:.4g}, "
            f"{last.rate:.2f} steps/s",
        )
    return 0


def _input_hashes(args: argparse.Namespace, masks: list[str] | None, record: dict[str, Any]) -> dict[str, Any]:
    """The inputs' SHA-256 for the result's record; a warning for each that differs from the replayed record's."""
    # One style image is recorded as a string, several as a list (as the page and older records write it).
    style_hashes = [_sha256_of(path) for path in args.style]
    hashes: dict[str, str | list[str]] = {
        "content": _sha256_of(args.content),
        "style": style_hashes[0] if len(style_hashes) == 1 else style_hashes,
    }
    if masks:
        hashes["mask"] = [_sha256_of(path) for path in masks]
    if args.start:
        hashes["start"] = _sha256_of(args.start)
    elif record.get("start_sha256"):
        say(
            "warning: this record's run started from a picture (a result made bigger); pass it as --start to replay it."
        )
    for role, digest in hashes.items():
        recorded = record.get(f"{role}_sha256")
        if recorded and recorded != digest:
            say(
                f"warning: the {role} image is not the one this record was made with (its SHA-256 differs); "
                "the result will differ too.",
            )
    trained_on = record.get("trained_on_photos_sha256")
    if isinstance(trained_on, list) and len(trained_on) > 1:
        say(
            f"warning: this record is of a generator trained on {len(trained_on)} photos (the page's Train for any "
            "photo); this command trains on the content image alone (python -m nstcore train takes several).",
        )
    return hashes


def _replay_threads(record: dict[str, Any], device: Any, quiet: bool) -> None:
    """On a CPU, run on the record's number of threads (a step's sums are split between the threads: on another
    count its last bits differ, and a steered run's replay would drift from the page's picture; issue 21's "replay
    race": the page's server ran on all cores, this command on torch's default)."""
    from ..device import set_cpu_threads
    from ..records import recorded_threads

    threads = recorded_threads(record) if device.type == "cpu" else None
    if threads is not None and threads != set_cpu_threads(threads) and not quiet:
        say(f"nstcore: replaying on {threads} CPU threads, as the record's run did.")


def _snapshots(
    args: argparse.Namespace, config: StyleConfig, record: dict[str, Any], masks: list[str] | None, device: Any
) -> tuple[Generator[Progress, None, None], dict[int, Any]]:
    """The run's snapshots: replaying a record's changes at their steps and stopping where it stopped."""
    from ..replaying import recorded_snapshots

    snapshots, changes = recorded_snapshots(
        config,
        record,
        args.content,
        args.style,
        masks=masks,
        device=device,
        progress=not args.no_progress,
        start=args.start,
    )
    done = record.get("steps_done")
    if isinstance(done, int) and not isinstance(done, bool) and 1 <= done < config.steps and not args.no_progress:
        say(f"nstcore: the record stopped at step {done} of {config.steps}; so does this run.")
    return snapshots, changes


def _record(
    config: StyleConfig,
    record: dict[str, Any],
    changes: dict[int, Any],
    last: Progress,
    hashes: dict[str, Any],
    device: Any,
) -> dict[str, Any]:
    """What the result PNG carries: the settings, the replayed changes, the step reached, the inputs' hashes and
    the environment."""
    from ..device import describe_device, use_bf16
    from ..records import environment, run_record

    info = {
        **{f"{role}_sha256": digest for role, digest in hashes.items()},
        **environment(describe_device(device), "bf16" if use_bf16(config.precision, device) else "fp32"),
    }
    return run_record(config.to_dict(), record.get("changes", []) if changes else [], last.step, info)


def _write_outputs(
    args: argparse.Namespace,
    config: StyleConfig,
    output: Path,
    last: Progress,
    frames: FrameKeeper[Any],
    record: dict[str, Any],
) -> None:
    save_result(last.image, output, json.dumps(record, indent=2))
    if args.timelapse:
        write_timelapse(frames.frames, args.timelapse)
    if args.save_generator:
        from ..generator import generator_bytes

        if not last.trained:  # every step with a picture carries it, and the last step always has one
            raise ConfigError("The run ended before its last step, so there is no trained generator to save.")
        Path(args.save_generator).write_bytes(generator_bytes(last.trained[0], config))


def _sha256_of(path: str) -> str:
    """The file's SHA-256 for the record; "" when it cannot be read (the engine then says why, in its words)."""
    from ..records import file_sha256

    try:
        return file_sha256(Path(path).read_bytes())
    except OSError:
        return ""


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
    """``python -m nstcore CONTENT STYLE -o OUT`` (``compare``, ``apply``, ``train``: see :mod:`nstcore.cli`)."""
    return guarded(_run, _parser().parse_args(list(sys.argv[1:] if argv is None else argv)))
