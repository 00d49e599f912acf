"""Metric scale for predicted depth: ground plane, sparse depth, temporal smoothing.

Plain numpy, no ROS: :class:`ScaleCorrector` is what a frame processor holds per camera
stream; the functions below it are usable on their own (tools, evaluation).
"""

from .corrector import MODES, NO_SCALE, ScaleCorrector, ScaleOptions, ScaleResult
from .estimate import SOURCES, ScaleEstimate, apply_scale
from .ground import (
    GroundOptions,
    find_ground,
    gravity_from_pitch_roll,
    ground_plane_scale,
    mount_from_transform,
)
from .smoothing import JitterMeter, ScaleSmoother, SmoothingOptions, scale_jitter
from .sparse import (
    SparseOptions,
    align_to_sparse,
    resample_sparse,
    sparse_from_metres,
    sparse_from_millimetres,
    sparse_from_points,
)

__all__ = [
    "MODES", "NO_SCALE", "SOURCES", "GroundOptions", "JitterMeter", "ScaleCorrector",
    "ScaleEstimate", "ScaleOptions", "ScaleResult", "ScaleSmoother", "SmoothingOptions",
    "SparseOptions", "align_to_sparse", "apply_scale", "find_ground", "gravity_from_pitch_roll",
    "ground_plane_scale", "mount_from_transform", "resample_sparse", "scale_jitter",
    "sparse_from_metres", "sparse_from_millimetres", "sparse_from_points",
]
