"""The page's widgets take their ranges from StyleConfig's field metadata and the server's limits, never re-typed."""

from __future__ import annotations

import dataclasses
import math

import nstcore
from demo_app.backend import Backend
from demo_app.layout import Dashboard
from demo_app.limits import Limits
from demo_app.state import SessionState


def _meta(name: str) -> dict:
    return next(f.metadata for f in dataclasses.fields(nstcore.StyleConfig) if f.name == name)


def test_widget_ranges_come_from_the_config_and_the_limits() -> None:
    limits = Limits(max_size=512, max_steps=700)
    dashboard = Dashboard(SessionState(Backend(weights="random", device_name="cpu"), limits))
    for name, slider in (
        ("alpha", dashboard.alpha),
        ("beta", dashboard.beta),
        ("tv", dashboard.tv),
        ("lr", dashboard.lr),
    ):
        meta = _meta(name)
        assert slider.slider.end == math.log10(meta["max"]), name
        assert slider.slider.start == math.log10(meta["slider_min"] or meta["min"]), name
    size = dashboard.settings_wide[0]
    assert (size.start, size.end, size.step) == (_meta("size")["min"], 512, _meta("size")["step"])
    steps = next(w for w in dashboard.settings_grid if "steps-input" in w.css_classes)
    assert (steps.start, steps.end) == (_meta("steps")["min"], 700)
