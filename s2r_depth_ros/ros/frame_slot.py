"""A one-frame mailbox between the subscription callback and the inference workers."""

from __future__ import annotations

import threading
from typing import Any


class LatestFrameSlot:
    """Holds only the newest frame: a frame not yet taken is replaced (and counted as dropped).

    This keeps latency bounded when the model is slower than the camera: the worker always
    processes the freshest frame, and nothing queues up behind it.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._frame: Any = None
        self._closed = False
        self.dropped = 0

    def put(self, frame: Any) -> None:
        """Offer a frame, replacing an untaken one."""
        with self._condition:
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._condition.notify()

    def take(self, timeout: float | None = None) -> Any:
        """Wait for a frame; None on timeout or once closed."""
        with self._condition:
            if self._frame is None and not self._closed:
                self._condition.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def close(self) -> None:
        """Wake the waiting worker so it can exit."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
