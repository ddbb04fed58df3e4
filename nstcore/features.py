"""VGG feature extraction with the paper's conventions.

Gatys et al. read the post-ReLU responses of named VGG layers (``conv4_2`` ...), replace max pooling by average
pooling, and need nothing past the deepest layer they use. :class:`VGGFeatures` does exactly that on top of
torchvision's ``vgg*.features``: ImageNet normalisation inside, frozen weights, truncation after the deepest layer a
run may need, and a forward pass that stops as early as the layers requested *this step* allow (a style layer whose
weight is 0 costs nothing).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from .device import prefers_channels_last
from .errors import ConfigError, shown
from .interrupt import checkpoint
from .layers import pools_before, tap_index
from .weights import load_features

# torchvision's ImageNet statistics: the pretrained weights expect inputs normalised with these.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Network:
    """A loaded, frozen ``vgg*.features`` on a device; shared read-only by every run that uses it."""

    model: str
    weights: str
    device: torch.device
    features: nn.Sequential


_cache: dict[tuple[str, str, str], Network] = {}
_cache_lock = threading.Lock()


def load_network(
    model: str = "vgg19", weights: str = "imagenet", device: str | torch.device = "cpu", *, progress: bool = True
) -> Network:
    """Load (once per process) the feature network on ``device``. Thread-safe; later calls return the same one."""
    device = torch.device(device)
    key = (model, weights, str(device))
    with _cache_lock:
        if key not in _cache:
            features = load_features(model, weights, progress=progress).to(device)
            if prefers_channels_last(device):  # once here, so no convolution converts its weights per call
                features = features.to(memory_format=torch.channels_last)
            _cache[key] = Network(model, weights, device, features)
        return _cache[key]


def min_image_side(model: str, layers: Iterable[str]) -> int:
    """Smallest short side (px) that still leaves at least 1x1 at the deepest of ``layers``."""
    return 2 ** max((pools_before(model, name) for name in layers), default=0)


class MixedPool2d(nn.Module):
    """2x2 pooling that is ``avg`` for some batch elements and ``max`` for others (variants that compare them).

    Both pools are cheap next to the convolutions around them; a per-sample mask picks one result.
    """

    def __init__(self, use_max: Sequence[bool], device: torch.device) -> None:
        super().__init__()
        # On the network's device: a CPU mask next to CUDA activations is a device mismatch in torch.where.
        self.register_buffer("use_max", torch.tensor(list(use_max), device=device).view(-1, 1, 1, 1))

    use_max: Tensor  # registered buffer (declared so type checkers know its type)

    def forward(self, x: Tensor) -> Tensor:
        mask = self.use_max if x.shape[0] == self.use_max.shape[0] else self.use_max[: x.shape[0]]
        return torch.where(mask, nn.functional.max_pool2d(x, 2, 2), nn.functional.avg_pool2d(x, 2, 2))


class VGGFeatures(nn.Module):
    """Named post-ReLU responses of a truncated VGG; pooling ``avg`` (paper) or ``max``.

    ``pooling`` may also be one value per batch element (a comparison of both); then every input must have that
    batch size. Shares the convolution weights of ``network.features`` (no copy): the pools are parameter-free and
    are swapped here, so one loaded network serves runs with either pooling.
    """

    def __init__(
        self,
        network: Network,
        layers: Iterable[str],
        pooling: str | Sequence[str] = "avg",
        *,
        channels_last: bool | None = None,
    ) -> None:
        super().__init__()
        # None: the device's preference (see nstcore.device.prefers_channels_last); the benchmarks compare both.
        self.channels_last = prefers_channels_last(network.device) if channels_last is None else channels_last
        poolings = [pooling] if isinstance(pooling, str) else list(pooling)
        for value in poolings:
            if value not in ("avg", "max"):
                raise ConfigError(f"pooling must be avg or max, got {shown(value)}.")
        self.mixed = len(set(poolings)) > 1
        pooling = poolings[0]
        layers = list(layers)
        if not layers:
            raise ConfigError("No layers requested from the feature network.")
        self.model = network.model
        self.taps: dict[str, int] = {name: tap_index(network.model, name) for name in layers}
        deepest = max(self.taps.values())
        body: list[nn.Module] = []
        for module in network.features[: deepest + 1]:
            if isinstance(module, nn.MaxPool2d) and self.mixed:
                module = MixedPool2d([p == "max" for p in poolings], network.device)
            elif isinstance(module, nn.MaxPool2d) and pooling == "avg":
                module = nn.AvgPool2d(kernel_size=2, stride=2)
            elif isinstance(module, nn.ReLU):
                # Safe: the conv before it does not need its output for backward, and the layer after a tap is a
                # conv or a pool, so no captured response is overwritten.
                module = nn.ReLU(inplace=True)
            body.append(module)
        self.body = nn.Sequential(*body)
        self.body.requires_grad_(False).eval()
        device = network.device
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1))

    mean: Tensor  # registered buffers (declared so type checkers know their type)
    std: Tensor

    def forward(self, image: Tensor, names: Sequence[str]) -> dict[str, Tensor]:
        """Responses of ``names`` for ``image`` (B, 3, H, W) in [0, 1]; runs only as deep as needed."""
        wanted = {self.taps[name]: name for name in names}
        if not wanted:
            return {}
        stop = max(wanted)
        x = (image - self.mean) / self.std
        if self.channels_last:  # the optimised image stays NCHW (what L-BFGS's flat views need); a 3-channel copy
            x = x.contiguous(memory_format=torch.channels_last)
        out: dict[str, Tensor] = {}
        for index, module in enumerate(self.body):
            x = module(x)
            # A job stopped mid-step ends here, not after the whole step (nstcore.interrupt); backward checks at each
            # ReLU's output (the tensors no in-place operation changes afterwards).
            checkpoint(x, backward=isinstance(module, nn.ReLU))
            if index in wanted:
                out[wanted[index]] = x
            if index == stop:
                break
        return out
