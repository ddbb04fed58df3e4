"""What the two commands (``python -m nstcore`` and ``python -m nstcore compare``) share: the flags derived from
:class:`nstcore.config.StyleConfig`, reading configs, checking and writing outputs, the progress bar, and turning
errors into one sentence and an exit code."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import StyleConfig, config_fields, literal_choices
from ..errors import ConfigError, NSTError
from ..png_config import record_from_bytes
from ..weight_text import format_layers, parse_blend, parse_layers

EXIT_BAD_INPUT = 2
# --config takes a JSON file (a few KB) or a result PNG carrying its settings (a 4096 px PNG is ~30 MB).
MAX_CONFIG_FILE_BYTES = 64 * 2**20


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
    if origin is tuple:
        return _sentence(parse_blend)
    if origin is Mapping or hint is Mapping or (origin and issubclass(origin, Mapping)):
        return parse_layers
    return str


def _sentence(parse):
    """An argparse type that reports a bad value with the parser's own sentence (not "invalid ... value")."""

    def checked(text: str):
        try:
            return parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    checked.__name__ = parse.__name__
    return checked


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per StyleConfig field; defaults are SUPPRESSed so only flags the user typed override."""
    group = parser.add_argument_group("run settings (defaults from nstcore.StyleConfig)")
    defaults = StyleConfig()
    for f, hint in config_fields():
        default = getattr(defaults, f.name)
        if isinstance(default, Mapping):
            shown = format_layers(default)
        elif isinstance(default, tuple):
            shown = ",".join(f"{w:g}" for w in default) or "equal"
        else:
            shown = default
        kwargs: dict[str, Any] = {
            "type": _arg_type(hint),
            "default": argparse.SUPPRESS,
            "dest": f.name,
            "help": f"{f.metadata.get('help', '')} Default: {shown}.",
        }
        choices = literal_choices(hint)
        if choices:
            kwargs["choices"] = choices
        group.add_argument(_flag(f.name, f.metadata), **kwargs)


def read_text(path: str | Path, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"Cannot read {what} {path} ({exc.strerror}); check the path.") from None


def read_record(path: str | Path) -> tuple[StyleConfig, dict[str, Any]]:
    """``(config, run record)`` of a ``--config`` file: a config or record JSON, or a result PNG."""
    return record_from_bytes(read_bytes(path, "config file"), f"The config {path}")


def read_bytes(
    path: str | Path, what: str, hint: str = "give a config JSON or a result PNG written by this tool"
) -> bytes:
    """A file's bytes (a config JSON, a result PNG carrying its settings, a generator), refusing one over
    MAX_CONFIG_FILE_BYTES before reading it; ``hint`` says what to give instead."""
    try:
        size = Path(path).stat().st_size
        if size > MAX_CONFIG_FILE_BYTES:
            raise ConfigError(f"The {what} {path} is {size / 2**20:.0f} MB; {hint}.")
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read {what} {path} ({exc.strerror}); check the path.") from None


def build_config(args: argparse.Namespace, underlay: Mapping[str, Any] | None = None) -> StyleConfig:
    """Defaults <- ``underlay`` <- ``--config FILE.json`` <- flags given on the command line."""
    base: dict[str, Any] = dict(underlay or {})
    if getattr(args, "config", None):
        base.update(read_record(args.config)[0].to_dict())
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
                bar.write("note: " + " ".join(last.notes))
                notes_shown = True
            bar.update(1)
            bar.set_postfix(loss=f"{sum(losses.total for losses in last.losses):.4g}", refresh=False)
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


# What save_image can write, by suffix (Pillow picks the format from it).
OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b) or a.resolve() == b.resolve()
    except OSError:
        return False


def check_output(
    path: str | Path, *, flag: str = "-o", image: bool = True, keep: Mapping[str, str | Path | None] | None = None
) -> Path:
    """Check an output path before any work is done, so a run is never wasted and no input is ever overwritten:
    a known image suffix (when ``image``), not a folder, in a folder that exists and is writable, and none of the
    files in ``keep`` (what each is, e.g. ``{"content image": ...}``). Raises ConfigError with one sentence."""
    output = Path(path)
    if output.is_dir():
        raise ConfigError(f"{flag} {path} is a folder; give a file name, e.g. {output / 'result.png'}.")
    if image and output.suffix.lower() not in OUTPUT_SUFFIXES:
        said = f"has the suffix {output.suffix!r}" if output.suffix else "has no suffix"
        raise ConfigError(f"{flag} {path} {said}; name an image file ending in {', '.join(OUTPUT_SUFFIXES)}.")
    folder = output.parent
    if not folder.is_dir():
        raise ConfigError(f"The output folder {folder} does not exist; create it or choose another path.")
    if not os.access(folder, os.W_OK) or (output.exists() and not os.access(output, os.W_OK)):
        raise ConfigError(f"{flag} {path} cannot be written (no permission); choose another path.")
    for what, other in (keep or {}).items():
        if other is not None and _same_file(output, Path(other)):
            raise ConfigError(f"{flag} {path} is also the {what}, which would be overwritten; choose another name.")
    return output


def check_outputs(
    inputs: Mapping[str, str | Path | None], *outputs: tuple[str, str | Path | None, bool]
) -> list[Path | None]:
    """Check every output ``(flag, path, is_image)`` of a command (None for one not asked for) with
    :func:`check_output` against every input and every output before it: ``--save-config X --log-json X`` left only
    the log, and ``train -o run.json --config run.json`` replaced the config with a torch file."""
    checked: dict[str, str | Path | None] = {}
    paths: list[Path | None] = []
    for flag, path, image in outputs:
        if not path:
            paths.append(None)
            continue
        output = check_output(path, flag=flag, image=image, keep={**inputs, **checked})
        checked[f"{flag} output"] = output
        paths.append(output)
    return paths


def save_result(image: Any, output: Path, config_json: str | None = None) -> Path:
    """Write the result; if that fails after all (disk full, folder removed meanwhile), save it next to the
    intended file, or in the temp folder, under a new name rather than throw the run away. Returns where it went;
    raises ConfigError naming that place when it is not ``output``."""
    from ..images import ImageError, save_image
    from ..png_config import CHUNK

    text = {CHUNK: config_json} if config_json is not None else None
    try:
        save_image(image, output, text)
        return output
    except ImageError as first:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for folder in (output.parent, Path(tempfile.gettempdir())):
            fallback = folder / f"{output.stem}-{stamp}.png"
            try:
                save_image(image, fallback, text)
            except ImageError:
                continue
            raise ConfigError(f"{first} The result was saved as {fallback} instead.") from None
        raise


def add_common_arguments(parser: argparse.ArgumentParser, output_help: str) -> None:
    """Inputs, output, --config, --log-json, --no-progress, --debug: shared by the run and compare commands."""
    parser.add_argument("content", help="Content image (photo).")
    parser.add_argument(
        "style",
        nargs="+",
        help="Style image (painting); several are blended (see --style-blend, --style-masks).",
    )
    parser.add_argument(
        "--style-masks",
        metavar="A.png,B.png",
        help="One mask per style image, the content image's shape: white = this style here (Gatys et al. 2017).",
    )
    parser.add_argument("-o", "--output", required=True, help=output_help)
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="Load settings from a config JSON or from a result PNG written by this tool (flags override it).",
    )
    parser.add_argument(
        "--log-json", metavar="FILE.jsonl", help="Write one JSON object per step (and variant) with every loss term."
    )
    parser.add_argument("--no-progress", action="store_true", help="No progress bar.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks on errors.")


def mask_paths(args: argparse.Namespace) -> list[str] | None:
    """The ``--style-masks`` paths, or None."""
    text = getattr(args, "style_masks", None)
    if not text:
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def input_files(args: argparse.Namespace) -> dict[str, str | None]:
    """Every input file by what it is (for the outputs' do-not-overwrite check)."""
    styles = args.style
    files: dict[str, str | None] = {"content image": args.content}
    files.update({("style image" if len(styles) == 1 else f"style image {k}"): p for k, p in enumerate(styles, 1)})
    files.update({f"mask {k}": p for k, p in enumerate(mask_paths(args) or [], 1)})
    files["config file"] = getattr(args, "config", None)
    files["start picture"] = getattr(args, "start", None)
    return files


def say(text: str) -> None:
    """The command line's one voice: a line for the person at the terminal, on stderr (stdout stays free). The engine
    never prints; its progress reaches the CLI as snapshots."""
    sys.stderr.write(text + "\n")


def guarded(func, args: argparse.Namespace) -> int:
    """Run ``func(args)``; turn errors into one sentence on stderr and an exit code (tracebacks with --debug)."""
    try:
        return func(args)
    except KeyboardInterrupt:
        say("Interrupted.")
        return 130
    except NSTError as exc:
        if args.debug:
            raise
        say(f"error: {exc}")
        return EXIT_BAD_INPUT
    except Exception as exc:  # an engine bug: still one sentence unless --debug
        if args.debug:
            raise
        say(
            f"error: unexpected failure ({type(exc).__name__}: {exc}); re-run with --debug for details.",
        )
        return 1
