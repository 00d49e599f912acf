"""Run the depth node for real and talk to it: used by the demo, bag replay and the tests.

The node runs in its own process; a peer node lives in this process in its own rclpy
Context and ROS domain, with the loopback-only Fast DDS profile, so nothing leaves the
machine and concurrent runs never see each other.
"""

from __future__ import annotations

import ctypes
import os
import random
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rclpy
from builtin_interfaces.msg import Time
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Header

from .conversions import stamp_ns  # noqa: F401 (re-exported for the tools and tests)

FASTDDS_PROFILE = Path(__file__).resolve().with_name("fastdds_localhost.xml")
RELIABLE = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                      reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10,
                         reliability=ReliabilityPolicy.BEST_EFFORT)


def loopback_environment(domain_id: int) -> dict[str, str]:
    """Environment variables that keep DDS on this machine, in the given domain."""
    return {"ROS_DOMAIN_ID": str(domain_id),
            "ROS_AUTOMATIC_DISCOVERY_RANGE": "SYSTEM_DEFAULT",
            "FASTDDS_DEFAULT_PROFILES_FILE": str(FASTDDS_PROFILE)}


def use_loopback(domain_id: int) -> None:
    """Apply :func:`loopback_environment` to this process (before any rclpy.init)."""
    os.environ.update(loopback_environment(domain_id))


_DOMAINS_GIVEN: set[int] = set()


def random_domain_id() -> int:
    """A random domain (1..200 keeps the DDS port numbers valid), new to this process.

    Never repeating one within a process keeps a long-lived node (a test module's fixture)
    from sharing a domain with a later one and hearing its traffic.
    """
    free = sorted(set(range(1, 201)) - _DOMAINS_GIVEN) or list(range(1, 201))
    domain = random.SystemRandom().choice(free)
    _DOMAINS_GIVEN.add(domain)
    return domain


def _ros_value(value) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _end_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux).

    A test or benchmark that crashes must not leave a node behind: it would keep answering
    camera frames in its domain and confuse a later run that draws the same domain.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class NodeProcess:
    """``depth_node`` as a child process, started with parameters and remappings.

    On Linux the child is stopped (SIGTERM) when the thread that started it ends, so create
    it on the thread that outlives it (the main thread in our tools and tests).
    """

    def __init__(self, domain_id: int, params: dict, remaps: dict | None = None,
                 log_path: Path | None = None, module: str = "s2r_depth_ros.ros.depth_node"
                 ) -> None:
        args = [sys.executable, "-m", module, "--ros-args"]
        for key, value in params.items():
            args += ["-p", f"{key}:={_ros_value(value)}"]
        for source, target in (remaps or {}).items():
            args += ["-r", f"{source}:={target}"]
        env = dict(os.environ, PYTHONUNBUFFERED="1", **loopback_environment(domain_id))
        self.log_path = log_path
        self._log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=_end_with_parent)

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc.poll() is None

    def rss_mb(self) -> float:
        """Resident memory of the node process in MiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError("VmRSS not found")

    def log(self) -> str:
        """Everything the node printed so far."""
        return self.log_path.read_text() if self.log_path else ""

    def stop(self, timeout: float = 10.0) -> int:
        """Ctrl-C the node (kill it if it hangs, after it logs its threads' stacks).

        Returns its exit status.
        """
        if self.alive():
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                if hasattr(signal, "SIGUSR1"):  # see depth_node.init_node_process
                    self.proc.send_signal(signal.SIGUSR1)
                    time.sleep(1.0)
                self.proc.kill()
                self.proc.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        return self.proc.returncode


class Peer:
    """A node in its own Context, spun on a background thread, recording what it hears.

    Arrival times are wall-clock nanoseconds, comparable with header stamps set from
    ``time.time_ns()`` by the publisher.
    """

    def __init__(self, domain_id: int, name: str = "") -> None:
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(name or f"s2r_peer_{os.getpid()}_{id(self):x}",
                                      context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.received: dict[str, list] = {}
        self.arrival: dict[str, list[int]] = {}
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # the context is shutting down
                return

    def listen(self, msg_type, topic: str, qos: QoSProfile = RELIABLE, raw: bool = False
               ) -> None:
        """Record every message on ``topic`` with its arrival time.

        ``raw``: keep the serialised bytes and read only the header stamp, like a C++
        subscriber that hands the buffer on (rviz), instead of building a Python message.
        """
        self.received[topic] = []
        self.arrival[topic] = []

        def callback(msg, topic=topic):
            now = time.time_ns()
            if raw:
                msg = SerializedMessage(msg)
            with self._lock:
                self.received[topic].append(msg)
                self.arrival[topic].append(now)

        self.node.create_subscription(msg_type, topic, callback, qos, raw=raw)

    def publisher(self, msg_type, topic: str, qos: QoSProfile = RELIABLE):
        """Create a publisher on the peer node."""
        return self.node.create_publisher(msg_type, topic, qos)

    def call(self, client, request, timeout: float = 60.0, resend_after: float | None = None):
        """Call a service through ``client`` (made on :attr:`node`) and wait for the answer.

        ``resend_after``: send the request again after that many seconds without an answer;
        only for requests that are safe to repeat. A server that has not yet discovered this
        client's response reader drops the response after a short wait (ROS 2's service
        discovery race; rclpy logs "failed to send response (timeout)"), which
        ``wait_for_service`` cannot rule out.
        """
        if not client.wait_for_service(timeout_sec=timeout):
            raise TimeoutError(f"service {client.srv_name} not available")
        deadline = time.monotonic() + timeout
        while True:
            future = client.call_async(request)
            resend_at = time.monotonic() + (resend_after or timeout)
            while not future.done() and time.monotonic() < min(deadline, resend_at):
                time.sleep(0.02)  # the spinning thread completes the future
            if future.done():
                return future.result()
            client.remove_pending_request(future)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no answer from {client.srv_name}")

    def count(self, topic: str) -> int:
        """Messages received so far on ``topic``."""
        with self._lock:
            return len(self.received[topic])

    def clear(self) -> None:
        """Forget everything received so far."""
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
        """Shut the peer's context down and join its thread."""
        self.executor.shutdown(timeout_sec=1.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)
        self._thread.join(timeout=2.0)


class SerializedMessage:
    """A message kept as CDR bytes; ``header.stamp`` is read from the first header field."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        # 4 bytes of encapsulation (little-endian CDR), then stamp.sec int32, nanosec uint32.
        sec, nanosec = struct.unpack_from("<iI", data, 4)
        self.header = Header(stamp=Time(sec=sec, nanosec=nanosec))


def set_stamp(msg, nanoseconds: int) -> None:
    """Set a message header's stamp from nanoseconds."""
    msg.header.stamp.sec, msg.header.stamp.nanosec = divmod(int(nanoseconds), 1_000_000_000)


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    """Count, mean and p50/p95/p99/max of a list of latencies in milliseconds."""
    if not latencies_ms:
        return {"count": 0}
    values = np.asarray(latencies_ms, dtype=np.float64)
    summary = {"count": int(values.size), "mean": float(values.mean())}
    for q in (50, 95, 99):
        summary[f"p{q}"] = float(np.percentile(values, q))
    summary["max"] = float(values.max())
    return {k: round(v, 2) if isinstance(v, float) else v for k, v in summary.items()}


def match_outputs(peer: Peer, topic: str, sent_stamps: list[int]) -> dict[int, tuple]:
    """Outputs on ``topic`` keyed by input stamp: (message, latency in ms from the stamp)."""
    wanted = set(sent_stamps)
    matched = {}
    for msg, arrival in zip(list(peer.received[topic]), list(peer.arrival[topic])):
        stamp = stamp_ns(msg)
        if stamp in wanted and stamp not in matched:
            matched[stamp] = (msg, (arrival - stamp) / 1e6)
    return matched
