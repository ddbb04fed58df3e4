"""``python -m nstcore compare CONTENT STYLE --preset NAME -o grid.png``: a batched comparison from the CLI.

The variants come from a preset (Gatys et al.'s Figure 1 studies, see :mod:`nstcore.presets`) or from
``--variants FILE.json``; they are optimised together as one batch and written as one labelled grid, plus a JSON
with every variant's full config (which ``--variants`` reads back, and ``--config`` reads for any single cell).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import StyleConfig, load_json
from ..errors import ConfigError
from ..png_config import is_png, record_from_bytes
from ..presets import PRESETS, expand_preset
from ..sweep import MAX_COLUMNS, MAX_ROWS, Sweep, expand_sweep
from ..variants import MAX_VARIANTS, Variant, check_count, comparison_to_dict, grid_record, variant_from_dict
from .shared import (
    add_common_arguments,
    add_config_arguments,
    build_config,
    check_outputs,
    drive,
    guarded,
    input_files,
    mask_paths,
    read_bytes,
    save_result,
    say,
)


def compare_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore compare",
        description="Optimise several variants of one run together and write them as one labelled grid.",
    )
    add_common_arguments(parser, "Where to write the grid (.png).")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=PRESETS, help="A ready-made comparison (see nstcore.presets).")
    source.add_argument(
        "--variants",
        metavar="FILE",
        help="Variants from a JSON file (as --save-json writes) or a grid PNG this tool wrote (its cells).",
    )
    source.add_argument(
        "--sweep",
        nargs=2,
        metavar=("ROWS", "COLS"),
        help="Two presets crossed, rows by columns, e.g. style_layers ratio (Gatys et al.'s Figure 3): "
        f"at most {MAX_ROWS} x {MAX_COLUMNS} cells, with row and column headings.",
    )
    parser.add_argument(
        "--save-json", metavar="FILE.json", help="Write every variant's config (default: the output path with .json)."
    )
    parser.add_argument("--columns", type=int, default=None, help="Grid columns (default: up to 4).")
    parser.add_argument("--max-batch", type=int, default=None, help="At most this many variants per forward pass.")
    add_config_arguments(parser)
    return parser


def load_variants(path: str, args: argparse.Namespace) -> tuple[StyleConfig, list[Variant]]:
    raw = read_bytes(path, "variants file")
    if is_png(raw):  # a grid this tool wrote: its record's cells
        config, run = record_from_bytes(raw, f"The grid {path}")
        data: Any = {"config": config.to_dict(), "variants": run.get("cells")}
    else:
        data = load_json(raw.decode("utf-8", errors="replace"), "The variants file")
    entries = data.get("variants") if isinstance(data, dict) else data
    if not isinstance(entries, list):
        raise ConfigError(f"{path} must hold a list of variants or an object with a 'variants' list.")
    shared = build_config(args, underlay=data.get("config") if isinstance(data, dict) else None)
    variants = [variant_from_dict(shared, entry, i) for i, entry in enumerate(entries)]
    return shared, variants


def what_runs(variants: Sequence[Variant], sweep: Sweep | None) -> str:
    if sweep is not None:
        rows, columns = sweep.presets
        return f"a {len(sweep.rows)} x {len(sweep.columns)} sweep ({rows} down, {columns} across)"
    return f"{len(variants)} variants ({', '.join(v.label for v in variants)})"


def run_compare(args: argparse.Namespace) -> int:
    from ..device import describe_device, resolve_device
    from ..engine import run
    from ..grid import grid_image, sweep_image

    sweep = None
    if args.sweep:
        shared = build_config(args)
        sweep = expand_sweep(args.sweep[0], args.sweep[1], shared, len(args.style))
        variants = list(sweep.variants)
    elif args.preset:
        shared, variants = expand_preset(args.preset, build_config(args), len(args.style))
        if hasattr(args, "init"):  # an explicit --init wins over the preset's choice
            shared = shared.replace(init=args.init)
    else:
        shared, variants = load_variants(args.variants, args)
    check_count(variants, MAX_VARIANTS)
    inputs = {**input_files(args), "variants file": args.variants}
    output, json_path, _ = check_outputs(
        inputs,
        ("-o", args.output, True),
        ("--save-json", args.save_json or Path(args.output).with_suffix(".json"), False),
        ("--log-json", args.log_json, False),
    )
    assert output is not None and json_path is not None
    device = resolve_device(shared.device)
    snapshots = run(
        shared,
        args.content,
        args.style,
        masks=mask_paths(args),
        device=device,
        variants=variants,
        max_batch=args.max_batch,
        progress=not args.no_progress,
    )
    if not args.no_progress:
        say(
            f"nstcore compare: {what_runs(variants, sweep)} on {describe_device(device)}; {shared.steps} "
            f"{shared.optimizer} steps at {shared.size} px",
        )
    last = drive(snapshots, shared.steps, args.no_progress, args.log_json)
    # The grid carries the shared settings (loading it as a config restores what every cell had in common) and
    # every cell's full config (``--variants GRID.png`` reruns it).
    cells = comparison_to_dict(shared, variants)["variants"]
    if sweep is not None:
        image = sweep_image(last.images, sweep.rows, sweep.columns)
    else:
        image = grid_image(last.images, [v.label for v in variants], args.columns)
    record = grid_record(shared.to_dict(), cells, sweep.as_dict() if sweep is not None else None)
    save_result(image, output, json.dumps(record, indent=2, ensure_ascii=False))
    json_path.write_text(json.dumps(comparison_to_dict(shared, variants), indent=2) + "\n", encoding="utf-8")
    if not args.no_progress:
        say(f"wrote {output} and {json_path} ({last.rate:.2f} steps/s for the whole batch)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nstcore compare CONTENT STYLE -o GRID.png (--preset NAME | --sweep ROWS COLS | --variants FILE)``."""
    return guarded(run_compare, compare_parser().parse_args(list(argv or [])))
