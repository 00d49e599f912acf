"""Resizing camera images to the network's input size.

``exact`` is Pillow's antialiased bicubic on uint8, as the reference recipe resizes. It runs in
the project's C kernel, in row bands on several threads, bit for bit equal to one Pillow call
(see :mod:`.pillow_resample`); where that kernel is not built or a pair of sizes cannot be
made exact, it is one Pillow call. ``fast`` is PyTorch's uint8 antialiased bicubic, an
approximate mode (BENCHMARKS.md: one grey level apart on a few pixels).
"""

from __future__ import annotations

import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .pillow_resample import NativeResize, plan_native

RESIZES = ("exact", "fast")
# Below this many input plus output pixels handing bands to other threads costs more than it
# saves (measured: see BENCHMARKS.md).
MIN_BANDED_PIXELS = 1 << 17
# Each band re-reads the rows its neighbours' kernels overlap (about 4 input rows either side
# when shrinking 2x), so bands thinner than this add more reading than parallel work.
MIN_BAND_ROWS = 32

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


class Resizer:
    """Resizes uint8 RGB images by one of :data:`RESIZES`, the exact one on up to ``threads``.

    The exact resize is planned once per pair of sizes (:func:`.plan_native`). Its kernel
    releases the GIL, so the bands run in parallel; the calling thread runs the first itself.
    """

    def __init__(self, method: str = "exact", threads: int = 1) -> None:
        if method not in RESIZES:
            raise ValueError(f"unknown resize {method!r}; choose from {', '.join(RESIZES)}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.method = method
        self.threads = threads
        self._plans: dict[tuple[int, int, int, int], NativeResize | None] = {}
        self._pool: ThreadPoolExecutor | None = None
        if threads > 1:
            # Its threads start on the first banded resize and end with the resizer, not only
            # at interpreter exit.
            self._pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="s2r_resize")
            weakref.finalize(self, self._pool.shutdown, wait=False)

    def plan(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> NativeResize | None:
        """How an exact resize between these sizes runs; None: one Pillow call."""
        key = (*in_size, *out_size)
        if key not in self._plans:
            pixels = in_size[0] * in_size[1] + out_size[0] * out_size[1]
            bands = 1 if pixels < MIN_BANDED_PIXELS else min(self.threads,
                                                               out_size[0] // MIN_BAND_ROWS)
            self._plans[key] = plan_native(in_size, out_size, max(bands, 1))
        return self._plans[key]

    def __call__(self, rgb: np.ndarray, height: int, width: int) -> np.ndarray:
        """``rgb`` (HxWx3 uint8) at height x width."""
        if self.method == "fast":
            return resize_fast(rgb, height, width)
        plan = self.plan(rgb.shape[:2], (height, width))
        if plan is None:
            return resize_like_pil(rgb, height, width)
        out = np.empty((height, width, 3), np.uint8)
        pending = [self._pool.submit(plan.run_band, rgb, index, out)
                   for index in range(1, len(plan.bands))]
        plan.run_band(rgb, 0, out)
        for future in pending:
            future.result()
        return out
