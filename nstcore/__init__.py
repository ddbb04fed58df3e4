"""nstcore: Gatys, Ecker & Bethge's neural style transfer ("A Neural Algorithm of Artistic Style", 2015) in PyTorch.

Public API::

    from nstcore import StyleConfig, run, load_network, resolve_device
    config = StyleConfig(size=256, steps=300)
    for progress in run(config, "content.jpg", "style.jpg", device=resolve_device("auto")):
        ...  # progress.step, progress.loss.total, progress.image (on preview steps)

The dashboard (``demo_app``) uses only what is exported here, so it never imports torch itself.
"""

__version__ = "0.1.0"  # the project's version (pyproject.toml says the same; a test checks)

from .bars import progress_bar
from .batching import Batch
from .calibration import Calibration, RunTargets, calibrate, run_lengths
from .config import (
    DEFAULT_LR,
    MAX_JSON_BYTES,
    PAPER_CONTENT_LAYER,
    PAPER_STYLE_LAYERS,
    LossWeights,
    StyleConfig,
    config_fields,
    literal_choices,
    load_json,
)
from .controls import Controls, ControlsState
from .device import (
    describe_device,
    memory_mib,
    memory_report,
    memory_total,
    release_memory,
    resolve_device,
    set_cpu_threads,
)
from .engine import prepare_images, run
from .errors import ConfigError, ImageError, NSTError, WeightsError, shown
from .features import Network, VGGFeatures, load_network
from .grid import grid_image, sweep_image
from .images import DEFAULT_MAX_PIXELS, load_image, not_an_image, resize_long_side, save_image, target_size, to_rgb
from .images import FORMATS as IMAGE_FORMATS
from .images import SUFFIXES as IMAGE_SUFFIXES
from .interrupt import Stopped, stop_requested, stop_when
from .layers import MODELS, layer_hint, layer_names, sort_layers, tap_index
from .masks import load_mask, load_masks
from .objective import Objective
from .png_config import config_from_bytes, config_text_from_png, png_with_config, record_from_bytes
from .presets import PRESETS, bigger_config, expand_preset, paper_number
from .progress import Losses, Progress, style_image_term
from .records import LIVE_FIELDS, apply_change, every_layer, file_sha256, run_record
from .replaying import recorded_snapshots, replay_record
from .request import RunRequest
from .sweep import DEFAULT_SWEEP, Sweep, expand_sweep
from .timelapse import FrameKeeper, timelapse_bytes, write_timelapse
from .training import train
from .variants import (
    MAX_LABEL,
    VARIANT_FIELDS,
    Variant,
    clean_label,
    comparison_to_dict,
    grid_record,
    variant_from_dict,
)
from .weight_text import MAX_STYLES, blend_weights, format_layers, parse_layers

replay = replay_record  # nstcore.replay("result.png"): rerun a record to the same pixels

__all__ = [
    "Batch",
    "DEFAULT_LR",
    "MODELS",
    "PAPER_CONTENT_LAYER",
    "PAPER_STYLE_LAYERS",
    "ConfigError",
    "Controls",
    "ControlsState",
    "ImageError",
    "LossWeights",
    "Losses",
    "NSTError",
    "Stopped",
    "Network",
    "Objective",
    "Progress",
    "StyleConfig",
    "VGGFeatures",
    "WeightsError",
    "config_fields",
    "describe_device",
    "format_layers",
    "layer_hint",
    "layer_names",
    "literal_choices",
    "load_image",
    "load_network",
    "parse_layers",
    "prepare_images",
    "memory_report",
    "memory_total",
    "memory_mib",
    "release_memory",
    "PRESETS",
    "VARIANT_FIELDS",
    "Variant",
    "expand_preset",
    "paper_number",
    "run_lengths",
    "Calibration",
    "RunTargets",
    "calibrate",
    "bigger_config",
    "LIVE_FIELDS",
    "apply_change",
    "every_layer",
    "file_sha256",
    "run_record",
    "__version__",
    "grid_image",
    "progress_bar",
    "replay_record",
    "replay",
    "recorded_snapshots",
    "sweep_image",
    "grid_record",
    "expand_sweep",
    "Sweep",
    "DEFAULT_SWEEP",
    "variant_from_dict",
    "resize_long_side",
    "target_size",
    "not_an_image",
    "resolve_device",
    "set_cpu_threads",
    "RunRequest",
    "run",
    "train",
    "save_image",
    "sort_layers",
    "tap_index",
    "to_rgb",
    "MAX_LABEL",
    "clean_label",
    "load_json",
    "shown",
    "stop_when",
    "stop_requested",
    "IMAGE_FORMATS",
    "IMAGE_SUFFIXES",
    "MAX_JSON_BYTES",
    "DEFAULT_MAX_PIXELS",
    "comparison_to_dict",
    "config_from_bytes",
    "config_text_from_png",
    "png_with_config",
    "record_from_bytes",
    "FrameKeeper",
    "timelapse_bytes",
    "write_timelapse",
    "MAX_STYLES",
    "blend_weights",
    "load_mask",
    "load_masks",
    "style_image_term",
]
