"""``python -m nstcore apply GENERATOR.pt PHOTO -o OUT.png``: stylise a photo with a trained generator in one pass.

A generator trained with ``--generator hrnet --save-generator FILE`` (Li et al. 2019's high-resolution network,
:mod:`nstcore.hrnet`) is a reusable stylizer: applying it costs one forward pass instead of a run. The file is read
with ``torch.load(weights_only=True)``; anything else is refused with a sentence.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence

from .shared import check_output, guarded, read_bytes, save_result, say


def apply_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m nstcore apply",
        description="Stylise PHOTO with a generator trained by `python -m nstcore ... --generator hrnet "
        "--save-generator FILE` (one forward pass).",
    )
    parser.add_argument("generator", help="A generator file written by --save-generator.")
    parser.add_argument("photo", help="The photo to stylise.")
    parser.add_argument("-o", "--output", required=True, help="Where to write the result (.png, .jpg ...).")
    parser.add_argument("--size", type=int, default=None, help="Long side of the result (default: the photo's).")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    parser.add_argument("--no-progress", action="store_true", help="No summary line.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks on errors.")
    return parser


def run_apply(args: argparse.Namespace) -> int:
    from ..config import StyleConfig
    from ..device import resolve_device
    from ..errors import ConfigError
    from ..generator import load_generator, stylise
    from ..images import load_image

    output = check_output(args.output, keep={"generator file": args.generator, "photo": args.photo})
    data = read_bytes(args.generator, "generator file", "give a generator written by nstcore train (a few MB)")
    model, config = load_generator(data, f"The generator file {args.generator}")
    if args.size is not None and not 16 <= args.size <= StyleConfig.__dataclass_fields__["size"].metadata["max"]:
        raise ConfigError(f"--size must be between 16 and 4096, got {args.size}.")
    image = load_image(args.photo, max_pixels=config.max_image_pixels)
    model = model.to(resolve_device(args.device))
    start = time.perf_counter()
    result = stylise(model, image, args.size or None)  # back on the CPU: the device's work is done
    elapsed = time.perf_counter() - start
    record = {**config.to_dict(), "run": {"applied_generator": True}}
    save_result(result, output, json.dumps(record, indent=2))
    if not args.no_progress:
        say(f"wrote {output} ({result.shape[1]}x{result.shape[0]}) in {elapsed * 1000:.0f} ms")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(run_apply, apply_parser().parse_args(list(argv or [])))
