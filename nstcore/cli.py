"""Command line: ``python -m nstcore CONTENT STYLE -o OUT.png [options]``.

Every option except the few about files and output is derived from :class:`nstcore.config.StyleConfig`, so the
flags, their defaults and their help never drift from the engine (Gatys et al.'s alpha, beta, layers ...).
Bad input ends with one sentence on stderr and exit code 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .config import StyleConfig, config_fields, format_layers, literal_choices, parse_layers
from .errors import ConfigError, NSTError

EXIT_BAD_INPUT = 2


def _flag(field_name: str, metadata: Mapping[str, Any]) -> str:
    return "--" + (metadata.get("flag") or field_name.replace("_", "-"))


def _arg_type(hint: Any):
    """argparse ``type`` for a config field's type hint."""
    if literal_choices(hint):
        return str
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if hint is int or args == [int]:
        return int
    if hint is float or args == [float]:
        return float
    if origin is Mapping or hint is Mapping or (origin and issubclass(origin, Mapping)):
        return parse_layers
    return str


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per StyleConfig field; defaults are SUPPRESSed so only flags the user typed override."""
    group = parser.add_argument_group("run settings (defaults from nstcore.StyleConfig)")
    defaults = StyleConfig()
    for f, hint in config_fields():
        default = getattr(defaults, f.name)
        shown = format_layers(default) if isinstance(default, Mapping) else default
        kwargs: dict[str, Any] = {"type": _arg_type(hint), "default": argparse.SUPPRESS, "dest": f.name,
                                  "help": f"{f.metadata.get('help', '')} Default: {shown}."}
        choices = literal_choices(hint)
        if choices:
            kwargs["choices"] = choices
        group.add_argument(_flag(f.name, f.metadata), **kwargs)


def read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {what} {path} ({exc.strerror}); check the path.") from None


def build_config(args: argparse.Namespace, underlay: Mapping[str, Any] | None = None) -> StyleConfig:
    """Defaults <- ``underlay`` <- ``--config FILE.json`` <- flags given on the command line."""
    base: dict[str, Any] = dict(underlay or {})
    if getattr(args, "config", None):
        base.update(StyleConfig.from_json(read_text(args.config, "config file")).to_dict())
    overrides = {f.name: getattr(args, f.name) for f, _ in config_fields() if hasattr(args, f.name)}
    return StyleConfig.from_dict({**base, **overrides})


def drive(snapshots, steps: int, quiet: bool, log_path: str | None):
    """Consume a run with a tqdm bar (loss, steps/s) and an optional JSONL log; return the last snapshot."""
    from tqdm import tqdm

    log = open(log_path, "w", encoding="utf-8") if log_path else None  # noqa: SIM115 - closed below
    bar = tqdm(total=steps, unit="step", disable=quiet, file=sys.stderr, dynamic_ncols=True)
    last = None
    notes_shown = False
    try:
        for last in snapshots:
            if last.notes and not notes_shown:
                bar.write("note: " + " ".join(last.notes), file=sys.stderr)
                notes_shown = True
            bar.update(1)
            bar.set_postfix(loss=f"{sum(l.total for l in last.losses):.4g}", refresh=False)
            if log is not None:
                for i, losses in enumerate(last.losses):
                    row = {"step": last.step, "elapsed": round(last.elapsed, 4)}
                    if len(last.losses) > 1:
                        row["variant"] = last.labels[i] if last.labels else i
                    log.write(json.dumps({**row, **losses.as_dict()}) + "\n")
    finally:
        snapshots.close()
        bar.close()
        if log is not None:
            log.close()
    if last is None or last.images is None:
        raise ConfigError("The run produced no result.")
    return last


def check_output(path: str) -> Path:
    output = Path(path)
    if not output.parent.exists():
        raise ConfigError(f"The output folder {output.parent} does not exist; create it or choose another path.")
    return output


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore",
        description="Neural style transfer (Gatys, Ecker & Bethge 2015): repaint CONTENT in the style of STYLE.",
    )
    add_common_arguments(parser, "Where to write the result (.png, .jpg ...).")
    parser.add_argument("--save-config", metavar="FILE.json", help="Write the effective settings as JSON.")
    add_config_arguments(parser)
    return parser


def add_common_arguments(parser: argparse.ArgumentParser, output_help: str) -> None:
    """Inputs, output, --config, --log-json, --no-progress, --debug: shared by the run and compare commands."""
    parser.add_argument("content", help="Content image (photo).")
    parser.add_argument("style", help="Style image (painting).")
    parser.add_argument("-o", "--output", required=True, help=output_help)
    parser.add_argument("--config", metavar="FILE.json", help="Load settings from a JSON file (flags override it).")
    parser.add_argument("--log-json", metavar="FILE.jsonl",
                        help="Write one JSON object per step (and variant) with every loss term.")
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks on errors.")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "compare":
        from .compare_cli import compare_parser, run_compare

        args = compare_parser().parse_args(argv[1:])
        return guarded(run_compare, args)
    return guarded(_run, _parser().parse_args(argv))


def guarded(func, args: argparse.Namespace) -> int:
    """Run ``func(args)``; turn errors into one sentence on stderr and an exit code (tracebacks with --debug)."""
    try:
        return func(args)
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except NSTError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # an engine bug: still one sentence unless --debug
        if args.debug:
            raise
        print(f"error: unexpected failure ({type(exc).__name__}: {exc}); re-run with --debug for details.",
              file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from .device import describe_device, resolve_device
    from .engine import run
    from .images import save_image

    config = build_config(args)
    output = check_output(args.output)
    if args.save_config:
        Path(args.save_config).write_text(config.to_json() + "\n", encoding="utf-8")
    device = resolve_device(config.device)
    snapshots = run(config, args.content, args.style, device=device, progress=not args.no_progress)
    if not args.no_progress:
        print(f"nstcore: {config.model} ({config.weights} weights, {config.pooling} pooling) on "
              f"{describe_device(device)}; {config.steps} {config.optimizer} steps at {config.size} px",
              file=sys.stderr)
    last = drive(snapshots, config.steps, args.no_progress, args.log_json)
    save_image(last.image, output)
    if not args.no_progress:
        print(f"wrote {output} ({last.image.shape[1]}x{last.image.shape[0]}), final loss {last.loss.total:.4g}, "
              f"{last.rate:.2f} steps/s", file=sys.stderr)
    return 0
