"""One object per camera stream that keeps its depth metric: measure, check, smooth, apply.

A frame processor holds one :class:`ScaleCorrector` per stream and calls
:meth:`ScaleCorrector.update` with each predicted depth map; the :class:`ScaleResult` says
which factor to use, where it came from, how well supported it is and how much the factor
jitters from frame to frame. Plain numpy in and out, no ROS.

Modes: ``none`` (factor 1), ``ground`` (the camera's height above the ground plane),
``sparse`` (metric samples from a depth camera or LiDAR), ``auto`` (sparse when the frame
has samples that pass the support rule, else ground when a camera height is set).
A frame without a usable estimate keeps the last factor for up to ``hold_timeout`` seconds
(the result says so: ``measured`` is None, ``reason`` says why); after that the factor is 1
and the source ``none`` until an estimate is accepted again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from ..geometry import Intrinsics
from .estimate import ScaleEstimate, apply_scale
from .ground import GroundOptions, ground_plane_scale
from .smoothing import JitterMeter, ScaleSmoother, SmoothingOptions
from .sparse import SparseOptions, align_to_sparse, resample_sparse

MODES = ("none", "ground", "sparse", "auto")


@dataclass(frozen=True)
class ScaleOptions:
    """Everything a :class:`ScaleCorrector` is configured with (validated on construction)."""

    mode: str = "none"
    # Height of the camera's optical centre above the ground, metres (ground and auto modes).
    camera_height: float | None = None
    # Smooth the factor over frames (see :mod:`.smoothing`).
    smoothing: bool = True
    # Seconds a factor is kept for frames without an estimate.
    hold_timeout: float = 2.0
    # Estimates outside [min_scale, max_scale] are refused as implausible.
    min_scale: float = 0.1
    max_scale: float = 10.0
    # Frames the jitter figure is computed over.
    jitter_window: int = 30
    ground: GroundOptions = field(default_factory=GroundOptions)
    sparse: SparseOptions = field(default_factory=SparseOptions)
    filter: SmoothingOptions = field(default_factory=SmoothingOptions)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"scale mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.camera_height is not None and not (math.isfinite(self.camera_height)
                                                   and self.camera_height > 0):
            raise ValueError(f"camera_height must be a positive number of metres, got "
                             f"{self.camera_height}")
        if not self.hold_timeout >= 0:
            raise ValueError(f"hold_timeout must be >= 0 seconds, got {self.hold_timeout}")
        if not 0 < self.min_scale < 1 < self.max_scale:
            raise ValueError(f"need 0 < min_scale < 1 < max_scale, got {self.min_scale} and "
                             f"{self.max_scale}")
        if self.jitter_window < 3:
            raise ValueError(f"jitter_window must be >= 3, got {self.jitter_window}")


@dataclass(frozen=True)
class ScaleResult:
    """The factor to use for one frame, and what it rests on."""

    # Multiply the depth by this (1.0 when source is "none").
    scale: float
    # Where the factor in use comes from: "none", "ground" or "sparse".
    source: str
    # Support in [0, 1] of the estimate the factor rests on (0 with source "none").
    support: float
    # Std of log(scale_t / scale_t-1) over the recent frames that had a factor.
    jitter: float
    # This frame's own estimate before smoothing (None: no estimate this frame).
    measured: float | None = None
    # Why this frame had no estimate ("" when it had one, or in mode "none").
    reason: str = ""
    # Shift in inverse depth (1/m) of a sparse scale-and-shift fit, else 0.
    inverse_shift: float = 0.0

    def apply(self, depth: np.ndarray) -> np.ndarray:
        """``depth`` with this factor (and shift) applied; NaN/inf markers kept."""
        if self.scale == 1.0 and not self.inverse_shift:
            return np.asarray(depth, np.float32)
        return apply_scale(depth, self.scale, self.inverse_shift)


NO_SCALE = ScaleResult(scale=1.0, source="none", support=0.0, jitter=0.0)


class ScaleCorrector:
    """Per-stream metric scale: ``update(depth, intrinsics, stamp, sparse)`` each frame."""

    def __init__(self, mode: str = "none", camera_height: float | None = None,
                 **options) -> None:
        """``options``: the other :class:`ScaleOptions` fields (validated)."""
        self.options = ScaleOptions(mode=mode, camera_height=camera_height, **options)
        self.smoother = ScaleSmoother(self.options.filter)
        self.jitter = JitterMeter(self.options.jitter_window)
        self._last: ScaleEstimate | None = None
        self._last_scale = 1.0
        self._last_stamp: float | None = None

    @classmethod
    def from_options(cls, options: ScaleOptions) -> ScaleCorrector:
        """A corrector configured by a ready :class:`ScaleOptions`."""
        fields_ = {name: getattr(options, name) for name in options.__dataclass_fields__}
        return cls(**fields_)

    def set_camera_height(self, camera_height: float | None) -> None:
        """A new camera height (from TF, once the transform is known), from the next frame."""
        self.options = replace(self.options, camera_height=camera_height)

    def reset(self) -> None:
        """Forget the stream (a new camera, a bag restart)."""
        self.smoother.reset()
        self.jitter.clear()
        self._last, self._last_scale, self._last_stamp = None, 1.0, None

    def measure(self, depth: np.ndarray, intrinsics: Intrinsics | None,
                sparse: np.ndarray | None = None,
                gravity: np.ndarray | None = None) -> ScaleEstimate:
        """One frame's estimate in the configured mode, with no state involved."""
        mode = self.options.mode
        if mode == "none":
            return ScaleEstimate.refused("none", "scale mode is none")
        reasons = []
        if mode in ("sparse", "auto"):
            if sparse is None:
                reasons.append("no sparse depth for this frame")
            else:
                estimate = self._checked(align_to_sparse(
                    depth, resample_sparse(sparse, depth.shape), self.options.sparse))
                if estimate.ok or mode == "sparse":
                    return estimate
                reasons.append(estimate.reason)
            if mode == "sparse":
                return ScaleEstimate.refused("sparse", reasons[0])
        if self.options.camera_height is None:
            return ScaleEstimate.refused("none", "; ".join(reasons + ["no camera_height"]))
        if intrinsics is None:
            return ScaleEstimate.refused("ground", "; ".join(reasons + ["no camera intrinsics"]))
        estimate = self._checked(ground_plane_scale(depth, intrinsics, self.options.camera_height,
                                                    gravity, self.options.ground))
        if not estimate.ok and reasons:
            return ScaleEstimate.refused("ground", "; ".join(reasons + [estimate.reason]))
        return estimate

    def _checked(self, estimate: ScaleEstimate) -> ScaleEstimate:
        if estimate.ok and not (self.options.min_scale <= estimate.scale
                                <= self.options.max_scale):
            return ScaleEstimate.refused(
                estimate.source, f"implausible scale {estimate.scale:.3g} (outside "
                f"{self.options.min_scale:g}..{self.options.max_scale:g})",
                estimate.support, estimate.points)
        return estimate

    def update(self, depth: np.ndarray, intrinsics: Intrinsics | None, stamp: float,
               sparse: np.ndarray | None = None,
               gravity: np.ndarray | None = None) -> ScaleResult:
        """The factor for this frame.

        ``depth``: (H, W) predicted depth; ``intrinsics``: the camera (any resolution, scaled
        to the depth's); ``stamp``: the frame's time in seconds (header stamp);
        ``sparse``: optional (H, W) metric samples (NaN/0: none; another resolution is
        resampled); ``gravity``: optional ground normal (down) in the camera optical frame.
        """
        if self.options.mode == "none":
            return NO_SCALE
        depth = np.asarray(depth)
        if depth.ndim != 2:
            raise ValueError(f"depth must be 2-D, got shape {depth.shape}")
        stamp = float(stamp)
        estimate = self.measure(depth, intrinsics, sparse, gravity)
        if estimate.ok:
            scale = (self.smoother.update(estimate.scale, stamp) if self.options.smoothing
                     else estimate.scale)
            self._last, self._last_scale, self._last_stamp = estimate, scale, stamp
            return ScaleResult(scale=scale, source=estimate.source, support=estimate.support,
                               jitter=self.jitter.add(scale), measured=estimate.scale,
                               inverse_shift=estimate.inverse_shift)
        last = self._last
        if (last is not None and self._last_stamp is not None
                and 0 <= stamp - self._last_stamp <= self.options.hold_timeout):
            return ScaleResult(scale=self._last_scale, source=last.source,
                               support=last.support, jitter=self.jitter.add(self._last_scale),
                               reason=estimate.reason, inverse_shift=last.inverse_shift)
        self.jitter.clear()
        return ScaleResult(scale=1.0, source="none", support=0.0, jitter=0.0,
                           reason=estimate.reason)
