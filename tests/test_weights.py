"""Weights resolution, offline: local state dicts, a prepared torch hub cache, and the failed-download message."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from nstcore import WeightsError
from nstcore.weights import build_features, hub_checkpoint_path, load_features


def _seeded_features(model: str, seed: int) -> torch.nn.Sequential:
    torch.manual_seed(seed)
    features = build_features(model)
    for module in features:
        if isinstance(module, torch.nn.Conv2d):
            module.bias.data.uniform_(-1, 1)  # torchvision zero-inits biases; make them tell files apart
    return features


def _assert_same(features: torch.nn.Sequential, expected: torch.nn.Sequential) -> None:
    for (k, a), (_, b) in zip(features.state_dict().items(), expected.state_dict().items()):
        assert torch.equal(a, b), k


@pytest.fixture(scope="module")
def vgg16_features() -> torch.nn.Sequential:
    return _seeded_features("vgg16", 7)


def test_local_whole_model_state_dict(tmp_path, vgg16_features) -> None:
    # torchvision's whole-model layout: features.N.* plus classifier.* (a small stand-in here; it is ignored).
    state = {f"features.{k}": v for k, v in vgg16_features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)
    path = tmp_path / "vgg16-whole.pth"
    torch.save(state, path)
    features = load_features("vgg16", str(path))
    _assert_same(features, vgg16_features)
    assert not any(p.requires_grad for p in features.parameters()) and not features.training


def test_local_features_only_state_dict(tmp_path, vgg16_features) -> None:
    path = tmp_path / "features.pth"
    torch.save(vgg16_features.state_dict(), path)
    _assert_same(load_features("vgg16", str(path)), vgg16_features)


def test_imagenet_from_a_prepared_torch_hub_cache(tmp_path, monkeypatch, vgg16_features) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = hub_checkpoint_path("vgg16")
    assert target == tmp_path / "hub" / "checkpoints" / "vgg16-397923af.pth"
    target.parent.mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in vgg16_features.state_dict().items()}, target)
    with offline():  # if the loader tried to download, it would fail
        _assert_same(load_features("vgg16", "imagenet", progress=False), vgg16_features)


@contextmanager
def offline() -> Iterator[None]:
    """Send HTTP(S) to a closed loopback port, so a download fails at once and no traffic leaves the machine.

    ``urlopen`` builds one opener per process, proxies included, on its first call, and keeps it. So the opener is
    dropped on the way in (one built earlier would still go out to the internet) and on the way out (one built inside
    would send every later request of this process to the closed port: a worker that ran these tests first lost its
    test servers to "connection refused")."""
    with pytest.MonkeyPatch.context() as patch:
        for var in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY"):
            patch.setenv(var, "http://127.0.0.1:9")
        for var in ("no_proxy", "NO_PROXY"):
            patch.delenv(var, raising=False)
        urllib.request.install_opener(None)
        try:
            yield
        finally:
            urllib.request.install_opener(None)


@contextmanager
def _local_http_server() -> Iterator[str]:
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def test_the_network_block_holds_inside_and_leaves_nothing_behind() -> None:
    with _local_http_server() as url:
        assert urllib.request.urlopen(url, timeout=5).status == 200  # urlopen's opener now exists, without proxies
        with offline():
            with pytest.raises(urllib.error.URLError):  # even a loopback address now goes to the closed proxy
                urllib.request.urlopen(url, timeout=5)
        assert urllib.request.urlopen(url, timeout=5).status == 200


def test_failed_download_names_the_cache_and_the_fixes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with offline(), pytest.raises(WeightsError) as info:
        load_features("vgg19", "imagenet", progress=False)
    message = str(info.value)
    assert str(tmp_path / "hub" / "checkpoints" / "vgg19-dcbb9e9d.pth") in message
    assert "internet" in message and "--weights random" in message and "--weights PATH" in message
    assert "\n" not in message


def test_wrong_or_broken_files_are_refused(tmp_path, vgg16_features) -> None:
    path = tmp_path / "vgg16.pth"
    torch.save(vgg16_features.state_dict(), path)
    with pytest.raises(WeightsError, match="do not fit vgg19"):
        load_features("vgg19", str(path))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(WeightsError, match="Could not read"):
        load_features("vgg16", str(junk))
    with pytest.raises(WeightsError, match="does not exist"):
        load_features("vgg16", str(tmp_path / "missing.pth"))


def test_random_weights_are_seeded_and_leave_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1).item()
    torch.manual_seed(123)
    a = load_features("vgg16", "random")
    after = torch.rand(1).item()
    b = load_features("vgg16", "random")
    assert before == after
    _assert_same(a, b)
