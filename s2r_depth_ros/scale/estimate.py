"""What one frame's scale measurement says: a factor with its support, or why there is none."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Where a scale comes from. "none": no correction (factor 1).
SOURCES = ("none", "ground", "sparse")


@dataclass(frozen=True)
class ScaleEstimate:
    """One frame's measurement of the factor that makes a depth map metric.

    ``scale`` multiplies the depth (None: no estimate this frame, see ``reason``).
    ``inverse_shift`` (1/m) is only set by the sparse fit with a shift in inverse depth:
    metric = 1 / (1 / (scale * depth) + inverse_shift).
    ``support`` is in [0, 1]: the share of the examined points that agree with the estimate
    (ground: plane inliers among the lower region's points; sparse: samples within the
    inlier band). ``points`` is how many points the estimate rests on.
    """

    source: str
    scale: float | None
    support: float = 0.0
    points: int = 0
    reason: str = ""
    inverse_shift: float = 0.0

    @property
    def ok(self) -> bool:
        """True when this frame gave a usable factor."""
        return self.scale is not None

    @classmethod
    def refused(cls, source: str, reason: str, support: float = 0.0,
                points: int = 0) -> ScaleEstimate:
        """No estimate, with the reason (for logs and /diagnostics)."""
        return cls(source=source, scale=None, support=support, points=points, reason=reason)


def apply_scale(depth: np.ndarray, scale: float, inverse_shift: float = 0.0) -> np.ndarray:
    """``depth`` corrected: ``scale * depth``, then the inverse-depth shift when it is not 0.

    Non-positive and non-finite depths pass through unchanged (NaN stays NaN, +inf stays
    +inf), so REP 117 markers survive; a depth the shift pushes past infinity becomes +inf.
    """
    depth = np.asarray(depth, np.float32)
    out = depth * np.float32(scale)
    if inverse_shift:
        with np.errstate(divide="ignore", invalid="ignore"):
            inverse = 1.0 / out + np.float32(inverse_shift)
            shifted = np.where(inverse > 0, 1.0 / inverse, np.float32(np.inf))
        usable = np.isfinite(depth) & (depth > 0)
        out = np.where(usable, shifted, out).astype(np.float32)
    return out
