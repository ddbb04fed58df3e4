"""A session's run settings (StyleConfig's fields as parameters): the config they make, its export and import
(a JSON file or a result PNG), Reset, and the settings that follow others (a new optimiser's own step size, a
network's own layers). Part of :class:`~demo_app.session.state.SessionState`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import param

import nstcore

from .config_params import CONFIG_PARAM_NAMES
from .core import SessionCore
from .text import capped, file_label


class SettingsPart(SessionCore):
    """What the next run is set to."""

    def settings(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in CONFIG_PARAM_NAMES}

    def config(self) -> nstcore.StyleConfig:
        """The StyleConfig of the current settings (raises ConfigError)."""
        values = self.settings()
        values["weights"] = self.backend.effective_weights(values["model"])
        values["device"] = self.backend.device_name
        values["max_image_pixels"] = self.limits.max_pixels
        if len(values["style_blend"]) != (self.style_count if self.style_count > 1 else 0):
            values["style_blend"] = []  # e.g. a loaded config made for other images: equal shares
        return nstcore.StyleConfig.from_dict(values)

    def config_json(self) -> str:
        """The settings as the CLI reads them; a local weights file is named without its server folders."""
        return json.dumps(self._exported(self.config()), indent=2)

    @staticmethod
    def _exported(config: nstcore.StyleConfig) -> dict[str, Any]:
        if config.weights not in ("imagenet", "random"):
            config = config.replace(weights=Path(config.weights).name)
        return config.to_dict()

    @staticmethod
    def read_config(text: str | bytes, filename: str = "config") -> nstcore.StyleConfig:
        """Parse an exported config, or the settings inside a result PNG this tool wrote (thread-safe; the page calls
        it on a worker). Raises ``ConfigError`` with one sentence that names the file (capped plain text) and the
        field."""
        try:
            data = text.encode() if isinstance(text, str) else bytes(text)
            return nstcore.config_from_bytes(data)
        except nstcore.ConfigError as exc:
            raise nstcore.ConfigError(f"{file_label(filename, 'The config')}: {exc}") from None

    def apply_config(self, config: nstcore.StyleConfig, filename: str = "config") -> bool:
        """Restore every control from a parsed config; on error nothing changes."""
        values = {name: getattr(config, name) for name in CONFIG_PARAM_NAMES}
        values["content_layers"] = dict(config.content_layers)
        values["style_layers"] = dict(config.style_layers)
        over = self._held_to_limits(values)
        before = self.settings()
        try:
            self._restore(values)
        except ValueError as exc:  # a value outside a widget's bounds
            self._restore(before)
            self.error = f"{file_label(filename, 'The config')}: {capped(exc, 200)}"
            return False
        self.error = ""
        if over:  # said, not silent: the slider sat past its end and Run refused it
            asked, now = (" and ".join(part) for part in zip(*over, strict=True))
            name = file_label(filename, "The config")
            self.announce(f"{name} asks for {asked}, more than this server allows: it is set to {now}.")
        return True

    def _held_to_limits(self, values: dict[str, Any]) -> list[tuple[str, str]]:
        """Hold a loaded size and step count to this server's limits (in ``values``): (what was asked, what it is
        now) in words, for each that was over."""
        over = []
        for name, limit, unit in (("size", self.limits.max_size, "px"), ("steps", self.limits.max_steps, "steps")):
            if values[name] > limit:
                over.append((f"{values[name]} {unit}", f"{limit} {unit}"))
                values[name] = limit
        return over

    def apply_config_json(self, text: str | bytes, filename: str = "config") -> bool:
        """Parse and restore at once (tests, scripts); on error nothing changes and ``error`` says why."""
        try:
            config = self.read_config(text, filename)
        except nstcore.ConfigError as exc:
            self.error = str(exc)
            return False
        return self.apply_config(config, filename)

    def start_on_quick(self) -> None:
        """A served page or a notebook's workbench starts, and Reset returns, on Quick, as its examples run (with Quick
        lit): it started on StyleConfig's defaults, a minute's run here lit as neither, while every example ran a
        ten-second Quick. Unless this server's step limit is under Quick's steps."""
        self.starts_on_quick = True
        self.reset()

    def reset(self) -> None:
        """Back to the page's start: StyleConfig's defaults, then Quick's settings on a served page (see
        ``starts_on_quick``)."""
        defaults = nstcore.StyleConfig()
        values = {name: getattr(defaults, name) for name in CONFIG_PARAM_NAMES}
        quick = self.backend.run_lengths(self.limits.max_size)["quick"]
        if self.starts_on_quick and quick["steps"] <= self.limits.max_steps:
            values.update(quick)  # Quick as this server measures it now (its size follows the calibration)
        self._restore(values)

    def _restore(self, values: dict[str, Any]) -> None:
        """Set many settings at once, as given (no 'optimizer changed, so reset lr' reaction)."""
        self._restoring = True
        values = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}  # style_blend is a List
        try:
            self.param.update(**values)
        finally:
            self._restoring = False

    def _optimizer_changed(self, event: param.parameterized.Event) -> None:
        if not self._restoring:  # a user switching optimiser: each has its own natural step size
            self.lr = None

    def _generator_changed(self, event: param.parameterized.Event) -> None:
        """The hrnet generator trains at one size: picking it leaves coarse to fine (Quick's) for one scale, which
        Run would otherwise refuse."""
        if not self._restoring and event.new == "hrnet" and self.settings()["scales"] > 1:
            self.param.update(scales=1)

    def _model_changed(self, event: param.parameterized.Event) -> None:
        """Keep only layers the new network has (VGG16 has no conv3_4, conv4_4, conv5_4)."""
        names = set(nstcore.layer_names(event.new))
        style = {k: v for k, v in self.style_layers.items() if k in names}
        content = {k: v for k, v in self.content_layers.items() if k in names}
        self.param.update(
            style_layers=style or dict(nstcore.StyleConfig().style_layers),
            content_layers=content or {nstcore.PAPER_CONTENT_LAYER: 1.0},
        )
