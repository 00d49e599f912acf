"""Metric scale from the ground plane: the camera's known height above the ground fixes it.

The depth map is back-projected (pinhole, camera optical frame: x right, y down, z forward)
in the lower part of the image, where the ground is. A plane n . X = h is found there by
RANSAC with its normal n near the expected "down" direction, then refined by total least
squares on its inliers. The network's depth puts the plane at distance h from the camera,
the real plane is ``camera_height`` away, so the factor is camera_height / h.

Inliers are judged scale-free: a point X is on the plane when |n . X / h - 1| < band. For a
ground point n . X = depth * (n . ray), so a relative depth error e gives exactly e there,
near or far; a point 0.1 * camera_height above the ground (a kerb, a car's sill) is off by
0.1. Without ground in view (a wall close-up, the sky) no plane passes the checks and the
estimate is refused with the reason: callers keep their previous scale or none.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..geometry import Intrinsics
from .estimate import ScaleEstimate

# Planes whose normals are within 3 degrees count as parallel (a floor below a table top).
PARALLEL_COS = math.cos(math.radians(3.0))


def gravity_from_pitch_roll(pitch: float, roll: float = 0.0) -> np.ndarray:
    """The unit "down" direction in the camera optical frame for a camera at pitch/roll.

    ``pitch`` in radians, positive when the camera looks down; ``roll`` in radians, positive
    when the camera is turned clockwise about its forward axis as seen from behind it (its
    right side lower). Level camera: (0, 1, 0).
    """
    return np.array([math.sin(roll) * math.cos(pitch), math.cos(roll) * math.cos(pitch),
                     math.sin(pitch)])


@dataclass(frozen=True)
class GroundOptions:
    """How the ground is searched (validated on construction)."""

    # The search region: image rows from this fraction of the height down to the bottom.
    region_top: float = 0.5
    # Largest angle between the plane's normal and the expected down direction: without a
    # gravity direction (down taken as the image's y axis, so pitch and roll are unknown)...
    max_tilt_deg: float = 25.0
    # ... and with one (from TF or the mount): 0 takes the plane's normal to be exactly the
    # given direction, which is right for a camera fixed on a vehicle standing on the ground
    # it sees, and keeps a network's slightly tilted ground from tilting the plane.
    gravity_tolerance_deg: float = 0.0
    # Inlier band, relative to the plane's distance (see the module docstring).
    inlier_band: float = 0.1
    # Least share of the region's valid points on the plane, and least count of them.
    min_support: float = 0.2
    min_points: int = 200
    # RANSAC hypotheses, and points they are scored on (a seeded random subset).
    iterations: int = 200
    sample_points: int = 4000

    def __post_init__(self) -> None:
        checks = [
            (0.0 <= self.region_top < 1.0, "region_top must be in [0, 1)"),
            (0.0 < self.max_tilt_deg < 90.0, "max_tilt_deg must be in (0, 90)"),
            (0.0 <= self.gravity_tolerance_deg < 90.0,
             "gravity_tolerance_deg must be in [0, 90)"),
            (0.0 < self.inlier_band < 1.0, "inlier_band must be in (0, 1)"),
            (0.0 < self.min_support <= 1.0, "min_support must be in (0, 1]"),
            (self.min_points >= 3, "min_points must be >= 3"),
            (self.iterations >= 1, "iterations must be >= 1"),
            (self.sample_points >= 3, "sample_points must be >= 3"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(f"ground options: {message}")


def _region_points(depth: np.ndarray, intrinsics: Intrinsics, region_top: float) -> np.ndarray:
    """(N, 3) camera-frame points of the valid depths in the rows below ``region_top``."""
    height, width = depth.shape
    if (width, height) != (intrinsics.width, intrinsics.height):
        intrinsics = intrinsics.scaled(width, height)
    top = int(region_top * height)
    sub = depth[top:].astype(np.float64)
    rows, cols = np.nonzero(np.isfinite(sub) & (sub > 0))
    z = sub[rows, cols]
    x = (cols - intrinsics.cx) / intrinsics.fx * z
    y = (rows + top - intrinsics.cy) / intrinsics.fy * z
    return np.stack([x, y, z], axis=1)


def _fit_plane(points: np.ndarray, down: np.ndarray) -> tuple[np.ndarray, float]:
    """Total least-squares plane n . X = h through ``points``, n oriented along ``down``."""
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    if normal @ down < 0:
        normal = -normal
    return normal, float(normal @ centroid)


def _inliers(points: np.ndarray, normal: np.ndarray, distance: float, band: float) -> np.ndarray:
    return np.abs(points @ normal / distance - 1.0) < band


def _hypotheses(sample: np.ndarray, down: np.ndarray, min_cos: float, fixed: bool,
                iterations: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Candidate planes (normals (K, 3), distances (K,)) below the camera, near ``down``."""
    if fixed:  # the normal is known: one point fixes the plane
        distances = sample[rng.integers(0, len(sample), iterations)] @ down
        normals = np.repeat(down[None, :], iterations, axis=0)
    else:
        triples = sample[rng.integers(0, len(sample), (iterations, 3))]
        normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
        lengths = np.linalg.norm(normals, axis=1)
        normals = normals / np.maximum(lengths, 1e-12)[:, None]
        normals *= np.where(normals @ down < 0, -1.0, 1.0)[:, None]
        distances = np.einsum("ij,ij->i", normals, triples[:, 0])
        distances[(lengths <= 1e-12) | (normals @ down < min_cos)] = 0.0
    usable = distances > 0
    return normals[usable], distances[usable]


def find_ground(depth: np.ndarray, intrinsics: Intrinsics, gravity: np.ndarray | None = None,
                options: GroundOptions | None = None
                ) -> tuple[np.ndarray, float, int, int] | str:
    """The ground plane of a depth map: (normal, distance, inliers, region points).

    ``gravity``: the ground's downward normal in the camera optical frame, when known (TF
    from the robot's base to the camera, or the mount); with ``gravity_tolerance_deg`` 0
    the plane's normal is exactly that, else it may lean that far. Returns a one-line reason
    instead when no plane passes the checks.
    """
    options = options or GroundOptions()
    depth = np.asarray(depth)
    if depth.ndim != 2:
        raise ValueError(f"depth must be 2-D, got shape {depth.shape}")
    if gravity is None:
        down, tolerance = np.array([0.0, 1.0, 0.0]), options.max_tilt_deg
    else:
        down = np.asarray(gravity, np.float64).reshape(3)
        length = float(np.linalg.norm(down))
        if not np.isfinite(length) or length == 0:
            raise ValueError(f"gravity must be a finite non-zero 3-vector, got {gravity}")
        down, tolerance = down / length, options.gravity_tolerance_deg
    fixed = tolerance == 0
    min_cos = math.cos(math.radians(tolerance))
    points = _region_points(depth, intrinsics, options.region_top)
    total = len(points)
    if total < options.min_points:
        return f"{total} valid depth points in the lower image, need {options.min_points}"
    # Deterministic for a given frame: the same depth gives the same plane.
    rng = np.random.default_rng(total)
    sample = points[rng.choice(total, min(total, options.sample_points), replace=False)]
    normals, distances = _hypotheses(sample, down, min_cos, fixed, options.iterations, rng)
    if len(distances) == 0:
        return (f"no plane within {tolerance:g} deg of the down direction below the camera in "
                "the lower image")
    on_plane = np.abs(sample @ normals.T / distances - 1.0) < options.inlier_band
    counts = on_plane.sum(axis=0)
    need = max(options.min_support * len(sample), 3)
    if counts.max() < need:
        share = counts.max() / len(sample)
        return (f"ground plane support about {share:.0%} of {total} points, need "
                f"{options.min_support:.0%}")
    # The ground is the lowest well-supported plane: a table top or a bed can hold more
    # points than the floor below it. Step down while a supported plane parallel to the
    # chosen one lies clearly below it on other points (not the same ground, tilted).
    best = int(np.argmax(counts))
    while True:
        shared = on_plane.T.astype(np.int32) @ on_plane[:, best].astype(np.int32)
        below = ((counts >= need) & (normals @ normals[best] >= PARALLEL_COS)
                 & (distances > distances[best] * (1 + 2 * options.inlier_band))
                 & (shared < 0.5 * counts))
        if not below.any():
            break
        best = int(np.argmax(np.where(below, counts, -1)))
    normal, distance = normals[best], float(distances[best])
    mask = _inliers(points, normal, distance, options.inlier_band)
    # Refine on all inliers; a few rounds settle the plane and its inlier set.
    for _ in range(3):
        if mask.sum() < 3:
            break
        if fixed:
            distance = float(np.median(points[mask] @ normal))
        else:
            normal, distance = _fit_plane(points[mask], down)
        if distance <= 0:
            return "the fitted plane is not below the camera"
        mask = _inliers(points, normal, distance, options.inlier_band)
    count = int(mask.sum())
    tilt = math.degrees(math.acos(min(1.0, float(normal @ down))))
    if tilt > tolerance + 1e-6:
        return f"the best plane is tilted {tilt:.0f} deg from down (limit {tolerance:g})"
    if count < options.min_points or count < options.min_support * total:
        return (f"ground plane support {count} of {total} points ({count / total:.0%}), need "
                f"{options.min_support:.0%} and {options.min_points}")
    return normal, distance, count, total


def ground_plane_scale(depth: np.ndarray, intrinsics: Intrinsics, camera_height: float,
                       gravity: np.ndarray | None = None,
                       options: GroundOptions | None = None) -> ScaleEstimate:
    """The factor that puts the depth map's ground plane ``camera_height`` metres below.

    ``depth``: (H, W) depth (any consistent unit; NaN, inf and <= 0 are ignored);
    ``intrinsics``: the camera, scaled to the depth's size if it describes another size;
    ``camera_height``: the optical centre's height above the ground in metres;
    ``gravity``: the down direction in the camera optical frame (x right, y down, z forward),
    e.g. from TF or :func:`gravity_from_pitch_roll`; None: down is about the image's y axis.
    Returns a refused :class:`ScaleEstimate` (scale None, with the reason) when no ground
    is found; ``support`` is the inlier share of the lower region's points.
    """
    if not (np.isfinite(camera_height) and camera_height > 0):
        raise ValueError(f"camera_height must be a positive number of metres, got "
                         f"{camera_height}")
    found = find_ground(depth, intrinsics, gravity, options)
    if isinstance(found, str):
        return ScaleEstimate.refused("ground", found)
    _, distance, count, total = found
    return ScaleEstimate(source="ground", scale=float(camera_height / distance),
                         support=count / total, points=count)
