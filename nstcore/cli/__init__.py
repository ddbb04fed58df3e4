"""``python -m nstcore``: one run (:mod:`.run`), ``compare`` (:mod:`.compare`), ``apply`` (a trained generator,
:mod:`.apply`), ``train`` (one generator for many photos, :mod:`.train`) or ``calibrate`` (this device's speed,
:mod:`.calibrate`); :mod:`.shared` holds what they share."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch on the first word: ``compare``, ``apply``, ``train``, ``calibrate``, else a run (``CONTENT STYLE -o
    OUT``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "compare":
        from .compare import main as compare

        return compare(args[1:])
    if args and args[0] == "apply":
        from .apply import main as apply

        return apply(args[1:])
    if args and args[0] == "train":
        from .train import main as train

        return train(args[1:])
    if args and args[0] == "calibrate":
        from .calibrate import main as calibrate

        return calibrate(args[1:])
    from .run import main as run

    return run(args)
