"""Data: the project's synthetic RGB-D scene renderer and loaders for public depth datasets.

Every dataset returns :class:`RGBDSample` (uint8 RGB, float32 metric depth, intrinsics).
"""

from .sample import RGBDSample

__all__ = ["RGBDSample"]
