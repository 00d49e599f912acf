"""Depth maps from no learning at all: the floor any trained model has to beat.

* ``constant``: one depth everywhere. Under median scaling its value does not matter.
* ``ground_plane``: a level camera ``camera_height`` metres above a flat floor. A pixel row
  ``v`` below the horizon (row ``cy``) sees the floor at z = h * fy / (v - cy); rows at or above
  the horizon get the far cap. Indoors a wall at ``wall_depth`` caps every row as well.
"""

from __future__ import annotations

import numpy as np

from ..geometry import Intrinsics
from .metrics import Protocol

BASELINES = ("constant", "ground_plane")

# Typical mounting heights: KITTI's camera is 1.65 m above the road; 1.5 m is a head-height
# handheld or robot camera indoors. The wall closes an average room.
OUTDOOR_CAMERA_HEIGHT = 1.65
INDOOR_CAMERA_HEIGHT = 1.5
INDOOR_WALL_DEPTH = 4.0


def constant_depth(height: int, width: int, depth: float) -> np.ndarray:
    """An H x W float32 map filled with ``depth`` metres."""
    if not depth > 0:
        raise ValueError(f"depth must be positive, got {depth}")
    return np.full((height, width), depth, np.float32)


def ground_plane_depth(height: int, width: int, fy: float, cy: float,
                       camera_height: float = OUTDOOR_CAMERA_HEIGHT,
                       max_depth: float = 80.0) -> np.ndarray:
    """Depth (z, metres) of a flat floor seen by a level camera, capped at ``max_depth``."""
    if not (fy > 0 and camera_height > 0 and max_depth > 0):
        raise ValueError("fy, camera_height and max_depth must be positive")
    rows = np.arange(height, dtype=np.float64) - cy
    with np.errstate(divide="ignore"):
        row_depth = np.where(rows > 0, camera_height * fy / np.maximum(rows, 1e-9), max_depth)
    row_depth = np.minimum(row_depth, max_depth).astype(np.float32)
    return np.repeat(row_depth[:, None], width, axis=1)


def indoor_depth(height: int, width: int, fy: float, cy: float,
                 camera_height: float = INDOOR_CAMERA_HEIGHT,
                 wall_depth: float = INDOOR_WALL_DEPTH) -> np.ndarray:
    """A floor below the horizon, closed by a wall ``wall_depth`` metres away."""
    return ground_plane_depth(height, width, fy, cy, camera_height, max_depth=wall_depth)


def baseline_depth(name: str, height: int, width: int, camera: Intrinsics,
                   protocol: Protocol) -> np.ndarray:
    """The named baseline for an image of ``height`` x ``width`` scored under ``protocol``."""
    if name == "constant":
        return constant_depth(height, width, protocol.typical_depth)
    if name == "ground_plane":
        if protocol.name == "indoor":
            return indoor_depth(height, width, camera.fy, camera.cy)
        return ground_plane_depth(height, width, camera.fy, camera.cy,
                                  max_depth=protocol.max_depth)
    raise ValueError(f"unknown baseline {name!r}; choose from {list(BASELINES)}")
