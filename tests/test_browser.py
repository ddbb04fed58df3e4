"""The dashboard in a real browser: Debian's chromium driven by Playwright against an in-process server."""

from __future__ import annotations

import io
import re
import time

import numpy as np
import pytest
from browser import ARTIFACTS, chromium, open_card, open_dashboard, serious_violations, served_dashboard
from browser import wait_until as _wait
from conftest import make_image
from PIL import Image

from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def url():
    with served_dashboard(Backend(weights="random", device_name="cpu"), Limits()) as address:
        yield address


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _open(browser, url: str):
    """A new browser context on the dashboard; returns (context, page, the session's server-side Dashboard)."""
    return open_dashboard(browser, url)


def _set_size_and_steps(page, state, size: int, steps: int) -> None:
    """Size through the slider's keyboard (Home = 16 px, each ArrowRight +16), steps through its input box, at one
    scale (a fresh page is on Quick, coarse to fine: at these sizes its coarsest scale is too small for VGG)."""
    open_card(page, "nst-settings-card", ".size-slider")
    handle = page.locator(".size-slider .noUi-handle")
    handle.focus()
    handle.press("Home")
    for _ in range((size - 16) // 16):
        handle.press("ArrowRight")
    for selector, value in ((".nst-scales input", 1), (".steps-input input", steps)):
        box = page.locator(selector)
        box.fill(str(value))
        box.press("Enter")
    _wait(lambda: state.size == size and state.steps == steps and state.scales == 1)


@pytest.fixture()
def page(browser, url):
    context, page, _ = _open(browser, url)
    yield page
    context.close()


def _png(tmp_path, name: str, image: Image.Image) -> str:
    path = tmp_path / name
    image.save(path)
    return str(path)


def _preview_src(page) -> str:
    img = page.locator(".nst-preview img")
    return (img.first.get_attribute("src") or "") if img.count() else ""


def _preview_sources(page, count: int, timeout: float, before: str = "") -> list[str]:
    """Distinct preview images seen in the page after ``before`` (the content shown before a run), polling its
    <img> until ``count`` were seen."""
    seen: list[str] = []
    deadline = time.time() + timeout
    while time.time() < deadline and len(seen) < count:
        src = _preview_src(page)
        if src and src != before and (not seen or src != seen[-1]):
            seen.append(src)
        time.sleep(0.1)
    return seen


def test_upload_run_watch_stop_and_bad_upload(browser, url, tmp_path) -> None:
    context, page, dashboard = _open(browser, url)
    state = dashboard.state

    page.locator(".upload-content input[type=file]").set_input_files(
        _png(tmp_path, "my_photo.png", make_image(80, 60, seed=4))
    )
    page.locator(".upload-style input[type=file]").set_input_files(
        _png(tmp_path, "my_painting.png", make_image(64, 64, seed=5))
    )
    _wait(lambda: state.content_name == "my_photo.png" and state.style_name == "my_painting.png")

    _set_size_and_steps(page, state, 64, 3000)

    before = _preview_src(page)
    assert before.startswith("data:image/jpeg")  # the uploaded content stands in until the run starts
    page.get_by_role("button", name="▶ Run", exact=True).click()
    frames = _preview_sources(page, count=4, timeout=60, before=before)
    assert len(frames) >= 4, "the preview changed fewer than three times"
    assert all(src.startswith("data:image/jpeg;base64,") for src in frames)
    _wait(lambda: dashboard.single.points_streamed >= 5)
    page.locator(".nst-status").get_by_text(re.compile(r"Step \d+ of 3000 · [\d.]+ it/s")).wait_for()

    page.get_by_role("button", name="■ Stop", exact=True).click()
    page.get_by_text("Stopped at step").wait_for()
    assert not state.running and state.step < 3000

    (tmp_path / "notes.png").write_text("this is not a picture")
    page.locator(".upload-content input[type=file]").set_input_files(str(tmp_path / "notes.png"))
    page.locator(".nst-error").get_by_text("notes.png").wait_for()
    assert state.content_name == "my_photo.png"  # the previous image stays
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-after-stop.png"), full_page=True)
    context.close()


def test_midrun_screenshot_with_sample_images(page) -> None:
    """Runs the default page (the project's own sample images, on Quick) and saves a mid-run screenshot for the
    README."""
    before = _preview_src(page)
    page.get_by_role("button", name="▶ Run", exact=True).click()
    frames = _preview_sources(page, count=3, timeout=90, before=before)
    assert len(frames) >= 3
    page.locator(".nst-status").get_by_text(re.compile(r"Step [2-5]\d of 60")).wait_for(timeout=60_000)
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-midrun.png"
    page.screenshot(path=str(shot), full_page=False)
    assert Image.open(io.BytesIO(shot.read_bytes())).size == (1400, 1000)
    assert serious_violations(page) == []  # mid-run: Stop is enabled (its red once failed the contrast rule)
    page.get_by_role("button", name="■ Stop", exact=True).click()
    page.get_by_text("Stopped at step").wait_for()


LONG_LABEL = "style conv1_1+conv2_1+conv3_1, a label longer than its cell"


def test_three_variant_comparison_fills_the_grid(browser, url) -> None:
    context, page, dashboard = _open(browser, url)
    state = dashboard.state
    _set_size_and_steps(page, state, 48, 40)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.locator(".add-variant button").click()  # the pooling preset has 2 rows; a third one
    _wait(lambda: len(state.variants) == 3)
    page.locator(".variants-table").get_by_text("variant 3").wait_for()
    state.variants = [*state.variants[:2], {**state.variants[2], "label": LONG_LABEL}]
    run = page.get_by_role("button", name="▶ Run comparison", exact=True)  # the one Run follows the open tab
    run.click()
    _wait(lambda: dashboard.compare.cells_filled == 3, timeout=60)
    cells = page.locator(".nst-cell img")
    deadline = time.time() + 20
    while time.time() < deadline and cells.count() < 3:
        time.sleep(0.1)
    assert cells.count() == 3
    for i in range(3):
        assert (cells.nth(i).get_attribute("src") or "").startswith("data:image/jpeg")
    for label in ("avg pooling", "max pooling", LONG_LABEL):
        page.locator(".nst-cell").get_by_text(label).wait_for()
    # every label in full: not clipped, and above its PNG button, never under it
    text = page.locator(".nst-cell").nth(2).get_by_text(LONG_LABEL)
    assert text.evaluate("e => e.scrollWidth <= e.clientWidth + 1 && e.scrollHeight <= e.clientHeight + 1")
    button = page.locator(".nst-cell").nth(2).locator(".nst-cell-download")
    assert text.bounding_box()["y"] + text.bounding_box()["height"] <= button.bounding_box()["y"] + 1
    page.get_by_text(re.compile(r"Done: 40 steps|Stopped")).wait_for(timeout=60_000)
    _wait(lambda: not dashboard.compare.zoom_button.disabled, timeout=30)  # the cells' PNGs are ready
    assert page.locator(".nst-cell-download").count() == 3
    page.locator(".nst-zoom-cells button").click()  # every cell at full size, zooming together
    _wait(lambda: dashboard.compare.zoomed.visible)
    figures = page.locator(".nst-zoomed .bk-Figure")
    figures.nth(2).wait_for()
    assert figures.count() == 3
    for i in range(3):  # each shows its picture (in a FlexBox they were empty bands with a toolbar's dots)
        shot = np.asarray(Image.open(io.BytesIO(figures.nth(i).screenshot())).convert("L"), dtype=float)
        height, width = shot.shape
        assert shot[height // 3 : 2 * height // 3, width // 4 : 3 * width // 4].std() > 10, i
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"), full_page=True)
    context.close()


def test_closing_the_tab_cancels_its_job_and_status_page_counts(browser, url) -> None:
    import urllib.request

    from demo_app.server.app import _defaults

    scheduler = _defaults()[0].scheduler
    context, page, dashboard = _open(browser, url)
    page.get_by_role("button", name="▶ Run", exact=True).click()
    _wait(lambda: dashboard.state.step >= 1, timeout=60)
    assert scheduler.stats()["running"] == 1
    status = browser.new_page()
    status.goto(url + "status")
    status.locator(".nst-server-status").get_by_text("jobs running").wait_for()
    status.locator(".nst-server-status").get_by_text("1 of at most").wait_for()
    from demo_app.server.app import SESSION_CLEANUP

    latest = dashboard.state.run.job.latest if dashboard.state.run.job is not None else None
    step_s = 1.0 / latest.rate if latest is not None and latest.rate > 0 else 1.0
    t = time.time()
    context.close()  # the tab goes away mid-run
    _wait(lambda: scheduler.stats()["running"] == 0, timeout=10)
    # Bokeh destroys the unused session within one check after its lifetime (2.5 s; its default is ~30 s), and the
    # job stops after the step it is in: the bound is that plus a step and a second of slack for the loop.
    cleanup_s = (
        SESSION_CLEANUP["check_unused_sessions_milliseconds"] + SESSION_CLEANUP["unused_session_lifetime_milliseconds"]
    ) / 1000
    assert time.time() - t < cleanup_s + step_s + 1.0, (time.time() - t, cleanup_s, step_s)
    assert urllib.request.urlopen(url + "liveness", timeout=5).status == 200
    status.close()


def test_figure_3_as_a_two_way_sweep_in_the_page(browser, url) -> None:
    """Issue 38: Gatys et al.'s Figure 3 (style layers down, α/β across) could not be made in the page: Compare
    varied one thing at a time, 2 to 8 cells. Load sweep fills the table with its 20 cells; they run, and show
    under their headings."""
    context, page, dashboard = _open(browser, url)
    state = dashboard.state
    page.get_by_role("button", name="Compare", exact=True).click()
    page.locator(".nst-load-sweep button").click()
    _wait(lambda: len(state.variants) == 20 and state.sweep_shape() is not None)
    state.param.update(size=32, steps=3, scales=1)
    page.get_by_role("button", name="▶ Run comparison", exact=True).click()
    _wait(lambda: state.running)
    _wait(lambda: not state.running and state.status.startswith("Done"), timeout=120)
    grid = page.locator(".nst-sweep-grid")
    grid.wait_for()
    assert grid.locator(".nst-sweep-column").count() == 4 and grid.locator(".nst-sweep-row").count() == 5
    grid.locator(".nst-sweep-column").first.get_by_text("α/β = 1×10⁻⁴").wait_for()
    _wait(lambda: grid.locator(".nst-cell img").count() == 20, timeout=30)
    _wait(lambda: not dashboard.compare.grid_download.disabled, timeout=30)  # one PNG with every cell's record
    grid.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "compare-sweep.png"), full_page=False)
    context.close()
