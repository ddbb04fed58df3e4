"""Hosting for a room, without a browser: hostile text, hostile files and hostile configs are refused with a
sentence, cost little, and never reach the page as markup; start-up refuses bad settings (issue: hosted for a room)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

import nstcore
from demo_app.__main__ import basic_auth, build_parser, origins
from demo_app.jobs.backend import Backend
from demo_app.session.limits import Limits
from demo_app.session.state import SessionState
from demo_app.session.text import as_html, capped
from demo_app.session.visitor import Visitor
from demo_app.views.uploads import Uploader

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def backend() -> Backend:
    return Backend(weights="random", device_name="cpu")


def png(size=(40, 30), colour=(200, 30, 30), mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, colour if mode == "RGB" else 0).save(buf, format="PNG")
    return buf.getvalue()


def test_user_text_is_escaped_and_capped() -> None:
    shown = as_html(SCRIPT + " " + "x" * 1000)
    assert "<img" not in shown and "&lt;img" in shown and len(shown) < 400
    assert capped("a\u202eb\x00c\nd", 10) == "abc d"  # bidi override and control characters go


def test_uploader_enforces_the_limit_on_the_server() -> None:
    """A client that skips the browser's size check is stopped at the first chunk over the limit."""
    got, refused = [], []
    up = Uploader(max_bytes=100, on_file=lambda n, d: got.append((n, d)), on_refused=lambda n, s: refused.append(n))
    up.chunk_size = 60

    def send(name, chunks):
        for i, data in enumerate(chunks, 1):
            up._process_event(
                SimpleNamespace(
                    event_name="upload_event",
                    data={"name": name, "chunk": i, "total_chunks": len(chunks), "data": data, "type": "image/png"},
                )
            )

    send("big.png", [b"a" * 60, b"b" * 60, b"c" * 60])
    assert refused == ["big.png"] and got == [] and not up._file_buffer
    send("ok.png", [b"a" * 60, b"b" * 30])
    send("empty.png", [b""])
    assert got == [("ok.png", b"a" * 60 + b"b" * 30), ("empty.png", b"")]
    assert up.value == {}  # the bytes are not kept in the widget


def test_uploads_are_shrunk_on_arrival_and_the_same_name_replaces(backend) -> None:
    state = SessionState(backend, Limits(max_size=64))
    big = png((1000, 500))
    assert state.set_image("content", big, "image.jpg")
    assert max(state.content.size) == 128 and state.content_image.thumb_png[:4] == b"\x89PNG"
    version = state.images_version
    assert state.set_image("content", png((60, 40), (0, 0, 255)), "image.jpg")  # same name, new picture
    assert state.images_version == version + 1
    assert tuple(np.asarray(state.content).reshape(-1, 3).mean(0).round()) == (0, 0, 255)


def test_hostile_files_get_one_sentence_each_and_the_old_image_stays(backend) -> None:
    state = SessionState(backend, Limits(max_upload_mb=0.01))
    before = state.content
    for data, name, words in [
        (b"", "empty.png", "is empty"),
        (b"<svg/>", SCRIPT, "not an image"),
        (png((300, 300)) + b"\0" * 20_000, "huge.png", "over the upload limit"),
        (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\n", "x.eps", "not an image"),
    ]:
        assert not state.set_image("content", data, name)
        assert words in state.error and len(state.error) < 300
        assert state.content is before


def test_a_16_bit_6000px_png_is_decoded_small_and_fast() -> None:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((6000, 6000), np.uint16)).save(buf, format="PNG")
    t = time.perf_counter()
    image = nstcore.load_image(buf.getvalue(), max_side=2048)
    assert image.mode == "RGB" and max(image.size) == 2048
    assert time.perf_counter() - t < 10


def test_hostile_configs_get_a_sentence(backend) -> None:
    state = SessionState(backend, Limits())
    before = state.settings()
    cases = [
        ("[" * 150_000 + "]" * 150_000, "a config file is a few KB"),  # too big to be a config
        ("[" * 20_000 + "]" * 20_000, "nested too deeply"),
        (json.dumps({"model": SCRIPT}), "model must be one of"),
        (json.dumps({"steps": 2.5}), "steps must be a whole number"),
        (json.dumps({"seed": "abc"}), "seed must be a whole number"),
        (json.dumps({"preview_every": "x"}), "preview_every must be a whole number"),
        (json.dumps({"alpha": True}), "alpha must be a number"),
        (json.dumps({SCRIPT * 50: 1}), "Unknown config field"),
    ]
    for text, words in cases:
        assert not state.apply_config_json(text, SCRIPT + ".json"), words
        assert words in state.error, state.error
        assert len(state.error) < 600
        assert state.settings() == before


def test_long_labels_are_capped_and_drawn_fast() -> None:
    t = time.perf_counter()
    grid = nstcore.grid_image([np.zeros((64, 64, 3), np.uint8)] * 2, ["x" * 3000, "y " * 3000])
    assert time.perf_counter() - t < 1.0 and grid.size[0] > 0
    variant = nstcore.variant_from_dict(nstcore.StyleConfig(weights="random"), {"label": "z" * 1000}, 0)
    assert len(variant.label) == nstcore.MAX_LABEL


def test_style_scale_cannot_get_around_the_size_limit(backend) -> None:
    state = SessionState(backend, Limits(max_size=256))
    state.param.update(size=256, style_scale=4.0)
    assert not state.start() and "style image 1024 px" in state.error


def test_the_page_is_told_no_server_path(backend, tmp_path) -> None:
    local = Backend(weights=str(tmp_path / "secret" / "vgg19.pth"), device_name="cpu")
    assert local.weights_label() == "local weights file"
    state = SessionState(local, Limits())
    assert "secret" not in state.config_json()


def test_limits_and_auth_from_flags_and_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("NST_MAX_SIZE", "abc")
    with pytest.raises(nstcore.ConfigError, match="NST_MAX_SIZE must be a whole number"):
        Limits.from_env()
    monkeypatch.delenv("NST_MAX_SIZE")
    with pytest.raises(nstcore.ConfigError, match="max-queue|max-size"):
        Limits.from_env(max_size=-1)
    args = build_parser().parse_args([])
    assert args.address == "localhost"  # not every interface unless asked
    assert origins(args) == ["localhost:5006", "127.0.0.1:5006"]
    monkeypatch.setenv("NST_ALLOW_WEBSOCKET_ORIGIN", "workshop.example.org, other.example.org")
    assert origins(args) == ["workshop.example.org", "other.example.org"]
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n")
    monkeypatch.setenv("NST_BASIC_AUTH_FILE", str(secret))
    assert basic_auth(args) == "s3cret"
    monkeypatch.setenv("NST_BASIC_AUTH", "from-env")
    assert basic_auth(args) == "from-env"


def test_job_threads_are_set_for_the_whole_server_process(monkeypatch) -> None:
    """``--job-threads``/NST_JOB_THREADS: the torch threads every job of this server uses (default: every core)."""
    import os

    import torch

    from demo_app.server import app

    assert Limits().job_threads == (os.cpu_count() or 1)
    before = torch.get_num_threads()
    backend = Backend(weights="random", device_name="cpu")
    try:
        app.configure(backend, Limits(job_threads=1))
        assert torch.get_num_threads() == 1
        monkeypatch.setenv("NST_JOB_THREADS", "0")
        with pytest.raises(nstcore.ConfigError, match="job-threads must be a number above 0"):
            Limits.from_env()
    finally:
        app.configure(backend, Limits(job_threads=before))
    assert torch.get_num_threads() == before


@pytest.mark.parametrize(
    "argv, env, words",
    [
        (["--weights", "/no/such/file.pth"], {}, "does not exist"),
        (["--max-queue", "-1"], {}, "max-queue must be a number above 0, got -1"),
        (["--max-size", "0"], {}, "max-size must be a number above 0"),
        ([], {"NST_MAX_STEPS": "lots"}, "NST_MAX_STEPS must be a whole number, got 'lots'"),
        ([], {"NST_MAX_UPLOAD_MB": "-5"}, "max-upload-mb must be a number above 0"),
        ([], {"NST_BASIC_AUTH_FILE": "/no/such/secret"}, "NST_BASIC_AUTH_FILE names a file that cannot be read"),
        (["--oauth-provider", "nonsense"], {}, "is not one Panel knows"),
        (["--port", "70000"], {}, "--port must be between 0 and 65535"),
        (["--num-threads", "-3"], {}, "--num-threads must be at least 1"),
        (["--trusted-proxies", "nginx"], {}, "trusted-proxies takes addresses"),
        (["--max-size", "9" * 4000], {}, "max-size must be a number above 0"),
        (["--address", "nonsense.invalid"], {}, "cannot serve on nonsense.invalid"),
        (["--public-url", "javascript:alert(1)"], {}, "--public-url 'javascript:alert(1)' is not an http or https"),
        ([], {"NST_PUBLIC_URL": "workshop.example.org"}, "is not an http or https address with a host"),
        (["--public-url", "https://:8080/"], {}, "is not an http or https address with a host"),
        (["--public-url", "http://room.example.org:port/"], {}, "is not an http or https address with a host"),
    ],
)
def test_the_server_refuses_to_start_on_bad_settings(argv, env, words, tmp_path) -> None:
    from cli_child import run_main

    proc = run_main(  # python -m demo_app ..., in a process of its own (see cli_child)
        "demo_app.__main__",
        ["--no-show", "--device", "cpu", "--weights", "random", *argv],
        ROOT,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TORCH_HOME": str(tmp_path), **env},
    )
    assert proc.returncode == 2, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr


def test_a_vgg16_file_for_vgg19_is_refused_at_start(tmp_path) -> None:
    import torch

    from nstcore.weights import build_features

    path = tmp_path / "vgg16.pth"
    torch.save(build_features("vgg16").state_dict(), path)
    proc = subprocess.run(
        [sys.executable, "-m", "demo_app", "--no-show", "--device", "cpu", "--weights", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TORCH_HOME": str(tmp_path)},
    )
    assert proc.returncode == 2 and "do not fit vgg19" in proc.stderr, proc.stderr


def test_one_client_cannot_open_unlimited_pages(backend, monkeypatch) -> None:
    """A visitor (a browser) has a few tabs; an address a room's worth, whoever asks (a script that throws its
    cookies away is a new visitor every time)."""
    import demo_app.server.app as app

    app.configure(backend, Limits(max_sessions_per_client=2, max_sessions_per_address=3))
    monkeypatch.setattr(app, "quiet_periodic", lambda *a, **k: SimpleNamespace(stop=lambda: None))
    monkeypatch.setattr(app.pn.state, "on_session_destroyed", lambda callback: None)

    def page(key: str, address: str = "10.0.0.9"):
        monkeypatch.setattr(app, "current_visitor", lambda: Visitor(f"browser:{key}", address))
        return app.create_app()

    pages = [page("a"), page("a"), page("a"), page("b"), page("c"), page("d", "10.0.0.10")]
    try:
        assert [hasattr(p, "dashboard") for p in pages] == [True, True, False, True, False, True]
        for refused in (pages[2], pages[4]):
            assert "nst-refused" in refused.css_classes
        assert "This browser already has 2 pages" in pages[2].objects[0].object
        assert "3 pages of the workbench are already open from your network" in pages[4].objects[0].object
    finally:
        for p in pages:
            if hasattr(p, "dashboard"):
                app.LIVE_SESSIONS.discard(p.dashboard)


def test_liveness_answers_503_when_the_scheduler_cannot_progress() -> None:
    import asyncio
    import threading
    import urllib.error
    import urllib.request

    from browser import free_port
    from tornado.web import Application

    from demo_app.server.status import LivenessHandler

    health = {"now": (True, "")}
    port = free_port()
    ready = threading.Event()

    def serve() -> None:
        async def main() -> None:
            Application([("/liveness", LivenessHandler, {"health": lambda: health["now"]})]).listen(port, "127.0.0.1")
            ready.set()
            await asyncio.Event().wait()

        asyncio.run(main())

    threading.Thread(target=serve, daemon=True).start()
    assert ready.wait(10)
    url = f"http://127.0.0.1:{port}/liveness"
    assert json.loads(urllib.request.urlopen(url, timeout=5).read()) == {"liveness": True}
    health["now"] = (False, "1 scheduler thread(s) died and were not replaced")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(url, timeout=5)
    assert err.value.code == 503 and b"died" in err.value.read()


def test_host_and_wall_pages_count_in_the_page_cap(backend, monkeypatch) -> None:
    """/host pages were not counted: one computer could open any number of password forms. They count in their
    address's ceiling (they get no visitor cookie)."""
    import demo_app.server.app as app

    app.configure(backend, Limits(max_sessions_per_address=2), "host-secret")
    monkeypatch.setattr(app, "client_address", lambda: "10.0.0.11")
    monkeypatch.setattr(app.pn.state, "on_session_destroyed", lambda callback: None)
    pages = [app.create_host(), app.create_wall()]
    try:
        assert [p.client for p in pages] == ["10.0.0.11", "10.0.0.11"]
        for refused in (app.create_host(), app.create_wall(), app.create_app()):
            assert (
                "nst-refused" in refused.css_classes and "already open from your network" in refused.objects[0].object
            )
        monkeypatch.setattr(app, "client_address", lambda: "10.0.0.12")
        assert app.create_host().client == "10.0.0.12"
    finally:
        app.LIVE_HOST_PAGES.clear()


def test_a_public_url_is_an_http_or_https_address_with_a_host() -> None:
    """Issue 39: ``--public-url javascript:alert(1)`` was accepted, and the wall's QR code would carry it."""
    from demo_app.__main__ import check_public_url

    for good in ("https://workshop.example.org/", "http://10.0.0.5:5006/", "http://[::1]:5006/room", None, ""):
        check_public_url(good)
    for bad in ("javascript:alert(1)", "data:text/html,hi", "ftp://example.org/", "example.org", "https://a b.org/"):
        with pytest.raises(nstcore.ConfigError, match="is not an http or https address with a host"):
            check_public_url(bad)
