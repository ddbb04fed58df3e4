"""Several styles in a real browser: a second painting added in the "More styles" card, a region drawn for each
style over the photo with the mouse, a run that streams each style's total, its blend moved live by keyboard, and
hostile uploads (a script-named style, a mask for another picture) answered with sentences. Screenshots of the card
(laptop and phone) go to test-artifacts/ for a person to look at."""

from __future__ import annotations

import io

import numpy as np
import pytest
from browser import ARTIFACTS, chromium, open_dashboard, served_dashboard, start_small_run, wait_until
from conftest import make_image
from PIL import Image

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.views.charts import lines

pytestmark = pytest.mark.browser

SCRIPT_NAME = "<img src=x onerror=window.__pwned=1>"


@pytest.fixture(scope="module")
def url():
    with served_dashboard(Backend(weights="random", device_name="cpu"), Limits()) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _open_card(page) -> None:
    page.locator(".nst-styles-card .card-header").first.click()
    page.locator(".upload-extra-style input[type=file]").wait_for(state="attached")


def _stroke(page, box, corners) -> None:
    """Press, drag around ``corners`` (fractions of the canvas), release: one closed freehand region."""
    x0, y0, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x0 + corners[-1][0] * w, y0 + corners[-1][1] * h)
    page.mouse.down()
    for fx, fy in corners:
        page.mouse.move(x0 + fx * w, y0 + fy * h, steps=8)
    page.mouse.up()


def test_add_a_style_draw_two_regions_run_and_steer_the_blend(browser, url) -> None:
    context, page, dashboard = open_dashboard(browser, url, (1280, 900))
    state = dashboard.state
    cdn: list[str] = []  # Panel's own CSS/JS must come from this server (a workshop network may be offline)
    page.on("request", lambda request: cdn.append(request.url) if "cdn.holoviz.org" in request.url else None)
    try:
        _open_card(page)
        upload = page.locator(".upload-extra-style input[type=file]")
        upload.set_input_files(
            files=[{"name": SCRIPT_NAME + ".png", "mimeType": "image/png", "buffer": _png(make_image(96, 96, seed=7))}]
        )
        wait_until(lambda: state.style_count == 2, 20)
        page.locator(".nst-blend-2").wait_for()
        canvas = page.locator(".nst-styles-card canvas").last
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()
        assert box is not None
        _stroke(page, box, [(0.45, 0.03), (0.45, 0.97), (0.03, 0.97), (0.03, 0.03)])
        wait_until(lambda: list(state.masks) == [0], 15)
        page.locator(".nst-paint-for button", has_text="style 2").click()
        wait_until(lambda: dashboard.styles.paint_for.value == "style 2", 5)
        _stroke(page, box, [(0.97, 0.03), (0.97, 0.97), (0.55, 0.97), (0.55, 0.03)])
        wait_until(lambda: sorted(state.masks) == [0, 1], 15)
        left, right = (np.asarray(state.masks[i].image, dtype=float) / 255 for i in (0, 1))
        width = left.shape[1]
        assert left[:, : width // 3].mean() > 0.8 and left[:, 2 * width // 3 :].mean() < 0.05
        assert right[:, 2 * width // 3 :].mean() > 0.8 and right[:, : width // 3].mean() < 0.05
        page.wait_for_timeout(2000)  # the card's layout settles after the rows change
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".nst-styles-card").first.screenshot(path=str(ARTIFACTS / "styles-card-laptop.png"))

        start_small_run(page, steps=5000)
        wait_until(lambda: state.running and state.step >= 3, 60)
        shown = [key for key, line in lines(dashboard.single.chart.object).items() if line.visible]
        assert {"style image 1", "style image 2"} <= set(shown), shown
        handle = page.locator(".nst-blend-1 .noUi-handle")
        handle.focus()
        handle.press("Home")  # style 1's weight to 0, by keyboard, during the run
        wait_until(lambda: any(c["field"] == "style_blend" for c in state.run.changes), 15)
        wait_until(lambda: any(c.get("placed") for c in state.run.changes), 30)
        assert state.style_blend[0] == 0.0
        for _ in range(5):  # the focus stays on the slider while its value changes (its row was rebuilt: <body>)
            handle.press("ArrowRight")
        wait_until(lambda: state.style_blend[0] == 0.25, 15)
        assert page.evaluate(
            "() => { let a = document.activeElement; while (a && a.shadowRoot && a.shadowRoot.activeElement) "
            "a = a.shadowRoot.activeElement; return a.classList.contains('noUi-handle'); }"
        )
        page.screenshot(path=str(ARTIFACTS / "styles-run.png"))

        # a mask made for another picture: one sentence, the regions stay
        mask = page.locator(".upload-mask input[type=file]")
        mask.set_input_files(
            files=[{"name": "tall.png", "mimeType": "image/png", "buffer": _png(Image.new("L", (30, 300), 255))}]
        )
        page.locator(".nst-error").get_by_text("must have the content image's shape").wait_for()
        assert sorted(state.masks) == [0, 1]
        assert page.evaluate("window.__pwned") is None  # the script-named upload stayed a file name
        assert cdn == [], cdn[:3]
    finally:
        state.stop()
        context.close()


def test_the_card_fits_a_phone(browser, url) -> None:
    context, page, dashboard = open_dashboard(browser, url, (390, 844))
    try:
        _open_card(page)
        page.locator(".upload-extra-style input[type=file]").set_input_files(
            files=[{"name": "second.png", "mimeType": "image/png", "buffer": _png(make_image(96, 96, seed=8))}]
        )
        wait_until(lambda: dashboard.state.style_count == 2, 20)
        page.locator(".nst-blend-2").wait_for()
        card = page.locator(".nst-styles-card").first
        card.scroll_into_view_if_needed()
        page.wait_for_timeout(2000)
        card.screenshot(path=str(ARTIFACTS / "styles-card-phone.png"))
        wide = page.evaluate("() => document.documentElement.scrollWidth")
        assert wide <= 391, wide  # nothing in the card makes the page scroll sideways
    finally:
        context.close()
