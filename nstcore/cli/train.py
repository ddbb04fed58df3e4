"""``python -m nstcore train PHOTO|FOLDER [...] --style STYLE -o GENERATOR.pt``: one generator for every photo.

Trains Li et al.'s HRNet (:mod:`nstcore.hrnet`) on random crops of many photos (:mod:`nstcore.training`), so the
saved generator stylises photos it never saw in one pass (``python -m nstcore apply``; the dashboard lists a folder
of them with ``--generators DIR``). A host trains one per painting before a workshop. Run settings (size = the crop
side, steps, alpha, beta, layers, lr, seed ...) come from :class:`~nstcore.config.StyleConfig`, as for a run.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from .shared import add_config_arguments, build_config, check_outputs, drive, guarded, save_result, say


def train_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore train",
        description="Train one generator network (Li et al. 2019's HRNet) on random crops of many photos, so it "
        "stylises any photo in one pass: python -m nstcore apply GENERATOR.pt PHOTO -o OUT.png.",
    )
    parser.add_argument("photos", nargs="+", help="Photos to train on, or folders of them (every image file inside).")
    parser.add_argument(
        "--style", nargs="+", required=True, help="Style image (painting); several are blended (--style-blend)."
    )
    parser.add_argument("-o", "--output", required=True, help="Where to write the generator (e.g. starry.pt).")
    parser.add_argument(
        "--preview",
        metavar="FILE.png",
        help="Also write the first photo through the trained generator (what `apply` gives for it).",
    )
    parser.add_argument("--config", metavar="FILE", help="Settings from a config JSON or a result PNG (flags win).")
    parser.add_argument("--log-json", metavar="FILE.jsonl", help="Write one JSON object per step with every loss.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks on errors.")
    add_config_arguments(parser)
    return parser


def photo_files(arguments: Sequence[str]) -> list[str]:
    """The photos named on the command line, each folder replaced by its image files (sorted; not recursive)."""
    from ..images import SUFFIXES

    files: list[str] = []
    for argument in arguments:
        path = Path(argument)
        if path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise ConfigError(f"The folder {argument} holds no images ({', '.join(SUFFIXES)}).")
            files += found
        else:
            files.append(argument)
    return files


def run_train(args: argparse.Namespace) -> int:
    from ..device import describe_device, resolve_device
    from ..generator import generator_bytes
    from ..training import train

    config = build_config(args, underlay={"generator": "hrnet"})
    photos = photo_files(args.photos)
    inputs: dict[str, str | Path | None] = {f"photo {k}": p for k, p in enumerate(photos, 1)}
    inputs.update({f"style image {k}": p for k, p in enumerate(args.style, 1)})
    inputs["config file"] = args.config
    output, preview, _ = check_outputs(
        inputs, ("-o", args.output, False), ("--preview", args.preview, True), ("--log-json", args.log_json, False)
    )
    assert output is not None
    device = resolve_device(config.device)
    snapshots = train(config, photos, args.style, device=device, progress=not args.no_progress)
    if not args.no_progress:
        say(
            f"nstcore train: {config.model} ({config.weights} weights) on {describe_device(device)}; {config.steps} "
            f"steps of {config.size} px crops from {len(photos)} photo{'s' if len(photos) != 1 else ''}",
        )
    last = drive(snapshots, config.steps, args.no_progress, args.log_json)
    assert last.trained is not None  # the last step always carries the generator
    output.write_bytes(generator_bytes(last.trained[0], config))
    if preview is not None:
        record = {**config.to_dict(), "run": {"trained_on_photos": len(photos), "steps_done": last.step}}
        save_result(last.image, preview, json.dumps(record, indent=2))
    if not args.no_progress:
        say(f"wrote {output} after {last.step} steps ({last.rate:.2f} steps/s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(run_train, train_parser().parse_args(list(argv or [])))
