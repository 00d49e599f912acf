"""Metric scale from sparse metric depth: a depth camera's or a LiDAR's samples in the image.

A sparse map is an (H, W) float32 array in metres at the predicted depth's resolution, NaN
(or 0) where there is no sample. Converters build it from a 32FC1 image in metres, a 16UC1
image in millimetres, or a LiDAR point array with its camera-from-lidar transform.

The fit is robust and per frame: the scale s minimises the mean relative error over the
samples, sum |s * depth - sparse| / sparse, which is the median of sparse / depth weighted by
depth / sparse, over the samples within a band of the plain median ratio (an L1 fit
without the gross outliers: a minority of wrong samples cannot move it far). With
``fit_shift``: a scale and a shift in inverse depth, 1 / metric = a / depth + b, by
iteratively trimmed weighted least squares.
A minimum-support rule refuses frames with too few overlapping samples, or whose samples
disagree too much to trust (the reason is returned).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..geometry import Intrinsics
from .estimate import ScaleEstimate


@dataclass(frozen=True)
class SparseOptions:
    """How sparse samples are turned into a scale (validated on construction)."""

    # Least count of samples that overlap valid predicted depth.
    min_points: int = 20
    # A sample supports the fit when its log ratio is within this band of the fit's
    # (0.5: a factor 1.65 either way; a network's per-pixel errors reach 30 % and more) ...
    inlier_band: float = 0.5
    # ... and this share of the samples must support it.
    min_support: float = 0.5
    # Also fit a shift in inverse depth (for models whose error is affine in inverse depth).
    fit_shift: bool = False

    def __post_init__(self) -> None:
        if self.min_points < 2:
            raise ValueError("sparse options: min_points must be >= 2")
        if not 0 < self.inlier_band < 2:
            raise ValueError("sparse options: inlier_band must be in (0, 2)")
        if not 0 < self.min_support <= 1:
            raise ValueError("sparse options: min_support must be in (0, 1]")


def sparse_from_metres(image: np.ndarray) -> np.ndarray:
    """A sparse map from a 32FC1 depth image in metres (NaN, inf, <= 0: no sample)."""
    depth = np.asarray(image, np.float32)
    if depth.ndim != 2:
        raise ValueError(f"sparse depth must be 2-D, got shape {depth.shape}")
    depth = depth.copy()
    with np.errstate(invalid="ignore"):
        depth[~(np.isfinite(depth) & (depth > 0))] = np.nan
    return depth


def sparse_from_millimetres(image: np.ndarray) -> np.ndarray:
    """A sparse map from a 16UC1 depth image in millimetres (REP 118; 0: no sample)."""
    raw = np.asarray(image)
    if raw.ndim != 2 or raw.dtype != np.uint16:
        raise ValueError(f"16UC1 depth must be a 2-D uint16 array, got {raw.dtype} "
                         f"{raw.shape}")
    depth = raw.astype(np.float32) * np.float32(1e-3)
    depth[raw == 0] = np.nan
    return depth


def resample_sparse(sparse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A sparse map moved to another resolution, sample by sample (no interpolation).

    Each sample lands on the pixel whose area holds its centre; where two land on one
    pixel the nearer wins (as a z-buffer would).
    """
    sparse = np.asarray(sparse, np.float32)
    height, width = shape
    if sparse.shape == (height, width):
        return sparse
    rows, cols = np.nonzero(np.isfinite(sparse) & (sparse > 0))
    values = sparse[rows, cols]
    out_rows = np.minimum(((rows + 0.5) * height / sparse.shape[0]).astype(np.int64), height - 1)
    out_cols = np.minimum(((cols + 0.5) * width / sparse.shape[1]).astype(np.int64), width - 1)
    return _zbuffer(out_rows, out_cols, values, (height, width))


def _zbuffer(rows: np.ndarray, cols: np.ndarray, values: np.ndarray,
             shape: tuple[int, int]) -> np.ndarray:
    """NaN map with ``values`` at (rows, cols); the smallest value wins per pixel."""
    out = np.full(shape[0] * shape[1], np.inf, np.float32)
    np.minimum.at(out, rows * shape[1] + cols, values.astype(np.float32))
    out[~np.isfinite(out)] = np.nan
    return out.reshape(shape)


def sparse_from_points(points: np.ndarray, camera_from_lidar: np.ndarray,
                       intrinsics: Intrinsics, shape: tuple[int, int] | None = None,
                       min_depth: float = 0.1) -> np.ndarray:
    """A sparse map from LiDAR points: (N, 3+) xyz in the LiDAR frame, metres.

    ``camera_from_lidar``: the 4x4 transform taking LiDAR coordinates to the camera optical
    frame (x right, y down, z forward; TF from the LiDAR's frame to the image's frame_id).
    Points nearer than ``min_depth``, behind the camera, non-finite or outside the image
    are dropped; where several fall on one pixel the nearest wins. ``shape`` (H, W)
    defaults to the intrinsics' image size; the intrinsics are scaled to it.
    """
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f"points must be an (N, 3) array, got shape {points.shape}")
    transform = np.asarray(camera_from_lidar, np.float64)
    if transform.shape != (4, 4) or not np.isfinite(transform).all():
        raise ValueError("camera_from_lidar must be a finite 4x4 matrix")
    height, width = shape or (intrinsics.height, intrinsics.width)
    if (width, height) != (intrinsics.width, intrinsics.height):
        intrinsics = intrinsics.scaled(width, height)
    xyz = points[:, :3] @ transform[:3, :3].T + transform[:3, 3]
    xyz = xyz[np.isfinite(xyz).all(axis=1) & (xyz[:, 2] > min_depth)]
    z = xyz[:, 2]
    u = np.floor(xyz[:, 0] / z * intrinsics.fx + intrinsics.cx + 0.5).astype(np.int64)
    v = np.floor(xyz[:, 1] / z * intrinsics.fy + intrinsics.cy + 0.5).astype(np.int64)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    return _zbuffer(v[inside], u[inside], z[inside], (height, width))


def _overlap(depth: np.ndarray, sparse: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, metric) depth at the pixels where both are valid."""
    if depth.shape != sparse.shape:
        raise ValueError(f"sparse depth {sparse.shape} must have the depth's shape "
                         f"{depth.shape} (see resample_sparse)")
    with np.errstate(invalid="ignore"):
        both = (np.isfinite(depth) & (depth > 0) & np.isfinite(sparse) & (sparse > 0))
    return depth[both].astype(np.float64), sparse[both].astype(np.float64)


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value where the sorted weights reach half their sum."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def align_to_sparse(depth: np.ndarray, sparse: np.ndarray,
                    options: SparseOptions | None = None) -> ScaleEstimate:
    """The scale that fits ``depth`` to ``sparse`` metric samples of the same shape.

    With ``fit_shift`` also the shift in inverse depth. Refused (scale None, with the
    reason) below the minimum support.
    """
    options = options or SparseOptions()
    pred, metric = _overlap(np.asarray(depth), np.asarray(sparse))
    count = len(pred)
    if count < options.min_points:
        return ScaleEstimate.refused("sparse", f"{count} sparse samples overlap valid depth, "
                                     f"need {options.min_points}", points=count)
    ratio = metric / pred
    # Support: samples within the band of the plain median; the fit uses those only.
    inliers = np.abs(np.log(ratio / np.median(ratio))) < options.inlier_band
    support = float(inliers.mean())
    if support < options.min_support:
        return ScaleEstimate.refused(
            "sparse", f"only {support:.0%} of {count} sparse samples agree within "
            f"{options.inlier_band:g} in log depth, need {options.min_support:.0%}",
            support=support, points=count)
    if not options.fit_shift:
        scale = _weighted_median(ratio[inliers], 1.0 / ratio[inliers])
        return ScaleEstimate("sparse", scale, support, count)
    return _fit_scale_and_shift(pred, metric, inliers, options, count)


def _fit_scale_and_shift(pred: np.ndarray, metric: np.ndarray, inliers: np.ndarray,
                         options: SparseOptions, count: int) -> ScaleEstimate:
    """1 / metric = a / pred + b on the inliers, weighted so residuals are relative errors."""
    inv_pred, inv_metric = 1.0 / pred, 1.0 / metric
    for _ in range(4):
        weights = metric[inliers]  # residual * metric ~ relative depth error
        design = np.stack([inv_pred[inliers], np.ones(int(inliers.sum()))], axis=1)
        solution, *_ = np.linalg.lstsq(design * weights[:, None],
                                       inv_metric[inliers] * weights, rcond=None)
        a, b = float(solution[0]), float(solution[1])
        if a <= 0:
            return ScaleEstimate.refused("sparse", "the scale-and-shift fit gave a "
                                         "non-positive scale", points=count)
        relative = (a * inv_pred + b) * metric - 1.0
        inliers = np.abs(relative) < options.inlier_band
        if inliers.sum() < options.min_points:
            break
    support = float(inliers.mean())
    if support < options.min_support or inliers.sum() < 2:
        return ScaleEstimate.refused("sparse", f"only {support:.0%} of {count} sparse samples "
                                     "fit the scale and shift", support=support, points=count)
    return ScaleEstimate("sparse", 1.0 / a, support, count, inverse_shift=b)
