"""Resizing camera images to the network's input size.

``exact`` is Pillow's antialiased bicubic on uint8, as the reference recipe resizes; it can run
in horizontal bands on several threads, bit for bit equal to one Pillow call (see
:func:`plan_bands`). ``fast`` is PyTorch's uint8 antialiased bicubic: about 5x faster on one
thread but an approximate mode (BENCHMARKS.md: one grey level apart on a few pixels).
"""

from __future__ import annotations

import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

RESIZES = ("exact", "fast")
# Pillow's bicubic kernel reaches two source pixels either side (more when shrinking).
BICUBIC_SUPPORT = 2.0
# Below this many input plus output pixels one Pillow call takes about half a millisecond and
# handing bands to other threads costs more than it saves (measured: 256x256 -> 128x416).
MIN_BANDED_PIXELS = 1 << 17
# Each band re-reads the rows its neighbours' kernels overlap (about 4 input rows either side
# when shrinking 2x), so bands thinner than this add more reading than parallel work.
MIN_BAND_ROWS = 32
# Noise images a band plan must reproduce exactly before it is used (see plan_bands).
PROBE_IMAGES = 2

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


@dataclass(frozen=True)
class Band:
    """Output rows ``rows`` of an exact resize, made from input rows ``window`` alone.

    ``top`` and ``bottom`` are Pillow's ``box`` rows, in the window's coordinates.
    """

    rows: slice
    window: slice
    top: float
    bottom: float


@dataclass(frozen=True)
class _PillowRows:
    """What Pillow's ``precompute_coeffs`` derives for each output row along one axis."""

    scale: float
    centres: np.ndarray  # float64, as Pillow computes them
    starts: np.ndarray  # first source row read
    ends: np.ndarray  # one past the last


def _pillow_rows(in_size: int, box_start: float, box_end: float, out_size: int) -> _PillowRows:
    # The same operations, in the same order and precision, as Pillow's C: the box arrives
    # as C floats, the scale and the centres are doubles, bounds are rounded by truncation
    # and clipped to the image.
    start, end = np.float32(box_start), np.float32(box_end)
    scale = float(np.float32(end - start)) / out_size
    support = BICUBIC_SUPPORT * max(scale, 1.0)
    centres = float(start) + (np.arange(out_size) + 0.5) * scale
    starts = np.maximum(np.trunc(centres - support + 0.5), 0).astype(np.int64)
    ends = np.minimum(np.trunc(centres + support + 0.5), in_size).astype(np.int64)
    return _PillowRows(scale, centres, starts, ends)


def _is_float32(value: Fraction) -> bool:
    return Fraction(float(np.float32(float(value)))) == value


def _band_matches(band: Band, full: _PillowRows) -> bool:
    """Whether Pillow gives ``band``'s rows the same source rows and weights as the full image.

    The weights are a function of each row's centre, source bounds and scale. Pillow computes
    the centre as ``top + (i + 0.5) * scale``; requiring that to be exact, with no rounding,
    makes the check independent of whether the compiler fused the multiply and add.
    """
    window = band.window
    rows = _pillow_rows(window.stop - window.start, band.top, band.bottom,
                        band.rows.stop - band.rows.start)
    if rows.scale != full.scale:
        return False
    offset = window.start
    for i, centre in enumerate(rows.centres.tolist()):
        exact = Fraction(band.top) + (i + Fraction(1, 2)) * Fraction(rows.scale)
        if Fraction(centre) != exact or exact + offset != Fraction(
                float(full.centres[band.rows.start + i])):
            return False
    return (np.array_equal(rows.starts + offset, full.starts[band.rows])
            and np.array_equal(rows.ends + offset, full.ends[band.rows]))


def plan_bands(in_size: tuple[int, int], out_size: tuple[int, int],
               count: int) -> list[Band] | None:
    """Split an exact resize (height, width) -> (height, width) into ``count`` row bands.

    Each band resizes only the input rows its output rows read, with Pillow's ``box`` placing
    it in the whole image. The result equals one Pillow call bit for bit when every band
    row gets the same source rows and weights as in the whole image (checked exactly, in
    rational arithmetic, against Pillow's formulas) and each band runs its two passes in the
    same order as the whole image. Pillow picks that order from the sizes, differently across
    versions, so it is checked by resizing noise images both ways: a different order rounds
    the intermediate image differently and changes many pixels. None when a band would not
    be exact (its arithmetic would round) or there is nothing to split.
    """
    (in_height, in_width), (out_height, out_width) = in_size, out_size
    count = min(count, out_height // MIN_BAND_ROWS)
    if count < 2 or in_height == out_height:
        return None
    full = _pillow_rows(in_height, 0.0, float(in_height), out_height)
    edges = [round(i * out_height / count) for i in range(count + 1)]
    bands = []
    for first, stop in zip(edges, edges[1:]):
        window = slice(int(full.starts[first]), int(full.ends[stop - 1]))
        top = Fraction(first * in_height, out_height) - window.start
        bottom = Fraction(stop * in_height, out_height) - window.start
        if not (_is_float32(top) and _is_float32(bottom)
                and bottom <= window.stop - window.start):
            return None
        band = Band(slice(first, stop), window, float(top), float(bottom))
        if not _band_matches(band, full):
            return None
        bands.append(band)
    rng = np.random.default_rng(0)
    for _ in range(PROBE_IMAGES):
        noise = rng.integers(0, 256, (in_height, in_width, 3), dtype=np.uint8)
        banded = np.empty((out_height, out_width, 3), np.uint8)
        for band in bands:
            _resize_band(noise, band, out_width, banded)
        if not np.array_equal(banded, resize_like_pil(noise, out_height, out_width)):
            return None
    return bands


def _resize_band(rgb: np.ndarray, band: Band, width: int, out: np.ndarray) -> None:
    image = Image.fromarray(rgb[band.window])
    box = (0.0, band.top, float(rgb.shape[1]), band.bottom)
    out[band.rows] = image.resize((width, band.rows.stop - band.rows.start),
                                  Image.Resampling.BICUBIC, box)


class Resizer:
    """Resizes uint8 RGB images by one of :data:`RESIZES`, the exact one on up to ``threads``.

    Band plans are made once per pair of sizes. Pillow releases the GIL while it resamples,
    so the bands run in parallel; the calling thread resizes the first band itself.
    """

    def __init__(self, method: str = "exact", threads: int = 1) -> None:
        if method not in RESIZES:
            raise ValueError(f"unknown resize {method!r}; choose from {', '.join(RESIZES)}")
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        self.method = method
        self.threads = threads
        self._plans: dict[tuple[int, int, int, int], list[Band] | None] = {}
        self._pool: ThreadPoolExecutor | None = None
        if threads > 1:
            # Its threads start on the first banded resize and end with the resizer, not only
            # at interpreter exit.
            self._pool = ThreadPoolExecutor(threads - 1, thread_name_prefix="s2r_resize")
            weakref.finalize(self, self._pool.shutdown, wait=False)

    def bands(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> list[Band] | None:
        """The bands an exact resize between these sizes runs in; None: one Pillow call."""
        key = (*in_size, *out_size)
        if key not in self._plans:
            pixels = in_size[0] * in_size[1] + out_size[0] * out_size[1]
            worth_it = self.threads > 1 and pixels >= MIN_BANDED_PIXELS
            self._plans[key] = plan_bands(in_size, out_size, self.threads) if worth_it else None
        return self._plans[key]

    def __call__(self, rgb: np.ndarray, height: int, width: int) -> np.ndarray:
        """``rgb`` (HxWx3 uint8) at height x width."""
        if self.method == "fast":
            return resize_fast(rgb, height, width)
        bands = self.bands(rgb.shape[:2], (height, width))
        if bands is None:
            return resize_like_pil(rgb, height, width)
        out = np.empty((height, width, 3), np.uint8)
        pending = [self._pool.submit(_resize_band, rgb, band, width, out) for band in bands[1:]]
        _resize_band(rgb, bands[0], width, out)
        for future in pending:
            future.result()
        return out
