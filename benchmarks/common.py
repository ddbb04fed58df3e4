"""What every benchmark script shares: the sample images, the objective on them, and the results-file header."""

from __future__ import annotations

import datetime as dt
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONTENT = ROOT / "assets" / "content" / "lake_house.png"
STYLE = ROOT / "assets" / "style" / "swirls.png"


def sample_objective(config, device, network, *, channels_last: bool | None = None):
    """``(Objective, content tensor)`` of ``config``'s layers on the sample images; call ``set_weights`` next."""
    from nstcore import Objective, VGGFeatures, prepare_images
    from nstcore.tensors import image_to_tensor

    prepared = prepare_images(config, CONTENT, STYLE)
    names_c, names_s = list(config.content_layers), list(config.style_layers)
    extractor = VGGFeatures(network, names_c + names_s, config.pooling, channels_last=channels_last)
    content = image_to_tensor(prepared.content, device)
    objective = Objective(
        extractor, content, image_to_tensor(prepared.style, device), names_c, names_s, config.loss_norm
    )
    return objective, content


def cpu_description() -> str:
    """The CPU as figures must name it: model, cores, and the kernels torch dispatches to (AVX2, AVX512, AMX ...),
    because absolute times are comparable only between machines of the same kind."""
    import os

    import torch

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    amx = getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
    limited = " ".join(
        f"{k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if os.environ.get(k)
    )
    return (
        f"{model}, {os.cpu_count()} cores, torch CPU capability {torch.backends.cpu.get_cpu_capability()}"
        f"{', AMX' if amx else ''}{', kernels limited by ' + limited if limited else ''}"
    )


def write_results(out: str | Path, title: str, setup: str, table: str) -> None:
    """Write ``# title``, the date, the machine and its CPU, ``setup`` and ``table`` to ``out``; print the table."""
    header = f"# {title}\n\n{dt.date.today()}, {platform.node()} ({cpu_description()}), {setup}\n\n"
    Path(out).write_text(header + table, encoding="utf-8")
    print("\n" + table)


def write_section(out: str | Path, title: str, setup: str, table: str) -> None:
    """Replace (or add at the end) the ``## title`` section of ``out``: the date, the machine and its CPU, ``setup``
    and ``table``; the rest of the file stays. Print the table."""
    path = Path(out)
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    heading = f"## {title}\n"
    section = f"{heading}\n{dt.date.today()}, {platform.node()} ({cpu_description()}), {setup}\n\n{table}"
    if heading in text:
        before, rest = text.split(heading, 1)
        after = rest.split("\n## ", 1)
        text = before + section + ("\n## " + after[1] if len(after) > 1 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")
    print("\n" + table)
