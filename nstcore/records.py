"""Runs as records: what a run started with, every change steered into it and at which step, and what it ran on.

A config says how to start a run; a *record* says what happened in one. It is a config (every StyleConfig field at
top level, so any config reader still takes it) plus a ``"run"`` object::

    "run": {
      "changes": [{"step": 19, "field": "beta", "value": 1e10}, ...],   # in order; value as the page sent it
      "steps_done": 42,                                                  # the last step reached
      "content_sha256": "...", "style_sha256": "...",                   # the input files' bytes
      "device": "cpu (2 threads)", "precision": "fp32", "cpu_threads": 2, "torch": "2.14.1", "nstcore": "0.1.0"
    }

``"step"`` is the first step whose evaluation used the change (``Progress.controls_version`` tells the page).
:func:`replay` applies each change at its step through the same :func:`apply_change` the page used, so a dashboard
run that was steered live is reproduced by the CLI, byte for byte on the CPU in fp32. A server that batches jobs
(``--batch-jobs``) writes ``"shared_passes_with_jobs": N`` when a run's steps shared passes with other visitors'
runs: its replay alone matches to rounding, not byte for byte (batched convolutions round differently;
tests/test_batching.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Generator, Iterator, Mapping
from typing import Any

from .config import StyleConfig, load_json
from .controls import Controls
from .errors import ConfigError, shown
from .layers import layer_names
from .progress import Progress

RUN_KEY = "run"
# The fields the engine reads from Controls at every step: the only ones a run can change while it goes.
LIVE_FIELDS = ("alpha", "beta", "tv", "lr", "content_layers", "style_layers", "style_blend")
MAX_CHANGES = 10_000  # a long, busily steered workshop run has dozens; more is not a record this tool wrote


def every_layer(config: StyleConfig) -> StyleConfig:
    """``config`` with every conv layer of its model listed (at weight 0 unless chosen), so that switching any layer
    on mid-run works. A zero-weight layer costs nothing per step (the network runs only as deep as the deepest
    weighted layer), and the page and a replay start from the same list, so their arithmetic is the same."""
    everything = dict.fromkeys(layer_names(config.model), 0.0)
    return config.replace(
        content_layers={**everything, **config.content_layers},
        style_layers={**everything, **config.style_layers},
    )


def apply_change(controls: Controls, field: str, value: Any, config: StyleConfig) -> int:
    """Steer one live field of a running single run of ``config``; returns the controls' new version. A layer
    mapping replaces the running one (a layer it leaves out goes to 0); ``lr`` None means the run's own default (its
    optimiser's, or its generator's). Raises ConfigError with one sentence for a field that cannot change mid-run or
    a value it refuses."""
    if field not in LIVE_FIELDS:
        raise ConfigError(f"{shown(field, 40)} cannot change during a run; only {', '.join(LIVE_FIELDS)} can.")
    if field == "lr":
        return controls.set_lr(config.replace(lr=None).effective_lr if value is None else value)
    return controls.replace(**{field: value})


def run_record(
    settings: Mapping[str, Any], changes: list[dict[str, Any]], steps_done: int, info: Mapping[str, Any]
) -> dict[str, Any]:
    """A record: the settings the run started with, and under ``"run"`` its changes (``{"step", "field",
    "value"}``, in order), the last step reached and what else is known (input hashes, :func:`environment`). The one
    builder, for the command line and the page alike."""
    return {**settings, RUN_KEY: {"changes": list(changes), "steps_done": steps_done, **info}}


def file_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split_record(data: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(config fields, run record)`` of a config or record object (the run part may be empty)."""
    if not isinstance(data, Mapping):
        raise ConfigError("A config must be a JSON object with field names as keys.")
    fields = {k: v for k, v in data.items() if k != RUN_KEY}
    run = data.get(RUN_KEY) or {}
    if not isinstance(run, Mapping):
        raise ConfigError(f'The "{RUN_KEY}" part of a record must be a JSON object, got {shown(run, 40)}.')
    return fields, dict(run)


def record_from_json(text: str | bytes, what: str = "The config") -> tuple[StyleConfig, dict[str, Any]]:
    fields, run = split_record(load_json(text, what))
    return StyleConfig.from_dict(fields), run


def changes_by_step(config: StyleConfig, run: Mapping[str, Any]) -> dict[int, list[tuple[str, Any]]]:
    """The record's changes grouped by the step they take effect at, checked: each one a live field at a step
    between 2 and the run's steps. Raises ConfigError naming the first bad one."""
    changes = run.get("changes") or []
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        raise ConfigError(f'"changes" must be a list of at most {MAX_CHANGES} changes.')
    out: dict[int, list[tuple[str, Any]]] = {}
    for i, change in enumerate(changes, start=1):
        if not isinstance(change, Mapping) or not {"step", "field", "value"} <= set(change):
            raise ConfigError(f'Change {i} must be an object with "step", "field" and "value".')
        step, field = change["step"], change["field"]
        if not isinstance(step, int) or isinstance(step, bool) or not 2 <= step <= config.steps:
            raise ConfigError(f"Change {i} is at step {shown(step, 20)}; it must be a step from 2 to {config.steps}.")
        if field not in LIVE_FIELDS:
            raise ConfigError(f"Change {i} changes {shown(field, 40)}; only {', '.join(LIVE_FIELDS)} change mid-run.")
        out.setdefault(step, []).append((field, change["value"]))
    return out


def replay(
    snapshots: Iterator[Progress],
    controls: Controls,
    changes: Mapping[int, list[tuple[str, Any]]],
    config: StyleConfig,
) -> Generator[Progress, None, None]:
    """The run's snapshots, with each change applied just before the step it is recorded at (after the previous
    step's snapshot: the engine reads its controls at the start of every step). Closing this closes the run."""
    try:
        for snapshot in snapshots:
            yield snapshot
            for field, value in changes.get(snapshot.step + 1, ()):
                apply_change(controls, field, value, config)
    finally:
        close = getattr(snapshots, "close", None)
        if close is not None:
            close()


def environment(device_label: str, precision: str) -> dict[str, Any]:
    """What a run ran on, for its record: device, the arithmetic used, torch's and this project's versions, and on
    the CPU the number of torch threads (a step's sums are split between the threads, so another count gives other
    last bits: a replay is exact only on as many threads)."""
    import torch

    from . import __version__

    info: dict[str, Any] = {"device": device_label, "precision": precision}
    if device_label.startswith("cpu"):
        info["cpu_threads"] = torch.get_num_threads()
    return {**info, "torch": torch.__version__, "nstcore": __version__}


MAX_THREADS = 256  # a record asking for more is not one this tool wrote on a real machine


def recorded_threads(run: Mapping[str, Any]) -> int | None:
    """The torch CPU threads a record's run used: its ``cpu_threads``, or in records written before that field the
    N of its ``"device": "cpu (N threads)"``; None when it does not say (or ran on a GPU)."""
    threads = run.get("cpu_threads")
    if threads is None:
        match = re.fullmatch(r"cpu \((\d{1,4}) threads?\)", str(run.get("device", "")))
        threads = int(match.group(1)) if match else None
    if isinstance(threads, int) and not isinstance(threads, bool) and 1 <= threads <= MAX_THREADS:
        return threads
    return None
