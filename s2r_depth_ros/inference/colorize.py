"""Depth -> colour image for people (rviz, reports, PNG files)."""

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


def colorize_depth(depth: np.ndarray, min_depth: float | None = None,
                   max_depth: float | None = None, colormap: str = "turbo",
                   inverse: bool = True) -> np.ndarray:
    """Colour-map a depth image (metres) to BGR uint8; invalid (NaN/inf/<=0) pixels are black.

    With ``inverse`` the map is applied to 1/depth, which spends the colours on the near
    range where a robot needs detail. Limits default to the valid pixels' range.
    """
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap {colormap!r}; choose from {sorted(COLORMAPS)}")
    depth = np.asarray(depth, dtype=np.float32)
    valid = np.isfinite(depth) & (depth > 0)
    out = np.zeros(depth.shape + (3,), np.uint8)
    if not valid.any():
        return out
    lo = float(depth[valid].min()) if min_depth is None else float(min_depth)
    hi = float(depth[valid].max()) if max_depth is None else float(max_depth)
    lo = max(lo, 1e-3)
    hi = max(hi, lo * 1.001)
    clipped = np.clip(np.where(valid, depth, hi), lo, hi)
    if inverse:
        scaled = (1.0 / clipped - 1.0 / hi) / (1.0 / lo - 1.0 / hi)
    else:
        scaled = (clipped - lo) / (hi - lo)
    grey = (scaled * 255.0 + 0.5).astype(np.uint8)
    table = COLORMAPS[colormap]
    coloured = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if table is None else cv2.applyColorMap(
        grey, table)
    out[valid] = coloured[valid]
    return out
