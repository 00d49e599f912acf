"""Real DDS test harness: the node in its own process, a test peer in this one.

Every harness gets its own ROS domain and rclpy Context, on the loopback-only Fast DDS
profile that conftest installs, so parallel runs never see each other or the network.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image

RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.BEST_EFFORT)


def free_domain_id() -> int:
    """A random domain per harness; 1..200 keeps the DDS ports valid."""
    return random.SystemRandom().randint(1, 200)


class NodeProcess:
    """``depth_node`` started as a separate Python process with ROS arguments."""

    def __init__(self, domain_id: int, params: dict, remaps: dict | None = None,
                 log_path: Path | None = None) -> None:
        args = [sys.executable, "-m", "s2r_depth_ros.ros.depth_node", "--ros-args"]
        for key, value in params.items():
            if isinstance(value, bool):
                value = str(value).lower()
            args += ["-p", f"{key}:={value}"]
        for src, dst in (remaps or {}).items():
            args += ["-r", f"{src}:={dst}"]
        env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id), PYTHONUNBUFFERED="1")
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("no VmRSS")

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path else ""

    def stop(self) -> int:
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        return self.proc.returncode


class Peer:
    """A test node in its own Context, spun on a background thread; records what it hears."""

    def __init__(self, domain_id: int, name: str = "") -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name or f"test_peer_{os.getpid()}_{id(self)}",
                                      context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = {}
        self.arrival: dict[str, list] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # context shutting down
                return

    def listen(self, msg_type, topic: str, qos: QoSProfile = RELIABLE) -> None:
        self.received[topic] = []
        self.arrival[topic] = []

        def callback(msg, topic=topic):
            with self._lock:
                self.received[topic].append(msg)
                self.arrival[topic].append(time.time_ns())  # wall clock, comparable to stamps

        self.node.create_subscription(msg_type, topic, callback, qos)

    def publisher(self, msg_type, topic: str, qos: QoSProfile = RELIABLE):
        return self.node.create_publisher(msg_type, topic, qos)

    def count(self, topic: str) -> int:
        with self._lock:
            return len(self.received[topic])

    def clear(self) -> None:
        with self._lock:
            for topic in self.received:
                self.received[topic].clear()
                self.arrival[topic].clear()

    def publish_until(self, publish: Callable[[], None], done: Callable[[], bool],
                      timeout: float = 60.0, period: float = 0.25) -> bool:
        """Re-publish until ``done()``: discovery is asymmetric and may take a moment."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            publish()
            end = time.monotonic() + period
            while time.monotonic() < end:
                if done():
                    return True
                time.sleep(0.01)
        return done()

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=2.0)


def rgb_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth, textured RGB test picture (deterministic)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1),
                     (x + y) % 256], axis=2)
    noise = rng.integers(0, 40, size=(height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def image_msg(rgb: np.ndarray, encoding: str = "rgb8", stamp_ns: int = 1,
              frame_id: str = "camera_optical") -> Image:
    """Encode an RGB array in any of the colour encodings the node accepts."""
    import cv2

    conversions = {"rgb8": None, "bgr8": cv2.COLOR_RGB2BGR, "rgba8": cv2.COLOR_RGB2RGBA,
                   "bgra8": cv2.COLOR_RGB2BGRA, "mono8": cv2.COLOR_RGB2GRAY}
    code = conversions[encoding]
    pixels = rgb if code is None else cv2.cvtColor(rgb, code)
    msg = Image(height=pixels.shape[0], width=pixels.shape[1], encoding=encoding,
                step=pixels.shape[1] * (pixels.shape[2] if pixels.ndim == 3 else 1),
                data=pixels.tobytes())
    msg.header.frame_id = frame_id
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(stamp_ns, 1_000_000_000)
    return msg


def camera_info_msg(width: int, height: int, fx: float = 500.0, fy: float = 510.0,
                    cx: float | None = None, cy: float | None = None,
                    frame_id: str = "camera_optical") -> CameraInfo:
    cx = (width - 1) / 2 if cx is None else cx
    cy = (height - 1) / 2 if cy is None else cy
    info = CameraInfo(width=width, height=height, distortion_model="plumb_bob")
    info.header.frame_id = frame_id
    info.k = [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0]
    info.p = [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.d = [0.0] * 5
    return info


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
