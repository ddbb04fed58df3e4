"""One job description: what the page (or a script) asks for, as it travels through the server's scheduler and,
on a cluster, to a Dask worker, into :func:`~nstcore.engine.run` or :func:`~nstcore.training.train`.

A :class:`RunRequest` is frozen: the settings and the images a job starts from never change under it (live weights
go through :class:`~nstcore.controls.Controls`, which is not part of the request).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import StyleConfig
from .controls import Controls
from .errors import ConfigError
from .progress import Progress
from .variants import Variant

if TYPE_CHECKING:
    import torch

    from .features import Network


@dataclass(frozen=True)
class RunRequest:
    """A run of ``config`` on ``content`` with ``styles`` (several: blended, or each in its ``masks`` region), of
    one or more ``variants`` (a comparison's cells); with ``photos``, a training of one generator on all of them
    instead (``content`` is then not used). Images are anything the engine loads: a PIL image, a path, bytes."""

    config: StyleConfig
    content: Any
    styles: tuple[Any, ...]
    masks: tuple[Any, ...] | None = None
    variants: tuple[Variant, ...] | None = None
    photos: tuple[Any, ...] | None = None
    # A picture to start from instead of ``config.init`` (e.g. a result, continued at a larger size).
    start: Any = None
    # At most this many variants in one forward pass (None: the engine decides): a large sweep in batches that fit.
    max_batch: int | None = None

    def __post_init__(self) -> None:
        if not self.styles:
            raise ConfigError("A run needs at least one style image.")
        for name in ("styles", "masks", "variants", "photos"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))

    @property
    def style(self) -> Any:
        """The style argument of :func:`~nstcore.engine.run`: the one image, or the list of several."""
        return self.styles[0] if len(self.styles) == 1 else list(self.styles)

    def replace(self, **changes: Any) -> RunRequest:
        return dataclasses.replace(self, **changes)

    def with_images(self, convert: Callable[[Any], Any]) -> RunRequest:
        """The same request with every image passed through ``convert`` (e.g. to PNG bytes for another process)."""

        def each(images: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
            return None if images is None else tuple(convert(image) for image in images)

        return self.replace(
            content=None if self.content is None else convert(self.content),
            styles=each(self.styles),
            masks=each(self.masks),
            photos=each(self.photos),
            start=None if self.start is None else convert(self.start),
        )

    def snapshots(
        self, *, device: torch.device | str, network: Network | None = None, controls: Controls | None = None
    ) -> Generator[Progress, None, None]:
        """Start the job on ``device``: the engine's generator of snapshots (close it to stop)."""
        if self.photos:
            from .training import train

            return train(self.config, list(self.photos), self.style, device=device, network=network, controls=controls)
        from .engine import run

        return run(
            self.config,
            self.content,
            self.style,
            masks=list(self.masks) if self.masks is not None else None,
            device=device,
            network=network,
            controls=controls,
            variants=list(self.variants) if self.variants is not None else None,
            start=self.start,
            max_batch=self.max_batch,
        )
