"""One process-wide speed-up of a library: param's path parameters resolved once, not on every read.

``param.Filename`` and ``param.Path`` search the file system each time they are *read*. Panel's page designs keep
their CSS files in such parameters and read them whenever any widget of a page changes, so with a room of pages
running, ~15 % of the event loop's time went to looking up the same few CSS files (benchmarks/bench_load.py,
sampled). The files of an installed package do not move while the server runs, so a resolved path is kept; a path
that does not resolve raises as before and is looked up again next time.
"""

from __future__ import annotations

import functools
from typing import Any

import param

_installed = False


def install() -> None:
    """Cache ``resolve_path`` results for Path/Filename/Foldername parameters (idempotent)."""
    global _installed
    if _installed:
        return
    for cls in (param.Path, param.Filename, param.Foldername):
        original = cls._resolve

        @functools.lru_cache(maxsize=512)
        def cached(kind: Any, path: str, search_paths: tuple[str, ...] | None, original=original) -> str:
            holder = object.__new__(kind)  # only search_paths is read by _resolve
            holder.search_paths = list(search_paths) if search_paths is not None else None
            return original(holder, path)

        def _resolve(self: Any, path: Any, cached: Any = cached, original: Any = original) -> Any:
            paths = self.search_paths
            try:
                key = (type(self), str(path), tuple(paths) if paths is not None else None)
                hash(key)
            except TypeError:
                return original(self, path)
            return cached(*key)

        cls._resolve = _resolve  # type: ignore[method-assign]
    _installed = True
