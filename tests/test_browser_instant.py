"""Instant styles in a real browser: "Train for any photo" trains one generator on the photo and the samples through
the page, then a script-named photo dropped on the card is stylised by it in one pass. The card's screenshot goes to
test-artifacts/ for a person to look at."""

from __future__ import annotations

import io

import pytest
from browser import ARTIFACTS, chromium, open_card, open_dashboard, served_dashboard, wait_until
from conftest import make_image

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.views.instant import OWN

pytestmark = pytest.mark.browser

SCRIPT_NAME = "<img src=x onerror=window.__pwned=1>"


def test_train_for_any_photo_then_apply_it_to_a_dropped_photo() -> None:
    with (
        served_dashboard(Backend(weights="random", device_name="cpu"), Limits()) as url,
        chromium() as browser,
    ):
        context, page, dashboard = open_dashboard(browser, url, (1280, 900))
        state = dashboard.state
        try:
            open_card(page, "nst-settings-card", ".size-slider")
            handle = page.locator(".size-slider .noUi-handle")
            handle.focus()
            handle.press("Home")
            handle.press("ArrowRight")  # 32 px
            box = page.locator(".steps-input input")
            box.fill("6")
            box.press("Enter")
            wait_until(lambda: state.size == 32 and state.steps == 6, 10)
            open_card(page, "nst-instant-card", ".nst-train-any")
            page.locator(".nst-train-any button").click()
            wait_until(lambda: state.trained is not None, 90)
            page.locator(".nst-status .nst-plain", has_text="Done:").wait_for()
            assert "One generator for 2 photos" in " ".join(state.notes)
            page.locator(".nst-instant select").wait_for()
            wait_until(lambda: dashboard.instant.choice.value == OWN, 10)
            buffer = io.BytesIO()
            make_image(80, 60, seed=12).save(buffer, format="PNG")
            page.locator(".upload-instant-photo input[type=file]").set_input_files(
                files=[{"name": SCRIPT_NAME + ".png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
            )
            wait_until(lambda: dashboard.instant.applied == 1, 30)
            page.locator(".nst-instant-result img").wait_for()
            note = page.locator(".nst-instant-card").get_by_text("Applied to")
            note.wait_for()
            assert SCRIPT_NAME[:12] in note.inner_text()  # shown as text ...
            assert page.evaluate("() => window.__pwned") is None  # ... never run
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".nst-instant-card").screenshot(path=str(ARTIFACTS / "instant-card-laptop.png"))
        finally:
            context.close()
