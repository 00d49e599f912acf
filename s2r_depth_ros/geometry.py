"""Camera geometry without ROS: pinhole intrinsics and depth back-projection to points."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels for an image of ``width`` x ``height``."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int

    def scaled(self, width: int, height: int) -> Intrinsics:
        """The same camera for a resized image (image_proc's resize convention)."""
        sx, sy = width / self.width, height / self.height
        return Intrinsics(self.fx * sx, self.fy * sy, self.cx * sx, self.cy * sy, width, height)

    @classmethod
    def guess(cls, width: int, height: int) -> Intrinsics:
        """A centred camera with focal length = width (about 53 degrees horizontal FOV)."""
        return cls(float(width), float(width), (width - 1) / 2.0, (height - 1) / 2.0, width,
                   height)

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> Intrinsics:
        """A centred camera with square pixels and the given horizontal field of view."""
        f = 0.5 * width / math.tan(math.radians(hfov_deg) / 2.0)
        return cls(f, f, (width - 1) / 2.0, (height - 1) / 2.0, width, height)


# Floats per point: x, y, z, pad (16 bytes) or x, y, z, pad, rgb, pad x 3 (32 bytes).
XYZ_FLOATS, XYZRGB_FLOATS = 4, 8


def depth_to_cloud_array(depth: np.ndarray, intrinsics: Intrinsics, stride: int = 1,
                         rgb: np.ndarray | None = None) -> np.ndarray:
    """Organised cloud in depth_image_proc's layout, as a (rows, cols, 4 or 8) float32 array.

    x, y, z at offsets 0, 4, 8 (point_step 16), or with ``rgb`` (uint8 RGB at the depth's
    size) a packed 0x00RRGGBB colour read as float32 at offset 16 (point_step 32).
    Invalid depth (NaN, inf, <= 0) gives NaN points.
    """
    if stride < 1:
        raise ValueError(f"stride must be >= 1, got {stride}")
    height, width = depth.shape
    if (width, height) != (intrinsics.width, intrinsics.height):
        intrinsics = intrinsics.scaled(width, height)
    sub = depth[::stride, ::stride]
    rows, cols = sub.shape
    cloud = np.zeros((rows, cols, XYZRGB_FLOATS if rgb is not None else XYZ_FLOATS), np.float32)
    z = cloud[:, :, 2]
    np.copyto(z, sub)
    z[~((z > 0) & (z < np.inf))] = np.nan
    x_factor = (np.arange(0, width, stride, dtype=np.float32) - intrinsics.cx) / intrinsics.fx
    y_factor = (np.arange(0, height, stride, dtype=np.float32) - intrinsics.cy) / intrinsics.fy
    np.multiply(z, x_factor[None, :], out=cloud[:, :, 0])
    np.multiply(z, y_factor[:, None], out=cloud[:, :, 1])
    if rgb is not None:
        # Little-endian 0x00RRGGBB is the byte sequence B, G, R, 0.
        cloud.view(np.uint8)[:, :, 16:19] = rgb[::stride, ::stride, ::-1]
    return cloud
