"""A progress bar around a run, for notebooks and scripts: tqdm's ``auto`` bar (a widget in Jupyter where ipywidgets
is installed, text elsewhere). The engine itself never prints; this wraps its generator when asked."""

from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

from .progress import Progress


def progress_bar(snapshots: Iterable[Progress], **tqdm_options: Any) -> Generator[Progress, None, None]:
    """``snapshots`` as they come, with a bar of steps (its total from the run) and the latest total loss: e.g.
    ``for p in nstcore.progress_bar(nstcore.run(config, content, style)): ...``. Closing it closes the run."""
    from tqdm.auto import tqdm

    bar = tqdm(unit="step", **tqdm_options)
    try:
        for snapshot in snapshots:
            if bar.total != snapshot.total_steps:
                bar.total = snapshot.total_steps
            bar.update(snapshot.step - bar.n)
            bar.set_postfix(loss=f"{sum(losses.total for losses in snapshot.losses):.4g}", refresh=False)
            yield snapshot
    finally:
        bar.close()
        close = getattr(snapshots, "close", None)
        if close is not None:
            close()
