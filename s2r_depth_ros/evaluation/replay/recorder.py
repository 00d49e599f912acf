"""The node's side of a replay: when each output arrived, thumbnails, the node's diagnostics."""

from __future__ import annotations

import threading
import time
from functools import partial

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import CameraInfo, Image, PointCloud2

from ...ros.conversions import ImageFormatError, image_to_rgb
from ...ros.live import RELIABLE, Peer, stamp_ns
from ..bag_io import DEPTH_OUTPUTS, BackgroundBagWriter, depth_topics
from ..report import thumbnail

# The node's outputs (names below its depth namespace) as rclpy message classes.
_CLASSES = {"sensor_msgs/msg/Image": Image, "sensor_msgs/msg/CameraInfo": CameraInfo,
            "sensor_msgs/msg/PointCloud2": PointCloud2}
OUTPUT_TYPES = {name: _CLASSES[msgtype] for name, msgtype in DEPTH_OUTPUTS.items()}


class OutputRecorder:
    """First arrival (wall ns) of every node output per stamp, plus the node's diagnostics."""

    def __init__(self, peer: Peer, namespace: str) -> None:
        self.topics = depth_topics(namespace)
        self.arrivals: dict[str, dict[int, int]] = {name: {} for name in OUTPUT_TYPES}
        self.replayed: set[int] = set()  # stamps of replayed frames (not warm-up)
        self.thumbnail_stamps: set[int] = set()
        self.thumbnails: dict[int, np.ndarray] = {}
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_arrival = 0
        self.sink: BackgroundBagWriter | None = None
        self._changed = threading.Condition()
        for name, msg_type in OUTPUT_TYPES.items():
            peer.node.create_subscription(msg_type, self.topic(name),
                                          partial(self._on_output, name), RELIABLE)
        peer.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      RELIABLE)

    def topic(self, name: str) -> str:
        """Full topic name of output ``name``."""
        return self.topics[name]

    def _on_output(self, name: str, msg) -> None:
        arrival = time.time_ns()
        stamp = stamp_ns(msg)
        with self._changed:
            first = stamp not in self.arrivals[name]
            if first:
                self.arrivals[name][stamp] = arrival
            replayed = stamp in self.replayed
            self._changed.notify_all()
        if not (first and replayed):
            return
        if self.sink is not None:
            self.sink.put(self.topic(name), arrival, msg)
        if name == "colorized" and stamp in self.thumbnail_stamps:
            try:
                self.thumbnails[stamp] = thumbnail(image_to_rgb(msg)[:, :, ::-1])
            except ImageFormatError:
                pass  # the report goes without that picture

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        for status in msg.status:
            values = {kv.key: kv.value for kv in status.values}
            if "frames_processed" in values:  # the depth node's status
                with self._changed:
                    self.diagnostics = values
                    self.diagnostics_arrival = time.time_ns()
                    self._changed.notify_all()

    def add_replayed(self, stamp: int) -> None:
        """Mark ``stamp`` as a replayed frame (its outputs are recorded and written)."""
        with self._changed:
            self.replayed.add(stamp)

    def wait_for(self, stamps: set[int], names: set[str], timeout: float) -> bool:
        """Wait until every output in ``names`` has arrived for every stamp in ``stamps``."""
        with self._changed:
            return self._changed.wait_for(
                lambda: all(s in self.arrivals[n] for n in names for s in stamps), timeout)

    def wait_fresh_diagnostics(self, timeout: float) -> None:
        """Wait for a diagnostics message newer than every output (the final counters)."""
        with self._changed:
            last = max((t for a in self.arrivals.values() for t in a.values()), default=0)
            self._changed.wait_for(lambda: self.diagnostics_arrival > last, timeout)

    def wait_quiet(self, quiet_s: float, timeout: float) -> None:
        """Wait until no output has arrived for ``quiet_s`` (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            last = max((t for a in self.arrivals.values() for t in a.values()), default=0)
            if time.time_ns() - last > quiet_s * 1e9:
                return
            time.sleep(0.05)

    def arrivals_of(self, name: str) -> dict[int, int]:
        """A copy of the arrivals of output ``name``."""
        with self._changed:
            return dict(self.arrivals[name])
