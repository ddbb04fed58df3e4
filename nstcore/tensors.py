"""Pictures between Pillow and torch: an RGB image as a (1, 3, H, W) tensor in [0, 1], and a batch back as uint8
arrays on the CPU (what snapshots carry)."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torch import Tensor


def image_to_tensor(img: Image.Image, device: torch.device | str = "cpu") -> Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(img, dtype=np.uint8)
    tensor = torch.from_numpy(array.copy()).permute(2, 0, 1).unsqueeze(0).contiguous()
    return tensor.to(device=device, dtype=torch.float32) / 255.0


def tensor_to_arrays(batch: Tensor) -> tuple[np.ndarray, ...]:
    """(B, 3, H, W) in [0, 1] -> B read-only HxWx3 uint8 arrays on the CPU."""
    data = batch.detach().clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
    arrays = []
    for array in data:
        array = np.ascontiguousarray(array)
        array.flags.writeable = False
        arrays.append(array)
    return tuple(arrays)
