"""``python -m nstcore calibrate``: how fast this device is, and the picture sizes Quick and Full get from it.

The same measurement a dashboard server makes at start (:mod:`nstcore.calibration`): L-BFGS steps at three sizes
and a batched pass of four pictures against one, through the engine with the chosen network, then the largest
picture each run length finishes within its time target.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from .shared import guarded, say


def calibrate_parser() -> argparse.ArgumentParser:
    from ..calibration import RunTargets

    parser = argparse.ArgumentParser(
        prog="python -m nstcore calibrate",
        description="Measure this device's speed and print the sizes Quick and Full get from it.",
    )
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps.")
    parser.add_argument("--model", default="vgg19", choices=("vgg19", "vgg16"))
    parser.add_argument("--weights", default="imagenet", help="imagenet, random, or a .pth path (speed is the same).")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--max-size", type=int, default=1024, help="The largest long side a run length may get.")
    defaults = RunTargets()
    parser.add_argument("--quick-seconds", type=float, default=defaults.quick_seconds)
    parser.add_argument("--full-seconds", type=float, default=defaults.full_seconds)
    parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    parser.add_argument("--debug", action="store_true", help="Show full tracebacks on errors.")
    return parser


def run_calibrate(args: argparse.Namespace) -> int:
    from ..calibration import RunTargets, calibrate, plan_of, run_lengths
    from ..device import resolve_device
    from ..features import load_network

    network = load_network(args.model, args.weights, resolve_device(args.device), progress=not args.json)
    calibration = calibrate(network, args.precision)
    targets = RunTargets(quick_seconds=args.quick_seconds, full_seconds=args.full_seconds)
    lengths = run_lengths(calibration, targets, args.max_size)
    seconds = {
        key: calibration.plan_seconds(plan_of(int(values["size"]), {k: v for k, v in values.items() if k != "size"}))
        for key, values in lengths.items()
    }
    if args.json:
        say(json.dumps({"calibration": calibration.to_dict(), "run_lengths": lengths, "seconds": seconds}))
        return 0
    for line in calibration.lines():
        say(line)
    for key, values in lengths.items():
        say(
            f"{key}: {values['size']} px, {values['steps']} steps over {values['scales']} sizes, about "
            f"{seconds[key]:.0f} s (target {getattr(targets, key + '_seconds'):g} s)"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return guarded(run_calibrate, calibrate_parser().parse_args(list(argv or [])))
