"""Frames lost before they reach the node, told from gaps in the camera's stamps."""

from __future__ import annotations

from collections import deque

import numpy as np


class FrameGapCounter:
    """Counts frames missing between consecutive stamps of one camera.

    The camera's period is the median of the recent stamp differences; a difference of
    more than ``gap_factor`` periods means frames were lost on the way (transport or a
    dropping bridge). Stamps that go back (a bag restarting, a camera reset) start over.
    """

    def __init__(self, window: int = 30, gap_factor: float = 1.8, min_samples: int = 5) -> None:
        self._periods: deque[int] = deque(maxlen=window)
        self._last: int | None = None
        self.gap_factor = gap_factor
        self.min_samples = min_samples
        self.missing = 0

    def observe(self, stamp_ns: int) -> int:
        """Record a frame's stamp; return how many frames are missing just before it."""
        last, self._last = self._last, stamp_ns
        if last is None or stamp_ns <= last:
            self._periods.clear()
            return 0
        step = stamp_ns - last
        missing = 0
        if len(self._periods) >= self.min_samples:
            period = float(np.median(self._periods))
            if step > self.gap_factor * period:
                missing = max(round(step / period) - 1, 1)
        self._periods.append(step)
        self.missing += missing
        return missing
