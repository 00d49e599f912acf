"""Resizing camera images to the network's input size.

``exact`` is one call to Pillow's antialiased bicubic on uint8, exactly as the reference recipe
resizes (reference reproduction, evaluation). ``fast`` is PyTorch's uint8 antialiased bicubic,
an approximate mode: the same filter rounded differently (one grey level apart on a few
pixels).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

# The fast resize reads read-only arrays (ROS messages, PIL images) through torch.from_numpy,
# which warns that they are not writable; they are only read, and copying one to silence the
# warning would cost half as much as the resize. Set once here (catch_warnings is not
# thread-safe).
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning,
                        module=__name__)


def resize_like_pil(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """Antialiased bicubic resize exactly as the reference recipe does it (PIL on uint8)."""
    if rgb.shape[:2] == (height, width):
        return rgb
    return np.asarray(Image.fromarray(rgb).resize((width, height), Image.Resampling.BICUBIC))


def resize_fast(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    """PyTorch's uint8 antialiased bicubic resize: the same filter as Pillow, rounded differently.

    Its fixed-point arithmetic differs from Pillow's, so a few pixels come out one grey level
    apart (measured: up to 0.6 % of them); hence an approximate mode, never the exact path.
    """
    if rgb.shape[:2] == (height, width):
        return rgb
    # An HxWx3 array seen as 1x3xHxW is channels_last, the layout that kernel wants.
    image = torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)
    resized = F.interpolate(image, size=(height, width), mode="bicubic", antialias=True)
    return resized[0].permute(1, 2, 0).numpy()


# Each resize by name: uint8 HxWx3 image, height, width -> the image at that size.
RESIZERS: dict[str, Callable[[np.ndarray, int, int], np.ndarray]] = {
    "exact": resize_like_pil, "fast": resize_fast}
RESIZES = tuple(RESIZERS)
