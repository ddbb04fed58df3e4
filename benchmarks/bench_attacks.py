"""Attacks on one server's shared resources (issue 22), each against a fresh server process:

    python benchmarks/bench_attacks.py [--server-root DIR] [--out FILE]

* **run-stop**: one page presses Run then Stop six times, a second apart, at 768 px: the server's peak memory, the
  most job threads left computing at once (``/liveness``'s ``stuck_threads``; the old server did not count them, so
  its column is empty) and the CPU cores it kept busy in the 10 s after the last Stop;
* **apply-flood**: one page clicks *Apply* (an instant style at 1024 px) ten times as fast as it can, while another
  page uploads a small photo: how long that upload takes to arrive, against the same upload on a quiet server, and
  the server's peak memory;
* **pool-flood**: one visitor in two tabs (one browser context) clicks *Apply* at 1024 px and *Make time-lapse*
  without pause, past disabled buttons, while another visitor uploads the photo (issue 39: the worker pool's fair
  share).

A guard samples the server's memory every 0.2 s and kills it before it takes more than half of the machine's.
``--server-root`` runs the same attacks against another checkout (e.g. the code before the gate, for a before/after
table). Writes benchmarks/results_attacks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from common import write_results  # noqa: E402

GUARD_FRACTION = 0.5  # of the machine's memory


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


class Watch:
    """Samples a server process: peak memory, the most stuck threads /liveness reported; kills it past the guard."""

    def __init__(self, url: str, proc: subprocess.Popen) -> None:
        self.url, self.proc = url, proc
        self.peak_mb = 0.0
        self.stuck: float | None = None  # None: the server does not report stuck threads (before the gate)
        self.guarded = False
        total_kb = int(Path("/proc/meminfo").read_text().split()[1])
        self.limit_mb = GUARD_FRACTION * total_kb / 1024
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        beat = 0
        while not self._stop.is_set():
            rss = _rss_mb(self.proc.pid)
            self.peak_mb = max(self.peak_mb, rss)
            if rss > self.limit_mb:
                self.guarded = True
                self.proc.kill()
                return
            beat += 1
            if beat % 5 == 0:
                try:
                    body = json.loads(urllib.request.urlopen(self.url + "liveness", timeout=5).read())
                    if "stuck_threads" in body:
                        self.stuck = max(self.stuck or 0.0, float(body["stuck_threads"]))
                except (OSError, ValueError):
                    pass
            time.sleep(0.2)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _server(root: Path, *args: str):
    """``python -m demo_app`` of the checkout at ``root`` (the tests' helper, pointed there)."""
    import browser

    return browser.server_process(*args, root=root)


def run_stop(root: Path, size: int = 768, cycles: int = 5, quiet_seconds: float = 10, settle: float = 0) -> dict:
    """Run, then ``cycles`` times Stop and Run a second apart, then Stop; measured for ``quiet_seconds`` from
    ``settle`` seconds after the last Stop."""
    from browser import chromium, start_small_run

    with _server(root, "--max-size", str(size)) as (url, proc), chromium() as chrome:
        watch = Watch(url, proc)
        page = chrome.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        run = page.get_by_role("button", name="▶ Run", exact=True)
        run.wait_for(timeout=60_000)
        start_small_run(page, size_key="End")  # the largest size: --max-size
        for _ in range(cycles):
            page.wait_for_timeout(1000)
            page.get_by_role("button", name="■ Stop", exact=True).click()
            page.wait_for_timeout(300)
            run.click()
        page.wait_for_timeout(1000)
        page.get_by_role("button", name="■ Stop", exact=True).click()
        time.sleep(settle)
        cpu = _cpu_seconds(proc.pid)
        time.sleep(quiet_seconds)
        busy = (_cpu_seconds(proc.pid) - cpu) / quiet_seconds
        watch.stop()
        return {"peak_mb": watch.peak_mb, "stuck": watch.stuck, "cores_after_stop": busy, "guard": watch.guarded}


def _generator_folder(folder: Path) -> Path:
    import nstcore
    from nstcore.generator import generator_bytes
    from nstcore.hrnet import HRNet

    config = nstcore.StyleConfig(size=256, weights="random", generator="hrnet")
    (folder / "bench.pt").write_bytes(generator_bytes(HRNet().state_dict(), config))
    return folder


def _upload_seconds(page, photo: Path, between: Callable[[], object] | None = None) -> float:
    """How long ``photo`` takes from the file input to the page showing it in use (``between()`` runs while it
    waits: another page's clicks)."""
    select = page.locator(".sample-content select").first
    if select.input_value() == "(your upload)":  # from an earlier upload: back to a sample first
        select.select_option(index=1)
        while select.input_value() == "(your upload)":
            page.wait_for_timeout(50)
    t = time.perf_counter()
    page.locator(".upload-content input[type=file]").set_input_files(str(photo))
    deadline = time.time() + 120
    while select.input_value() != "(your upload)" and time.time() < deadline:
        if between is not None:
            between()
        page.wait_for_timeout(50)
    return time.perf_counter() - t


@contextlib.contextmanager
def _flood_scene(root: Path) -> Iterator[tuple]:
    """A fresh server with an instant style (``--max-size 1024``), a browser, the memory guard, a visitor's page
    ready and a photo for it to upload: ``(url, chrome, watch, visitor, photo)``."""
    from browser import chromium

    with tempfile.TemporaryDirectory() as tmp:
        folder = _generator_folder(Path(tmp))
        photo = Path(tmp) / "photo.jpg"
        Image.new("RGB", (1600, 1200), (180, 120, 60)).save(photo, quality=90)
        with _server(root, "--generators", str(folder), "--max-size", "1024") as (url, proc), chromium() as chrome:
            watch = Watch(url, proc)
            visitor = chrome.new_page(viewport={"width": 1280, "height": 900})
            visitor.goto(url)
            visitor.get_by_role("button", name="▶ Run", exact=True).wait_for(timeout=60_000)
            try:
                yield url, chrome, watch, visitor, photo
            finally:
                watch.stop()


def _flooding_tab(context, url: str, run_first: bool = False):
    """A tab of the flooding visitor, at 1024 px (the server's largest), its Instant card open; ``run_first``: after
    a small run to its end (frames for a time-lapse)."""
    from browser import open_card, start_small_run

    page = context.new_page()
    page.goto(url)
    page.get_by_role("button", name="▶ Run", exact=True).wait_for(timeout=60_000)
    if run_first:
        start_small_run(page, steps=8)
        page.locator(".nst-status").get_by_text("Done").first.wait_for(timeout=60_000)
    open_card(page, "nst-settings-card", ".size-slider")
    handle = page.locator(".size-slider .noUi-handle")
    handle.focus()
    handle.press("End")
    page.locator(".nst-instant-card .card-header").first.click()
    page.locator(".nst-apply button").first.wait_for(timeout=30_000)
    return page


def apply_flood(root: Path) -> dict:
    with _flood_scene(root) as (url, chrome, watch, visitor, photo):
        quiet = _upload_seconds(visitor, photo)
        attacker = _flooding_tab(chrome.new_context(viewport={"width": 1280, "height": 900}), url)
        apply = attacker.locator(".nst-apply button").first
        for _ in range(10):
            apply.click(force=True)
        loaded = _upload_seconds(visitor, photo)
        attacker.wait_for_timeout(20_000)  # the applies that were admitted run to their end: peak memory
    return {"quiet_s": quiet, "flood_s": loaded, "peak_mb": watch.peak_mb, "guard": watch.guarded}


def pool_flood(root: Path) -> dict:
    """One visitor (one browser context: one visitor cookie) in two tabs clicks Apply (1024 px) and Make time-lapse
    as fast as a script can, past disabled buttons, while another visitor uploads a photo: its upload's time against
    the same upload on a quiet server, the median of three each (issue 39: 16.4 s against 3.2 s before the pool
    took turns)."""
    with _flood_scene(root) as (url, chrome, watch, visitor, photo):
        quiet = statistics.median(_upload_seconds(visitor, photo) for _ in range(3))
        flooder = chrome.new_context(viewport={"width": 1280, "height": 900})
        tabs = [_flooding_tab(flooder, url, run_first=True), _flooding_tab(flooder, url)]
        selectors = (".nst-apply button", ".nst-make-timelapse button")
        buttons = [tab.locator(selector).first for tab in tabs for selector in selectors]

        def flood() -> None:
            for button in buttons:
                button.click(force=True)

        started = time.time()
        while time.time() - started < 3:  # the flood is under way before the upload starts
            flood()
        loaded = statistics.median(_upload_seconds(visitor, photo, between=flood) for _ in range(3))
    return {"quiet_s": quiet, "flood_s": loaded, "peak_mb": watch.peak_mb, "guard": watch.guarded}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server-root", action="append", default=None, help="Checkouts to attack (default: this).")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results_attacks.md"))
    args = parser.parse_args()
    roots = [Path(r).resolve() for r in (args.server_root or [str(ROOT)])]
    table = (
        "| server | attack | peak server memory (MB) | most threads left computing | CPU cores busy 10 s after "
        "the last Stop | another visitor's upload, quiet (s) | ... during the flood (s) | guard stopped it |\n"
        "|---|---|---:|---:|---:|---:|---:|---|\n"
    )
    for root in roots:
        label = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        r = run_stop(root)
        print(label, "run-stop", r, flush=True)
        table += (
            f"| {label} | Run then Stop, 6 times, at 768 px | {r['peak_mb']:.0f} | "
            f"{'—' if r['stuck'] is None else format(r['stuck'], '.0f')} | "
            f"{r['cores_after_stop']:.2f} | | | {r['guard']} |\n"
        )
        r = apply_flood(root)
        print(label, "apply-flood", r, flush=True)
        table += (
            f"| {label} | 10 Apply clicks at 1024 px | {r['peak_mb']:.0f} | | | {r['quiet_s']:.1f} | "
            f"{r['flood_s']:.1f} | {r['guard']} |\n"
        )
        r = pool_flood(root)
        print(label, "pool-flood", r, flush=True)
        table += (
            f"| {label} | one visitor, two tabs: Apply (1024 px) and time-lapse clicks without pause | "
            f"{r['peak_mb']:.0f} | | | {r['quiet_s']:.1f} | {r['flood_s']:.1f} | {r['guard']} |\n"
        )
    table += "\nTarget: another visitor's upload during the flood <= 2x its quiet figure.\n"
    write_results(
        args.out,
        "Attacks on the shared server: Run/Stop cycles and an Apply flood",
        "each attack against a fresh server process (random weights, CPU); memory is the server's RSS sampled "
        "every 0.2 s; stuck threads from /liveness (counted since the gate; empty for older servers).",
        table,
    )


if __name__ == "__main__":
    main()
