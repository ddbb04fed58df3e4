"""The workbench in JupyterLab, in a real browser (issue 40): JupyterLab served on loopback, the workbench cell run,
▶ Run pressed inside the cell's output, and the preview and the loss chart follow the run there."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from browser import ARTIFACTS, chromium, free_port, wait_until
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "nst-test-token"


def _lab(folder: Path, port: int) -> subprocess.Popen:
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "JUPYTER_CONFIG_DIR": str(folder / "config"),
        "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
        "JUPYTER_DATA_DIR": str(folder / "data"),
    }
    command = [str(jupyter), "lab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1"]
    command += [f"--IdentityProvider.token={TOKEN}", f"--notebook-dir={folder}", "--LabApp.news_url=''"]
    lab = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=(folder / "lab.log").open("w"))
    deadline = time.time() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return lab
        except OSError:
            if time.time() > deadline or lab.poll() is not None:
                lab.kill()
                raise AssertionError(f"JupyterLab did not start: {(folder / 'lab.log').read_text()[-2000:]}") from None
            time.sleep(0.3)


def test_run_inside_a_jupyterlab_cell_streams_the_preview_and_the_chart(tmp_path) -> None:
    notebook = new_notebook(
        cells=[
            new_code_cell(
                "import panel as pn\n\npn.extension('tabulator', 'filedropper', notifications=True, inline=True)"
            ),
            new_code_cell(
                "from demo_app import Workbench\n\nbench = Workbench(weights='random', device='cpu')\n"
                "bench.state.param.update(size=48, steps=2000, scales=1)\nbench"
            ),
        ]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, tmp_path / "bench.ipynb")
    port = free_port()
    lab = _lab(tmp_path, port)
    try:
        with chromium() as browser:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.goto(f"http://127.0.0.1:{port}/lab/tree/bench.ipynb?token={TOKEN}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
            # the kernel started and idle (under load a keystroke before it was lost, and the cell never ran)
            page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"Idle")).first.wait_for(timeout=180_000)
            page.locator(".jp-Cell").first.click()
            page.keyboard.press("Shift+Enter")  # the extension (BokehJS inline: this machine is offline)
            page.keyboard.press("Shift+Enter")  # the workbench (queued after the first)
            run = page.get_by_role("button", name="▶ Run", exact=True)
            run.wait_for(timeout=180_000)
            preview = page.locator(".nst-preview img").first
            preview.wait_for()
            before = preview.get_attribute("src")
            run.click()
            status = page.get_by_text(re.compile(r"Step \d+ of 2000"))
            status.first.wait_for(timeout=60_000)
            first = int(re.search(r"Step (\d+)", status.first.text_content() or "").group(1))
            wait_until(lambda: preview.get_attribute("src") != before, timeout=60)
            wait_until(
                lambda: int(re.search(r"Step (\d+)", status.first.text_content() or "Step 0").group(1)) > first + 5,
                timeout=60,
            )
            # the loss chart grew: its step axis reaches past the first steps shown
            assert page.locator(".bk-Figure").count() >= 1
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "notebook-jupyterlab.png"), full_page=False)
            page.get_by_role("button", name="■ Stop", exact=True).click()
            page.get_by_text(re.compile(r"Stopped at step")).first.wait_for(timeout=30_000)
    finally:
        lab.terminate()
        try:
            lab.wait(20)
        except subprocess.TimeoutExpired:
            lab.kill()
