"""The sample type every dataset of this package returns."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class RGBDSample:
    """One RGB image with aligned metric depth and the pixel intrinsics of that image.

    ``depth`` is H x W float32 in metres: 0 marks invalid/unknown pixels; sky holds the
    domain's maximum depth (80 m outdoors, 10 m for the synthetic rooms).
    """

    rgb: np.ndarray
    depth: np.ndarray
    fx: float
    fy: float
    cx: float
    cy: float
    name: str = ""
