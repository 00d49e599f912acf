"""Depth -> colour image for people (rviz, reports, PNG files), and its colour bar in metres.

What the colours mean: with the default ``turbo`` map and ``inverse`` on, near is red, far is
blue (through yellow, green and cyan), spaced evenly in 1/depth so the near range, where a
robot needs detail, gets most of the colours. Black is no depth (NaN, inf, <= 0). The limits
are fixed near/far distances when given, else robust per-frame limits: the 2nd and 98th
percentiles of the valid depths (one outlier no longer turns the whole picture one colour).
Depths beyond the limits take the end colours.
"""

from __future__ import annotations

import cv2
import numpy as np

COLORMAPS = {
    "turbo": cv2.COLORMAP_TURBO,
    "jet": cv2.COLORMAP_JET,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "inferno": cv2.COLORMAP_INFERNO,
    "magma": cv2.COLORMAP_MAGMA,
    "plasma": cv2.COLORMAP_PLASMA,
    "gray": None,
}
# Default robust limits: these percentiles of the frame's valid depths.
DEFAULT_PERCENTILES = (2.0, 98.0)
# Percentiles are taken on every n-th pixel of each row and column of large images: the
# limits need a sample, not every pixel (0.3 ms instead of 5 ms for 640x480).
_SAMPLE_STEP = 4
_MIN_DEPTH = 1e-3


def _valid(depth: np.ndarray) -> np.ndarray:
    return (depth > 0) & (depth < np.inf)  # NaN compares false


def depth_limits(depth: np.ndarray, min_depth: float | None = None,
                 max_depth: float | None = None,
                 percentiles: tuple[float, float] | None = DEFAULT_PERCENTILES
                 ) -> tuple[float, float] | None:
    """The near and far limits :func:`colorize_depth` maps to the ends of the colour map.

    A given ``min_depth``/``max_depth`` is used as is; a missing one comes from the valid
    pixels: the ``percentiles`` (low, high), or with ``percentiles=None`` their min / max.
    None when a limit is needed and no pixel is valid.
    """
    depth = np.asarray(depth, dtype=np.float32)
    lo = None if min_depth is None else float(min_depth)
    hi = None if max_depth is None else float(max_depth)
    if lo is None or hi is None:
        sample = depth[::_SAMPLE_STEP, ::_SAMPLE_STEP] if depth.size > 40_000 else depth
        values = sample[_valid(sample)]
        if values.size == 0:
            values = depth[_valid(depth)]  # a few valid pixels the sample missed
        if values.size == 0:
            return None
        if percentiles is None:
            low, high = float(values.min()), float(values.max())
        else:
            low, high = (float(v) for v in np.percentile(values, percentiles))
        lo = low if lo is None else lo
        hi = high if hi is None else hi
    lo = max(lo, _MIN_DEPTH)
    return lo, max(hi, lo * 1.001)


def _grey(depth: np.ndarray, lo: float, hi: float, inverse: bool) -> np.ndarray:
    """Depth -> 0..255 (near = 255 with ``inverse``, else far = 255), saturating at the ends."""
    clipped = np.clip(depth, lo, hi)
    # OpenCV's saturating scale-and-convert does the mapping to 0..255 in one pass.
    if inverse:
        scale = 255.0 / (1.0 / lo - 1.0 / hi)
        return cv2.convertScaleAbs(cv2.divide(1.0, clipped), alpha=scale, beta=-scale / hi)
    scale = 255.0 / (hi - lo)
    return cv2.convertScaleAbs(clipped, alpha=scale, beta=-scale * lo)


def _apply(grey: np.ndarray, colormap: str) -> np.ndarray:
    table = COLORMAPS[colormap]
    return (cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if table is None
            else cv2.applyColorMap(grey, table))


def _check_colormap(colormap: str) -> None:
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose from {sorted(COLORMAPS)}")


def colorize_depth(depth: np.ndarray, min_depth: float | None = None,
                   max_depth: float | None = None, colormap: str = "turbo",
                   inverse: bool = True,
                   percentiles: tuple[float, float] | None = DEFAULT_PERCENTILES) -> np.ndarray:
    """Colour-map a depth image (metres) to BGR uint8; invalid (NaN/inf/<=0) pixels are black.

    Limits: ``min_depth``/``max_depth`` when given, else from the frame (see
    :func:`depth_limits`; ``percentiles=None`` restores the plain min..max). With ``inverse``
    the map is applied to 1/depth, which spends the colours on the near range.
    """
    _check_colormap(colormap)
    depth = np.asarray(depth, dtype=np.float32)
    limits = depth_limits(depth, min_depth, max_depth, percentiles)
    if limits is None:
        return np.zeros(depth.shape + (3,), np.uint8)
    coloured = _apply(_grey(depth, *limits, inverse), colormap)
    coloured[~_valid(depth)] = 0
    return coloured


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round distances (1, 2, 5 x 10^n) between lo and hi, about ``count`` of them."""
    candidates = sorted({m * 10.0 ** e for e in range(-3, 4) for m in (1, 2, 5)})
    inside = [v for v in candidates if lo <= v <= hi]
    if len(inside) <= count:
        return inside
    step = len(inside) / count
    return [inside[int(i * step)] for i in range(count)]


def colour_bar(min_depth: float, max_depth: float, width: int, colormap: str = "turbo",
               inverse: bool = True, height: int = 34) -> np.ndarray:
    """A BGR strip (``height`` x ``width``) of the colours from near (left) to far (right).

    Labelled in metres, for the same limits and options as :func:`colorize_depth`.
    """
    _check_colormap(colormap)
    lo, hi = max(float(min_depth), _MIN_DEPTH), float(max_depth)
    hi = max(hi, lo * 1.001)
    strip_h = max(height // 2, 6)
    # The depth at each column, spaced like the colour map (even in 1/depth with inverse).
    t = np.linspace(0.0, 1.0, max(width, 2), dtype=np.float64)
    depths = (1.0 / (1.0 / lo + t * (1.0 / hi - 1.0 / lo)) if inverse
              else lo + t * (hi - lo)).astype(np.float32)
    row = _apply(_grey(depths[None, :width], lo, hi, inverse), colormap)
    bar = np.full((height, width, 3), 255, np.uint8)
    bar[:strip_h] = row
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.35

    def column(d: float) -> int:
        frac = ((1.0 / d - 1.0 / lo) / (1.0 / hi - 1.0 / lo)) if inverse else (d - lo) / (hi - lo)
        return int(round(frac * (width - 1)))

    # The limits first, so round ticks that would crowd them are the ones left out.
    labels = [(lo, f"{lo:.3g}"), (hi, f"{hi:.3g} m"),
              *((d, f"{d:g}") for d in _nice_ticks(lo, hi))]
    taken: list[tuple[int, int]] = []
    for depth, text in labels:
        (text_w, text_h), _ = cv2.getTextSize(text, font, scale, 1)
        x = int(np.clip(column(depth) - text_w // 2, 0, max(width - text_w, 0)))
        if any(x < right + 4 and left < x + text_w + 4 for left, right in taken):
            continue  # would overlap a label already drawn
        taken.append((x, x + text_w))
        cv2.line(bar, (column(depth), strip_h), (column(depth), strip_h + 2), (0, 0, 0), 1)
        cv2.putText(bar, text, (x, min(strip_h + 3 + text_h, height - 2)), font, scale,
                    (0, 0, 0), 1, cv2.LINE_AA)
    return bar
