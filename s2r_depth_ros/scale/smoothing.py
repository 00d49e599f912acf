"""Temporal smoothing of the scale, and the jitter figure.

The filter works on log(scale), so a factor of 1.1 up and 1.1 down weigh the same. Each
new measurement moves the estimate by a share alpha = 1 - exp(-dt / time_constant) of the
difference (an exponential average in time, so the camera's rate does not change its
meaning); the output for a frame is ready with that frame (no look-ahead, no added
latency). A measurement further than ``outlier_ratio`` from the estimate is an outlier and
ignored; ``reset_after`` outliers in a row that agree with each other are a real jump
(a new scene, a zoom) and the filter restarts from them. A gap in stamps longer than
``max_gap`` or a stamp going backwards (a bag looping) restarts it too.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class SmoothingOptions:
    """Scale filter settings (validated on construction)."""

    # Seconds for the estimate to move 63 % of the way to a steady new value; 0: no smoothing.
    time_constant: float = 1.0
    # A measurement more than this factor from the estimate (either way) is an outlier.
    outlier_ratio: float = 1.3
    # This many outliers in a row, within outlier_ratio of each other, restart the filter.
    reset_after: int = 3
    # A gap between stamps longer than this (seconds) restarts the filter.
    max_gap: float = 2.0

    def __post_init__(self) -> None:
        if not self.time_constant >= 0:
            raise ValueError("smoothing options: time_constant must be >= 0")
        if not self.outlier_ratio > 1:
            raise ValueError("smoothing options: outlier_ratio must be > 1")
        if self.reset_after < 1:
            raise ValueError("smoothing options: reset_after must be >= 1")
        if not self.max_gap > 0:
            raise ValueError("smoothing options: max_gap must be > 0")


class ScaleSmoother:
    """Log-domain exponential filter with outlier rejection and resets (see module doc)."""

    def __init__(self, options: SmoothingOptions | None = None) -> None:
        self.options = options or SmoothingOptions()
        self.log_scale: float | None = None
        self.stamp: float | None = None
        self.resets = 0
        self.rejected = 0
        self._outliers: list[float] = []

    def reset(self) -> None:
        """Forget the state; the next measurement is taken as it is."""
        self.log_scale, self.stamp, self._outliers = None, None, []

    def _restart(self, log_scale: float, stamp: float) -> float:
        self.log_scale, self.stamp, self._outliers = log_scale, stamp, []
        self.resets += 1
        return math.exp(log_scale)

    def update(self, scale: float, stamp: float) -> float:
        """Add one measurement (``stamp`` in seconds); returns the smoothed scale."""
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number, got {scale}")
        value = math.log(scale)
        options = self.options
        if self.log_scale is None or self.stamp is None:
            return self._restart(value, stamp)
        dt = stamp - self.stamp
        if dt < 0 or dt > options.max_gap:
            return self._restart(value, stamp)
        gate = math.log(options.outlier_ratio)
        if abs(value - self.log_scale) > gate:
            self.rejected += 1
            run = self._outliers + [value]
            # Only a run of outliers that agree with each other is a jump worth following.
            if max(run) - min(run) > gate:
                run = [value]
            self._outliers = run
            if len(run) >= options.reset_after:
                return self._restart(sorted(run)[len(run) // 2], stamp)
            self.stamp = stamp
            return math.exp(self.log_scale)
        self._outliers = []
        alpha = 1.0 if options.time_constant == 0 else 1.0 - math.exp(-dt / options.time_constant)
        self.log_scale += alpha * (value - self.log_scale)
        self.stamp = stamp
        return math.exp(self.log_scale)

    def hold(self, stamp: float) -> float | None:
        """The current scale for a frame without a measurement (None: none, or too old)."""
        if self.log_scale is None or self.stamp is None:
            return None
        if stamp - self.stamp > self.options.max_gap or stamp < self.stamp:
            return None
        return math.exp(self.log_scale)


def scale_jitter(scales: list[float] | tuple[float, ...]) -> float:
    """Std of log(s_t / s_t-1) over consecutive scales (0 for fewer than 3 scales)."""
    logs = [math.log(s) for s in scales]
    steps = [b - a for a, b in zip(logs, logs[1:])]
    if len(steps) < 2:
        return 0.0
    mean = sum(steps) / len(steps)
    return math.sqrt(sum((s - mean) ** 2 for s in steps) / len(steps))


class JitterMeter:
    """The jitter (:func:`scale_jitter`) of the last ``window`` scales in use."""

    def __init__(self, window: int = 30) -> None:
        if window < 3:
            raise ValueError(f"jitter window must be >= 3, got {window}")
        self.scales: deque[float] = deque(maxlen=window)

    def add(self, scale: float) -> float:
        """Add the scale used for one frame; returns the jitter so far."""
        self.scales.append(float(scale))
        return scale_jitter(list(self.scales))

    def clear(self) -> None:
        """Start over (a stream restart)."""
        self.scales.clear()
