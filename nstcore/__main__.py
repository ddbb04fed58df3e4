"""``python -m nstcore``: one run (:mod:`nstcore.cli`), ``compare`` (:mod:`nstcore.compare_cli`), ``apply`` (a
trained generator, :mod:`nstcore.apply_cli`) or ``train`` (one generator for many photos, :mod:`nstcore.train_cli`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "compare":
        from .compare_cli import main as compare

        return compare(args[1:])
    if args and args[0] == "apply":
        from .apply_cli import main as apply

        return apply(args[1:])
    if args and args[0] == "train":
        from .train_cli import main as train

        return train(args[1:])
    from .cli import main as run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
