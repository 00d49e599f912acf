"""Pillow's 8-bit antialiased bicubic resize, bit for bit, in the project's own C kernel.

Pillow resizes uint8 images in two separable passes. Each pass sums up to ``ksize`` source
values times fixed-point coefficients (22 fractional bits) and rounds to uint8, so the
intermediate image is rounded too. :func:`pillow_coefficients` derives those integer
coefficients with Pillow's own double arithmetic, operation by operation; the C kernel
(``_resample.c``) applies them with Pillow's integer arithmetic, in a loop order that
vectorises. :class:`NativeResize` runs the two passes, in row bands on several threads if
asked, and is only made for a pair of sizes where both hold:

- no coefficient lies within :data:`ROUNDING_MARGIN` of a rounding step, so whether a
  compiler fused Pillow's multiply-adds (it may on aarch64) cannot change it;
- two noise images come out identical to one Pillow call. That also tells which pass Pillow
  ran first: the order decides how the intermediate image is rounded, and Pillow's choice
  has differed between versions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

try:
    from . import _resample
except ImportError:  # installed without a C compiler: resize.py falls back to Pillow
    _resample = None

PRECISION_BITS = 22
BICUBIC_SUPPORT = 2.0
# A fused multiply-add changes a double by a few units in the last place; scaled by 2^22
# that moves a coefficient by about 1e-8 before it is rounded, far inside this margin.
ROUNDING_MARGIN = 1e-6
PROBE_IMAGES = 2


def available() -> bool:
    """Whether the C kernel was built (it needs a C compiler at install time)."""
    return _resample is not None


@dataclass(frozen=True)
class Coefficients:
    """Pillow's fixed-point filter along one axis.

    Output i reads inputs ``first[i] .. first[i] + count[i] - 1`` with weights
    ``weights[i, :count[i]]``.
    """

    first: np.ndarray  # int32 (out,)
    count: np.ndarray  # int32 (out,)
    weights: np.ndarray  # int32 (out, ksize), zero past count

    @property
    def ksize(self) -> int:
        return self.weights.shape[1]

    def rows(self, start: int, stop: int, offset: int = 0) -> Coefficients:
        """Outputs ``start:stop``, reading inputs counted from ``offset``."""
        return Coefficients(np.ascontiguousarray(self.first[start:stop] - offset),
                            np.ascontiguousarray(self.count[start:stop]),
                            np.ascontiguousarray(self.weights[start:stop]))


def _bicubic(x: np.ndarray) -> np.ndarray:
    # Pillow's kernel with a = -0.5, term by term in its order; (a + 2) and (a + 3) are exact.
    x = np.abs(x)
    near = ((1.5 * x - 2.5) * x) * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * -0.5
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def pillow_coefficients(in_size: int, out_size: int) -> Coefficients | None:
    """Pillow's bicubic coefficients for resizing a whole axis of ``in_size`` to ``out_size``.

    The same double operations in the same order as Pillow's ``precompute_coeffs`` and
    ``normalize_coeffs_8bpc``; the weights' sum is accumulated tap by tap as Pillow does.
    None when a coefficient is too close to a rounding step to be sure of (see the module).
    """
    scale = float(in_size) / out_size  # Pillow: (double)(box end - box start), exact floats
    filter_scale = max(scale, 1.0)
    support = BICUBIC_SUPPORT * filter_scale
    ksize = math.ceil(support) * 2 + 1
    # The centre is one product plus 0.0: fusing that multiply-add cannot change it.
    centre = (np.arange(out_size) + 0.5) * scale
    inverse = 1.0 / filter_scale
    first = np.maximum(np.trunc(centre - support + 0.5), 0.0)
    count = np.minimum(np.trunc(centre + support + 0.5), in_size) - first
    weights = np.zeros((out_size, ksize))
    total = np.zeros(out_size)
    for tap in range(ksize):
        w = _bicubic(((first + tap) - centre + 0.5) * inverse)
        weights[:, tap] = np.where(tap < count, w, 0.0)
        total = total + weights[:, tap]
    weights = np.divide(weights, total[:, None], out=weights, where=total[:, None] != 0.0)
    scaled = weights * float(1 << PRECISION_BITS)
    rounded = np.where(weights < 0, scaled - 0.5, scaled + 0.5)
    if np.min(np.abs(rounded - np.round(rounded))) <= ROUNDING_MARGIN:
        return None
    return Coefficients(first.astype(np.int32), count.astype(np.int32),
                        np.trunc(rounded).astype(np.int32))


@dataclass(frozen=True)
class _Band:
    rows: slice  # output rows
    window: slice  # input rows the band reads (horizontal pass first) or all of them
    vertical: Coefficients | None  # for this band's rows, offset to the window
    horizontal: Coefficients | None


class NativeResize:
    """Exact resize of HxWx3 uint8 images between two fixed sizes with the C kernel."""

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int],
                 vertical: Coefficients | None, horizontal: Coefficients | None,
                 vertical_first: bool, bands: int) -> None:
        self.in_size, self.out_size = in_size, out_size
        self.vertical_first = vertical_first
        out_height = out_size[0]
        edges = [round(i * out_height / bands) for i in range(bands + 1)]
        self.bands = [self._band(first, stop, vertical, horizontal)
                      for first, stop in zip(edges, edges[1:])]

    def _band(self, first: int, stop: int, vertical: Coefficients | None,
              horizontal: Coefficients | None) -> _Band:
        if vertical is None:  # same height: rows map one to one
            return _Band(slice(first, stop), slice(first, stop), None, horizontal)
        if self.vertical_first:
            return _Band(slice(first, stop), slice(0, self.in_size[0]),
                         vertical.rows(first, stop), horizontal)
        start = int(vertical.first[first])
        end = int(np.max(vertical.first[first:stop] + vertical.count[first:stop]))
        return _Band(slice(first, stop), slice(start, end), vertical.rows(first, stop, start),
                     horizontal)

    def run_band(self, rgb: np.ndarray, index: int, out: np.ndarray) -> None:
        """Output rows of band ``index`` of ``rgb`` into ``out`` (the whole output image)."""
        band = self.bands[index]
        src = np.ascontiguousarray(rgb[band.window])
        dst = out[band.rows]
        if band.vertical is None:
            _horizontal(src, band.horizontal, dst)
        elif band.horizontal is None:
            _vertical(src, band.vertical, dst)
        elif self.vertical_first:
            middle = np.empty((dst.shape[0], src.shape[1], 3), np.uint8)
            _vertical(src, band.vertical, middle)
            _horizontal(middle, band.horizontal, dst)
        else:
            middle = np.empty((src.shape[0], dst.shape[1], 3), np.uint8)
            _horizontal(src, band.horizontal, middle)
            _vertical(middle, band.vertical, dst)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        out = np.empty((*self.out_size, 3), np.uint8)
        for index in range(len(self.bands)):
            self.run_band(rgb, index, out)
        return out


def _vertical(src: np.ndarray, c: Coefficients, dst: np.ndarray) -> None:
    row_len = src.shape[1] * src.shape[2]
    _resample.resample_rows(src, src.shape[0], row_len, dst, c.first, c.count, c.weights,
                            c.ksize)


def _horizontal(src: np.ndarray, c: Coefficients, dst: np.ndarray) -> None:
    _resample.resample_cols(src, src.shape[0], src.shape[1], dst, c.first, c.count, c.weights,
                            c.ksize)


def plan_native(in_size: tuple[int, int], out_size: tuple[int, int],
                bands: int = 1) -> NativeResize | None:
    """A :class:`NativeResize` for (height, width) -> (height, width) in ``bands`` row bands.

    None where it cannot be made exact (see the module) or the kernel is not built.
    """
    if not available() or in_size == out_size:
        return None
    (in_height, in_width), (out_height, out_width) = in_size, out_size
    vertical = horizontal = None
    if in_height != out_height:
        vertical = pillow_coefficients(in_height, out_height)
        if vertical is None:
            return None
    if in_width != out_width:
        horizontal = pillow_coefficients(in_width, out_width)
        if horizontal is None:
            return None
    bands = max(1, min(bands, out_height))
    orders = (False, True) if vertical is not None and horizontal is not None else (False,)
    rng = np.random.default_rng(0)
    probes = [rng.integers(0, 256, (*in_size, 3), dtype=np.uint8) for _ in range(PROBE_IMAGES)]
    expected = [np.asarray(Image.fromarray(p).resize((out_width, out_height),
                                                     Image.Resampling.BICUBIC))
                for p in probes]
    for vertical_first in orders:
        plan = NativeResize(in_size, out_size, vertical, horizontal, vertical_first, bands)
        if all(np.array_equal(plan(p), e) for p, e in zip(probes, expected)):
            return plan
    return None
