"""The Docker image ships what the tests test: requirements.txt as pinned, and no origin wildcard."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in re.finditer(r"(?m)^\s*([A-Za-z0-9_.\-]+)==([^\s#]+)", text)}


def test_the_image_installs_requirements_exactly_as_pinned() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    pinned = _pins((ROOT / "requirements.txt").read_text())
    installs = [line for line in dockerfile.splitlines() if "pip install" in line]
    assert installs, "the Dockerfile installs nothing with pip"
    for line in installs:
        assert "-r requirements.txt" in line, line
        assert "grep" not in line and "--no-deps" not in line  # nothing left out of the pinned set
        for name, version in re.findall(r"([A-Za-z0-9_.\-]+)==([^\s\"']+)", line):
            assert pinned.get(name.lower()) == version, f"{name}=={version} is not the pin in requirements.txt"
    assert not re.search(r"(?m)^FROM\s+\S*pytorch", dockerfile)  # a base image with its own torch would differ


def test_no_websocket_origin_wildcard() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert '"*"' not in dockerfile and "origin *" not in dockerfile
