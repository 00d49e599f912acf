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
    valid = (depth > 0) & (depth < np.inf)  # NaN compares false
    if min_depth is None or max_depth is None:
        if not valid.any():
            return np.zeros(depth.shape + (3,), np.uint8)
        valid_min, valid_max, _, _ = cv2.minMaxLoc(depth, mask=valid.view(np.uint8))
    lo = max(valid_min if min_depth is None else float(min_depth), 1e-3)
    hi = max(valid_max if max_depth is None else float(max_depth), lo * 1.001)
    clipped = np.clip(depth, lo, hi)
    # OpenCV's saturating scale-and-convert does the mapping to 0..255 in one pass.
    if inverse:
        scale = 255.0 / (1.0 / lo - 1.0 / hi)
        grey = cv2.convertScaleAbs(cv2.divide(1.0, clipped), alpha=scale, beta=-scale / hi)
    else:
        scale = 255.0 / (hi - lo)
        grey = cv2.convertScaleAbs(clipped, alpha=scale, beta=-scale * lo)
    table = COLORMAPS[colormap]
    coloured = (cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR) if table is None
                else cv2.applyColorMap(grey, table))
    coloured[~valid] = 0
    return coloured
