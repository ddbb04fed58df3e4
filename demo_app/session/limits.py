"""Server-side limits on what a session may upload and run (a workshop server is shared by many people).

The one place these numbers live: ``python -m demo_app`` flags, ``NST_*`` environment variables, the page's widget
ranges and the checks on the server all read them from :class:`Limits`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

import nstcore

MB = 1_000_000  # a megabyte as the drop zone (FilePond) shows it


@dataclass(frozen=True)
class Limits:
    """Every limit is enforced on the server; the page only mirrors them."""

    # A phone photo is 3-12 MB; 20 MB leaves room for PNGs without letting one upload fill memory. MB = 10**6 bytes,
    # as the browser's drop zone counts them: one figure on the page, in sentences and in the docs (issue 24).
    max_upload_mb: float = 20.0
    # Decompression-bomb guard for uploads (same meaning and default as StyleConfig.max_image_pixels).
    max_pixels: int = nstcore.DEFAULT_MAX_PIXELS
    # Output long side; VGG19 memory grows with the square of it. Uploads are kept at twice this at most. Until the
    # device is measured; then, unless the host set it, it follows the device (nstcore.calibration.default_max_size).
    max_size: int = 1024
    max_steps: int = 5000
    # A comparison grid beyond 8 cells is hard to read and multiplies memory per job.
    max_variants: int = 8
    # A two-way sweep's cells (Gatys et al.'s Figure 3: five style-layer sets by four ratios), run in batches that the
    # memory limit admits (one at a time under L-BFGS, whose curvature history is per image).
    max_sweep_cells: int = 20
    # Style images one run may blend (nstcore takes up to 8): each adds a Gram target per layer, and with regions a
    # guided Gram per layer and step (+9 % per extra style at 256 px with masks, benchmarks/results_styles.md);
    # three already fill a phone's screen with sliders.
    max_styles: int = 3
    # Pages one visitor (a browser, or a signed-in user: demo_app/session/visitor.py) may have open at once: a person
    # has a few tabs; a script opening hundreds would cost the server memory and event-loop time.
    max_sessions_per_client: int = 12
    # ... and one address (an IPv6 client's /64) at most, whoever they are: the flood ceiling for a script that
    # throws its cookies away. A workshop room of 40 behind the venue's one NAT address, 3 pages each.
    max_sessions_per_address: int = 120
    # Jobs that may wait for the device: a room of 30-40 people pressing Run at once. (The Docker image sets 60.)
    max_queue: int = 40
    # Jobs one visitor may have queued or running (one per page): a person comparing in a few tabs, never the queue.
    max_jobs_per_client: int = 3
    # ... and one address: a room of 40 behind one NAT, each with a job (the queue's size, so the room can fill it).
    max_jobs_per_address: int = 40
    # A running job that yields no step for this long is failed by the watchdog and its thread replaced. Generous:
    # the first step of a 1024 px L-BFGS run on a 2-core CPU takes tens of seconds, and a first use of VGG16 may
    # download its weights inside that step.
    job_stall_seconds: float = 300.0
    # Memory one job may need by the gate's estimate (demo_app/jobs/gate.py: ~3 KB per output pixel and variant):
    # a 1024 px run needs ~2-3 GB, an 8-variant comparison at 1024 px ~25 GB, more than a 24 GB server has.
    max_job_gb: float = 8.0
    # Wall-clock cap of a run or comparison: the queue is shared, and 5,000 steps at 1024 px on a CPU take hours.
    # At the cap the job stops as if Stop was pressed (its picture so far is kept).
    max_job_minutes: float = 30.0
    # Wall-clock cap of a training (Train for any photo, Paint with = hrnet): the generator so far is kept.
    max_train_minutes: float = 60.0
    # Worker-pool tasks (instant styles, time-lapses, grids) one visitor may have in flight at once (one page: one
    # of each kind). The pool has 2-4 threads for every page's decoding and encoding.
    max_tasks_per_client: int = 2
    # ... and one address: one each for a room of 40 behind one NAT.
    max_tasks_per_address: int = 40
    # A job thread still inside a step this long after its job ended (Stop, the watchdog, a time cap) holds its
    # device slot; past this, /liveness fails so an orchestrator restarts the server.
    stuck_thread_seconds: float = 600.0
    # Earlier runs a page keeps to look back on and compare (~0.5 MB each at 256 px, ~4 MB at 1024 px).
    history_size: int = 12
    # ... and their bytes at most (oldest dropped first): 12 entries at 1024 px were 28 MB a page.
    max_history_mb: float = 12.0
    # CPU threads for a job's torch operations (torch's own default: every core). A job alone runs 1.4-1.8x faster
    # on 2 threads than on 1 (2-core EPYC, 64-256 px); but the job's threads then compete with the event loop that
    # serves every page. On a small CPU server hosting a room, give the pages a core (cores - 1): see
    # benchmarks/results_load.md. Irrelevant for jobs on a GPU.
    job_threads: int = os.cpu_count() or 1

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not nstcore.errors.finite(value) or value <= 0:
                raise nstcore.ConfigError(
                    f"{f.name.replace('_', '-')} must be a number above 0, got {nstcore.shown(value)}."
                )
        if self.max_styles > nstcore.MAX_STYLES:
            raise nstcore.ConfigError(f"max-styles must be at most {nstcore.MAX_STYLES}, got {self.max_styles}.")

    @property
    def upload_side(self) -> int:
        """Uploads are shrunk on arrival to this long side: more than any run may use (its size, or 2x for
        style_scale), far less memory than a 40 MP original (which cost ~150 MB per image)."""
        return 2 * self.max_size

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MB)

    @classmethod
    def from_env(cls, **overrides: float | int | None) -> Limits:
        """Defaults <- NST_<FIELD> environment variables <- explicit overrides (flags). Raises ConfigError with one
        sentence for a value that is not a positive number."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            kind = float if f.type in (float, "float") else int
            env = os.environ.get(f"NST_{f.name.upper()}")
            if env:
                try:
                    values[f.name] = kind(env)
                except ValueError:
                    raise nstcore.ConfigError(
                        f"NST_{f.name.upper()} must be a {'number' if kind is float else 'whole number'}"
                        f", got {nstcore.shown(env)}."
                    ) from None
            override = overrides.get(f.name)
            if override is not None:
                values[f.name] = kind(override)
        return cls(**values)
