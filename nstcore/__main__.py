"""``python -m nstcore``: the command line (:mod:`nstcore.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
