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
    from nstcore.engine import image_to_tensor

    prepared = prepare_images(config, CONTENT, STYLE)
    names_c, names_s = list(config.content_layers), list(config.style_layers)
    extractor = VGGFeatures(network, names_c + names_s, config.pooling, channels_last=channels_last)
    content = image_to_tensor(prepared.content, device)
    objective = Objective(
        extractor, content, image_to_tensor(prepared.style, device), names_c, names_s, config.loss_norm
    )
    return objective, content


def write_results(out: str | Path, title: str, setup: str, table: str) -> None:
    """Write ``# title``, the date and machine, ``setup`` and ``table`` to ``out``; print the table."""
    header = f"# {title}\n\n{dt.date.today()}, {platform.node()} ({platform.machine()}), {setup}\n\n"
    Path(out).write_text(header + table, encoding="utf-8")
    print("\n" + table)
