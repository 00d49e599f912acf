"""`s2r-depth replay`: play a bag's camera stream into the real depth node and measure it.

The node runs in its own process (or is already running: ``--attach``). This process
publishes the bag's images and camera_info over loopback DDS, paced by the recorded log
times scaled by ``rate``, or closed-loop (``max_speed``: the next frame goes out once the
node has answered the previous one, or after a timeout), and records what the node
publishes. Header stamps are kept by default, so latency is output arrival minus the wall
time at which the input with that stamp was published (a stamp -> publish-time map), never
"arrival minus stamp". With ``clock`` the replay also publishes /clock from the bag's log
times and the node runs on it (``use_sim_time``), so latencies are also given in bag time
and the node's own /diagnostics latency (its clock minus the stamp) becomes meaningful.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import cv2
import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rosbags.rosbag2 import Writer, WriterError
from sensor_msgs.msg import CameraInfo, Image, PointCloud2
from tqdm import tqdm

from ..ros.conversions import ImageFormatError, image_to_rgb
from ..ros.live import (
    RELIABLE,
    NodeProcess,
    Peer,
    latency_summary,
    random_domain_id,
    set_stamp,
    stamp_ns,
    use_loopback,
)
from .bag_io import (
    BAG_VERSION,
    CAMERA_INFO_TYPES,
    IMAGE_TYPES,
    STORAGES,
    BagError,
    camera_info_beside,
    header_stamp_ns,
    open_bag,
    require_topic,
)
from .report import STYLE, png_data_uri, svg_line_chart

# Node outputs under the depth namespace, in the order the node publishes them.
OUTPUT_TYPES = {"image": Image, "colorized": Image, "camera_info": CameraInfo,
                "points": PointCloud2}
CLOCK_PERIOD_S = 0.01  # /clock at 100 Hz of wall time
THUMBNAILS = 3
THUMBNAIL_WIDTH = 320
# How far to read ahead for a camera_info to send with the warm-up frame.
WARMUP_LOOKAHEAD = 50


@dataclass(frozen=True)
class ReplayOptions:
    """Everything one replay needs; see ``s2r-depth replay --help`` for the meaning."""

    bag: Path
    image_topic: str
    output: Path
    camera_info_topic: str | None = None
    rate: float = 1.0
    max_speed: bool = False
    clock: bool = False
    limit: int | None = None
    restamp: bool = False
    attach: bool = False
    node_params: dict = field(default_factory=dict)
    depth_namespace: str = "/depth"
    answer_timeout_s: float = 5.0
    drain_s: float = 3.0
    startup_timeout_s: float = 120.0
    write_bag: Path | None = None
    write_storage: str = "sqlite3"
    quiet: bool = False

    def check(self) -> None:
        """Reject inconsistent options with a one-line reason."""
        if self.rate <= 0:
            raise ValueError(f"--rate must be > 0, got {self.rate}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be >= 1, got {self.limit}")
        if self.clock and self.max_speed:
            raise ValueError("--clock needs a paced replay (--rate): at --max-speed bag time "
                             "has no meaning between frames")
        if min(self.answer_timeout_s, self.drain_s, self.startup_timeout_s) <= 0:
            raise ValueError("timeouts must be > 0")
        if not self.depth_namespace.startswith("/"):
            raise ValueError(f"--depth-namespace must be absolute, got {self.depth_namespace!r}")
        if self.write_bag is not None:
            if self.write_bag.exists():
                raise ValueError(f"--write-bag target {self.write_bag} exists already")
            if self.write_storage not in STORAGES:
                raise ValueError(f"unknown storage {self.write_storage!r}")


# ---- bag messages -> rclpy messages ----
def _array(msg, name: str) -> list[float]:
    """A float array field; ROS 1 spells the CameraInfo matrices in capitals."""
    values = getattr(msg, name) if hasattr(msg, name) else getattr(msg, name.upper())
    return [float(v) for v in values]


def image_from_bag(msg) -> Image:
    """An rclpy Image with the fields of a rosbags (ROS 1 or 2) Image, header stamp kept."""
    out = Image(height=int(msg.height), width=int(msg.width), encoding=str(msg.encoding),
                is_bigendian=int(msg.is_bigendian), step=int(msg.step))
    out.data = np.asarray(msg.data, np.uint8).tobytes()  # bytes: fast; an ndarray is slow
    out.header.frame_id = str(msg.header.frame_id)
    set_stamp(out, header_stamp_ns(msg))
    return out


def camera_info_from_bag(msg) -> CameraInfo:
    """An rclpy CameraInfo with the fields of a rosbags (ROS 1 or 2) CameraInfo."""
    out = CameraInfo(height=int(msg.height), width=int(msg.width),
                     distortion_model=str(msg.distortion_model),
                     binning_x=int(msg.binning_x), binning_y=int(msg.binning_y))
    out.d, out.k, out.r, out.p = (_array(msg, n) for n in ("d", "k", "r", "p"))
    roi = msg.roi
    out.roi.x_offset, out.roi.y_offset = int(roi.x_offset), int(roi.y_offset)
    out.roi.height, out.roi.width = int(roi.height), int(roi.width)
    out.roi.do_rectify = bool(roi.do_rectify)
    out.header.frame_id = str(msg.header.frame_id)
    set_stamp(out, header_stamp_ns(msg))
    return out


@dataclass
class BagMessage:
    """One message to replay, still as the bag's (rosbags) message."""

    kind: str  # "image" or "camera_info"
    topic: str
    log_time_ns: int
    stamp_ns: int
    bag_msg: object

    def to_ros(self) -> Image | CameraInfo:
        """The rclpy message to publish."""
        return (image_from_bag if self.kind == "image" else camera_info_from_bag)(self.bag_msg)


class ReplaySource:
    """The image (and camera_info) messages of a bag in log-time order."""

    def __init__(self, path: Path, image_topic: str, camera_info_topic: str | None) -> None:
        self.path = path
        self.reader = open_bag(path)
        try:
            topics = {name: info.msgtype for name, info in self.reader.topics.items()}
            self.image_topic = require_topic(topics, image_topic, IMAGE_TYPES, "image", path)
            camera_info_topic = camera_info_topic or camera_info_beside(topics, image_topic)
            self.camera_info_topic = (require_topic(topics, camera_info_topic,
                                                    CAMERA_INFO_TYPES, "camera_info", path)
                                      if camera_info_topic else None)
            self.image_count = int(self.reader.topics[image_topic].msgcount)
            if self.image_count == 0:
                raise BagError(f"image topic {image_topic!r} has no messages in {path}")
        except BaseException:
            self.reader.close()
            raise
        self.error: str | None = None

    def messages(self, limit: int | None = None) -> Iterator[BagMessage]:
        """Messages up to the ``limit``-th image and camera_info recorded with it.

        A read failure ends the stream and sets ``error``.
        """
        wanted = {self.image_topic, self.camera_info_topic} - {None}
        connections = [c for c in self.reader.connections if c.topic in wanted]
        count = images = 0
        last_log_time = None  # set once the limit is reached
        try:
            for connection, log_time, raw in self.reader.messages(connections):
                kind = "image" if connection.topic == self.image_topic else "camera_info"
                if last_log_time is not None and (kind == "image" or log_time > last_log_time):
                    return
                msg = self.reader.deserialize(raw, connection.msgtype)
                count += 1
                yield BagMessage(kind, connection.topic, int(log_time), header_stamp_ns(msg), msg)
                images += kind == "image"
                if limit is not None and images >= limit and last_log_time is None:
                    last_log_time = log_time
        except Exception as exc:  # a damaged bag ends the replay; results so far are kept
            text = str(exc).strip().splitlines()
            self.error = (f"bag {self.path} is corrupt or truncated after {count} messages: "
                          f"{text[0] if text else type(exc).__name__}")

    def close(self) -> None:
        """Close the bag."""
        self.reader.close()


# ---- /clock ----
class BagClock:
    """Publishes /clock: held at one bag time, or running from it at ``rate`` x wall time."""

    def __init__(self, peer: Peer) -> None:
        try:
            from rosgraph_msgs.msg import Clock
        except ImportError as exc:  # rclpy depends on it, so this means a broken install
            raise RuntimeError("--clock needs rosgraph_msgs/Clock, which this ROS install "
                               "lacks (pip install ros-rosgraph-msgs)") from exc
        self._clock_type = Clock
        self._publisher = peer.publisher(Clock, "/clock", RELIABLE)
        self._origin = (0, 0, 0.0)  # wall ns, bag ns, rate (0: held)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s2r_bag_clock", daemon=True)
        self._thread.start()

    def hold(self, bag_ns: int) -> None:
        """Stand still at ``bag_ns``."""
        self._origin = (time.time_ns(), bag_ns, 0.0)

    def start(self, wall_ns: int, bag_ns: int, rate: float) -> None:
        """Run: bag time ``bag_ns`` at wall time ``wall_ns``, advancing ``rate`` x wall."""
        self._origin = (wall_ns, bag_ns, rate)

    def bag_time(self, wall_ns: int) -> int:
        """The bag time this clock shows at ``wall_ns``."""
        origin_wall, origin_bag, rate = self._origin
        return origin_bag + int(max(0, wall_ns - origin_wall) * rate)

    def _run(self) -> None:
        while not self._stop.wait(CLOCK_PERIOD_S):
            msg = self._clock_type()
            msg.clock.sec, msg.clock.nanosec = divmod(self.bag_time(time.time_ns()),
                                                      1_000_000_000)
            try:
                self._publisher.publish(msg)
            except Exception:  # the context is shutting down
                return

    def close(self) -> None:
        """Stop publishing."""
        self._stop.set()
        self._thread.join(timeout=1.0)


# ---- recording bag ----
class SessionBagWriter:
    """A rosbag2 of the session: the inputs as published and what the node published.

    rclpy messages are serialised with ``rclpy.serialization`` (same CDR as rosbags' Humble
    definitions) on a writer thread, so recording never delays the arrival timestamps; the
    bag is opened, written and closed on that thread (sqlite3 objects stay on theirs).
    Log times are the wall-clock publish/arrival times, as ``ros2 bag record`` would write.
    """

    def __init__(self, path: Path, storage: str, topics: dict[str, str]) -> None:
        self.path = path
        self.counts = dict.fromkeys(topics, 0)
        self._queue: queue.Queue = queue.Queue(maxsize=32)
        self._error: BaseException | None = None
        self._opened = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(storage, topics),
                                        name="s2r_bag_writer", daemon=True)
        self._thread.start()
        self._opened.wait()
        if self._error is not None:
            self._thread.join()
            raise BagError(f"cannot write bag {path}: {self._error}")

    def put(self, topic: str, log_time_ns: int, msg) -> None:
        """Queue one rclpy message for ``topic``."""
        self._queue.put((topic, log_time_ns, msg))

    def _run(self, storage: str, topics: dict[str, str]) -> None:
        from rclpy.serialization import serialize_message
        from rosbags.typesys import Stores, get_typestore

        try:
            typestore = get_typestore(Stores.ROS2_HUMBLE)
            writer = Writer(self.path, version=BAG_VERSION, storage_plugin=STORAGES[storage])
            writer.open()
            connections = {topic: writer.add_connection(topic, msgtype, typestore=typestore)
                           for topic, msgtype in topics.items()}
        except (WriterError, OSError) as exc:
            self._error = exc
            return
        finally:
            self._opened.set()
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue
            topic, log_time_ns, msg = item
            try:
                writer.write(connections[topic], log_time_ns, serialize_message(msg))
                self.counts[topic] += 1
            except Exception as exc:  # reported by close()
                self._error = exc
        try:
            writer.close()
        except Exception as exc:  # reported by close()
            self._error = self._error or exc

    def close(self) -> dict[str, int]:
        """Write everything queued, finish the bag; messages written per topic."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise BagError(f"writing {self.path} failed: {self._error}")
        return self.counts


# ---- recording the node's outputs ----
class OutputRecorder:
    """First arrival (wall ns) of every node output per stamp, plus the node's diagnostics."""

    def __init__(self, peer: Peer, namespace: str) -> None:
        self.namespace = namespace.rstrip("/")
        self.arrivals: dict[str, dict[int, int]] = {name: {} for name in OUTPUT_TYPES}
        self.replayed: set[int] = set()  # stamps of replayed frames (not warm-up)
        self.thumbnail_stamps: set[int] = set()
        self.thumbnails: dict[int, np.ndarray] = {}
        self.diagnostics: dict[str, str] = {}
        self.diagnostics_arrival = 0
        self.sink: SessionBagWriter | None = None
        self._changed = threading.Condition()
        for name, msg_type in OUTPUT_TYPES.items():
            peer.node.create_subscription(msg_type, self.topic(name),
                                          partial(self._on_output, name), RELIABLE)
        peer.node.create_subscription(DiagnosticArray, "/diagnostics", self._on_diagnostics,
                                      RELIABLE)

    def topic(self, name: str) -> str:
        """Full topic name of output ``name``."""
        return f"{self.namespace}/{name}"

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
                self.thumbnails[stamp] = _thumbnail(image_to_rgb(msg)[:, :, ::-1])
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


def _thumbnail(bgr: np.ndarray) -> np.ndarray:
    height, width = bgr.shape[:2]
    size = (THUMBNAIL_WIDTH, max(1, round(height * THUMBNAIL_WIDTH / width)))
    return cv2.resize(np.ascontiguousarray(bgr), size, interpolation=cv2.INTER_AREA)


# ---- the replay ----
@dataclass
class SentFrame:
    """One replayed image: when it was recorded and when it went out."""

    index: int
    stamp_ns: int
    log_time_ns: int
    publish_ns: int


def _node_params(options: ReplayOptions) -> dict:
    params = {k: v for k, v in options.node_params.items() if v not in (None, "")}
    if options.clock:
        params["use_sim_time"] = True
    return params


def _remaps(options: ReplayOptions, camera_info_topic: str | None) -> dict[str, str]:
    remaps = {"image": options.image_topic}
    if camera_info_topic:
        remaps["camera_info"] = camera_info_topic
    if options.depth_namespace.rstrip("/") != "/depth":
        for name in OUTPUT_TYPES:
            remaps[f"depth/{name}"] = f"{options.depth_namespace.rstrip('/')}/{name}"
    return remaps


def _last_log_line(node: NodeProcess) -> str:
    lines = [line for line in node.log().splitlines() if line.strip()]
    fatal = [line for line in lines if "cannot start" in line or "Error" in line]
    return (fatal or lines or ["(no output)"])[-1].strip()


class Replay:
    """One replay session; :meth:`run` returns the summary written to replay.json."""

    def __init__(self, options: ReplayOptions) -> None:
        options.check()
        self.options = options
        self.source = ReplaySource(options.bag, options.image_topic, options.camera_info_topic)
        self.node: NodeProcess | None = None
        self.peer: Peer | None = None
        self.clock: BagClock | None = None
        self.writer: SessionBagWriter | None = None
        self.sent: list[SentFrame] = []
        self.camera_infos_sent = 0
        self.duplicate_stamps = 0
        self.warmup_publishes = 0
        self.expected_outputs: set[str] = {"image"}
        self.input_thumbnails: dict[int, np.ndarray] = {}
        self.node_status: int | None = None
        self.start_ns = 0

    # -- set-up --
    def _start(self) -> OutputRecorder:
        o = self.options
        o.output.mkdir(parents=True, exist_ok=True)
        if o.attach:
            domain = int(os.environ.get("ROS_DOMAIN_ID", "0") or 0)
        else:
            domain = random_domain_id()
        use_loopback(domain)
        self.domain = domain
        if not o.attach:
            self.node = NodeProcess(domain, _node_params(o),
                                    remaps=_remaps(o, self.source.camera_info_topic),
                                    log_path=o.output / "node.log")
        self.peer = Peer(domain)
        recorder = OutputRecorder(self.peer, o.depth_namespace)
        self.image_pub = self.peer.publisher(Image, o.image_topic, RELIABLE)
        self.info_pub = (self.peer.publisher(CameraInfo, self.source.camera_info_topic, RELIABLE)
                         if self.source.camera_info_topic else None)
        if o.clock:
            self.clock = BagClock(self.peer)
        if o.write_bag is not None:
            topics = {o.image_topic: "sensor_msgs/msg/Image"}
            if self.source.camera_info_topic:
                topics[self.source.camera_info_topic] = "sensor_msgs/msg/CameraInfo"
            for name, msg_type in OUTPUT_TYPES.items():
                topics[recorder.topic(name)] = f"sensor_msgs/msg/{msg_type.__name__}"
            self.writer = SessionBagWriter(o.write_bag, o.write_storage, topics)
            recorder.sink = self.writer
        return recorder

    def _warm_up(self, recorder: OutputRecorder, first_image: BagMessage,
                 first_info: BagMessage | None, first_log_ns: int) -> None:
        """Send the first frame under a stamp of its own until the node answers.

        This waits out discovery and the model's first (slow) inference, and teaches the
        node the camera; the stamp is "now" on the node's clock, so its own latency
        statistics stay clean.
        """
        if self.clock is not None:
            self.clock.hold(first_log_ns)
            warm_stamp = first_log_ns - 1 if first_image.stamp_ns != first_log_ns - 1 else (
                first_log_ns - 2)
        else:
            warm_stamp = time.time_ns()
        image = first_image.to_ros()
        set_stamp(image, warm_stamp)
        info = first_info.to_ros() if first_info is not None else None
        if info is not None:
            set_stamp(info, warm_stamp)

        def publish() -> None:
            if info is not None and self.info_pub is not None:
                self.info_pub.publish(info)
            self.image_pub.publish(image)
            self.warmup_publishes += 1

        def answered_or_dead() -> bool:
            return warm_stamp in recorder.arrivals["image"] or (
                self.node is not None and not self.node.alive())

        answered = self.peer.publish_until(publish, answered_or_dead,
                                           timeout=self.options.startup_timeout_s)
        if self.node is not None and not self.node.alive():
            raise RuntimeError(f"the depth node exited with status {self.node.proc.poll()}: "
                               f"{_last_log_line(self.node)}")
        if not answered:
            where = (f"the node in ROS_DOMAIN_ID {self.domain} (is it listening on "
                     f"{self.options.image_topic} and publishing on "
                     f"{self.options.depth_namespace}/image?)" if self.options.attach
                     else f"the depth node ({_last_log_line(self.node)})")
            raise RuntimeError(f"no answer from {where} within "
                               f"{self.options.startup_timeout_s:g} s")
        # Let the warm-up frame's other outputs (and any queued repeat) arrive first.
        recorder.wait_quiet(0.5, timeout=5.0)
        self.expected_outputs = {n for n in OUTPUT_TYPES if warm_stamp in recorder.arrivals[n]}

    def _look_ahead(self, messages: Iterator[BagMessage]) -> tuple[list[BagMessage],
                                                                   BagMessage | None,
                                                                   BagMessage | None]:
        """Buffered messages up to the first image (and a camera_info, if near)."""
        buffered: list[BagMessage] = []
        first_image = first_info = None
        for message in messages:
            buffered.append(message)
            if message.kind == "image" and first_image is None:
                first_image = message
            elif message.kind == "camera_info" and first_info is None:
                first_info = message
            wants_info = self.info_pub is not None and first_info is None
            if first_image is not None and (not wants_info or len(buffered) >= WARMUP_LOOKAHEAD):
                break
        return buffered, first_image, first_info

    # -- streaming --
    def _publish_image(self, recorder: OutputRecorder, message: BagMessage, msg: Image,
                       index: int, thumbnail_indices: set[int]) -> SentFrame:
        if self.options.restamp:
            last = self.sent[-1].stamp_ns if self.sent else 0
            set_stamp(msg, max(time.time_ns(), last + 1))
        stamp = stamp_ns(msg)
        if stamp in recorder.replayed:
            self.duplicate_stamps += 1
        if index in thumbnail_indices:
            try:
                self.input_thumbnails[stamp] = _thumbnail(image_to_rgb(msg)[:, :, ::-1])
                recorder.thumbnail_stamps.add(stamp)
            except ImageFormatError:
                pass
        recorder.add_replayed(stamp)
        publish_ns = time.time_ns()
        self.image_pub.publish(msg)
        if self.writer is not None:
            self.writer.put(self.options.image_topic, publish_ns, msg)
        frame = SentFrame(index, stamp, message.log_time_ns, publish_ns)
        self.sent.append(frame)
        return frame

    def _publish_info(self, msg: CameraInfo) -> None:
        if self.info_pub is None:
            return
        if self.options.restamp:
            set_stamp(msg, time.time_ns())
        publish_ns = time.time_ns()
        self.info_pub.publish(msg)
        self.camera_infos_sent += 1
        if self.writer is not None:
            self.writer.put(self.source.camera_info_topic, publish_ns, msg)

    def _stream(self, recorder: OutputRecorder, messages: Iterator[BagMessage],
                first_log_ns: int, total: int) -> None:
        o = self.options
        thumbnail_indices = {int(i) for i in np.linspace(0, total - 1, min(THUMBNAILS, total))}
        self.start_ns = time.time_ns()
        if self.clock is not None:
            self.clock.start(self.start_ns, first_log_ns, o.rate)
        progress = tqdm(total=total, desc="replay", unit="frame", disable=o.quiet)
        try:
            for message in messages:
                msg = message.to_ros()  # convert before waiting: pacing stays exact
                if o.max_speed:
                    # Closed loop: an image waits for the previous frame's outputs; camera_info
                    # (usually recorded just after its image) goes out at once.
                    if message.kind == "image" and self.sent:
                        recorder.wait_for({self.sent[-1].stamp_ns}, self.expected_outputs,
                                          o.answer_timeout_s)
                else:
                    due = self.start_ns + (message.log_time_ns - first_log_ns) / o.rate
                    delay = (due - time.time_ns()) / 1e9
                    if delay > 0:
                        time.sleep(delay)
                if message.kind == "camera_info":
                    self._publish_info(msg)
                    continue
                self._publish_image(recorder, message, msg, len(self.sent), thumbnail_indices)
                progress.update(1)
        finally:
            progress.close()
        # Outputs still on their way: wait for all of them, at most the drain time (frames
        # the node dropped never answer); then for the node's final counters.
        recorder.wait_for({f.stamp_ns for f in self.sent}, self.expected_outputs, o.drain_s)
        recorder.wait_fresh_diagnostics(timeout=2.5)

    def run(self) -> dict:
        """Start (or attach to) the node, replay, stop the node, write the results."""
        o = self.options
        recorder = None
        read_error = None
        try:
            recorder = self._start()
            messages = self.source.messages(o.limit)
            buffered, first_image, first_info = self._look_ahead(messages)
            if first_image is None:
                raise BagError(self.source.error or f"no message on {o.image_topic} in {o.bag}")
            first_log_ns = buffered[0].log_time_ns
            self._warm_up(recorder, first_image, first_info, first_log_ns)
            total = min(self.source.image_count, o.limit or self.source.image_count)

            def replayed() -> Iterator[BagMessage]:
                yield from buffered
                yield from messages

            self._stream(recorder, replayed(), first_log_ns, total)
            read_error = self.source.error
        finally:
            if self.clock is not None:
                self.clock.close()
            if self.peer is not None:
                self.peer.close()
            if self.node is not None:
                self.node_status = self.node.stop()
            written = self.writer.close() if self.writer is not None else None
            self.source.close()
        summary = self.summarise(recorder, written, read_error)
        self.write_outputs(summary, recorder)
        if read_error:
            raise BagError(f"{read_error}; results for {len(self.sent)} frames in {o.output}")
        return summary

    # -- results --
    def summarise(self, recorder: OutputRecorder, written: dict | None,
                  read_error: str | None) -> dict:
        """The dict written to replay.json."""
        o = self.options
        arrivals = {name: recorder.arrivals_of(name) for name in OUTPUT_TYPES}
        publish = {}
        for frame in self.sent:
            publish.setdefault(frame.stamp_ns, frame.publish_ns)
        latency = {name: {s: (t - publish[s]) / 1e6 for s, t in arrivals[name].items()
                          if s in publish} for name in OUTPUT_TYPES}
        answered = latency["image"]
        first_log = self.sent[0].log_time_ns if self.sent else 0
        frames = []
        for frame in self.sent:
            frames.append({
                "index": frame.index, "stamp_ns": frame.stamp_ns,
                "recorded_offset_s": round((frame.log_time_ns - first_log) / 1e9, 6),
                "publish_offset_s": round((frame.publish_ns - self.start_ns) / 1e9, 6),
                "latency_ms": {name: round(latency[name][frame.stamp_ns], 3)
                               for name in OUTPUT_TYPES if frame.stamp_ns in latency[name]}})
        sent_stamps = [f.stamp_ns for f in self.sent]
        dropped = [s for s in dict.fromkeys(sent_stamps) if s not in answered]
        publish_span = (self.sent[-1].publish_ns - self.sent[0].publish_ns) / 1e9 if len(
            self.sent) > 1 else 0.0
        last_arrival = max((arrivals["image"][s] for s in answered), default=0)
        busy = (last_arrival - self.sent[0].publish_ns) / 1e9 if answered else 0.0
        recorded_span = (self.sent[-1].log_time_ns - first_log) / 1e9 if self.sent else 0.0
        pacing_error = [((f.publish_ns - self.start_ns) - (f.log_time_ns - first_log) / o.rate)
                        / 1e6 for f in self.sent]
        summary = {
            "command": "replay",
            "bag": str(o.bag), "image_topic": o.image_topic,
            "camera_info_topic": self.source.camera_info_topic,
            "mode": "max_speed" if o.max_speed else "rate",
            "rate": None if o.max_speed else o.rate,
            "clock": o.clock, "stamps": "restamped" if o.restamp else "original",
            "node": {"attached": o.attach, "domain_id": self.domain,
                     "params": {} if o.attach else _node_params(o),
                     "exit_status": self.node_status,
                     "outputs_per_frame": sorted(self.expected_outputs),
                     "warmup_publishes": self.warmup_publishes,
                     "diagnostics": recorder.diagnostics if recorder else {}},
            "frames_in_bag": self.source.image_count,
            "frames_sent": len(self.sent), "camera_infos_sent": self.camera_infos_sent,
            "frames_answered": len(answered), "frames_dropped": len(dropped),
            "dropped_stamps_ns": dropped, "duplicate_stamps": self.duplicate_stamps,
            "recorded_span_s": round(recorded_span, 4),
            "replayed_span_s": round(publish_span, 4),
            "input_rate_hz": round((len(self.sent) - 1) / publish_span, 2)
            if publish_span > 0 else None,
            "throughput_fps": round(len(answered) / busy, 2) if busy > 0 else None,
            "latency_ms": {f"{o.depth_namespace.rstrip('/')}/{name}":
                           latency_summary(list(values.values()))
                           for name, values in latency.items()},
            "pacing_error_ms": None if o.max_speed else latency_summary(
                [abs(e) for e in pacing_error]),
            "frames": frames,
            "read_error": read_error,
        }
        if o.clock:
            # Bag time runs at `rate` x wall time from the replay's start.
            summary["latency_bag_time_ms"] = latency_summary(
                [ms * o.rate for ms in answered.values()])
        if written is not None:
            summary["written_bag"] = {"path": str(o.write_bag), "storage": o.write_storage,
                                      "messages": written}
        return summary

    def write_outputs(self, summary: dict, recorder: OutputRecorder) -> None:
        """replay.json and report.html in the output folder."""
        out = self.options.output
        (out / "replay.json").write_text(json.dumps(summary, indent=2))
        pictures = [(self.input_thumbnails[s], recorder.thumbnails.get(s))
                    for s in self.input_thumbnails]
        (out / "report.html").write_text(render_report(summary, pictures))


def render_report(summary: dict, pictures: list[tuple[np.ndarray, np.ndarray | None]]) -> str:
    """A one-page HTML report: settings, latency table, per-frame plots, a few frames."""
    title = "s2r-depth replay"
    skip = {"frames", "latency_ms", "dropped_stamps_ns", "node", "pacing_error_ms",
            "latency_bag_time_ms"}
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>"
                    for k, v in summary.items() if k not in skip)
    node = summary["node"]
    items += "".join(f"<li><b>node {html.escape(k)}</b>: {html.escape(str(v))}</li>"
                     for k, v in node.items())
    rows = ["<tr><th>output</th><th>frames</th><th>mean</th><th>p50</th><th>p95</th>"
            "<th>p99</th><th>max</th></tr>"]
    for topic, stats in summary["latency_ms"].items():
        cells = "".join(f"<td>{stats.get(k, '-')}</td>" for k in ("count", "mean", "p50", "p95",
                                                                 "p99", "max"))
        rows.append(f"<tr><td>{html.escape(topic)}</td>{cells}</tr>")
    frames = summary["frames"]
    index = [float(f["index"]) for f in frames]
    names = sorted({n for f in frames for n in f["latency_ms"]})
    latency_plot = svg_line_chart({n: [f["latency_ms"].get(n) for f in frames] for n in names},
                                  index, "latency per frame (publish -> arrival)",
                                  "frame index", "ms")
    pacing_plot = svg_line_chart(
        {"recorded / rate" if summary["rate"] else "recorded": [
            f["recorded_offset_s"] / (summary["rate"] or 1.0) for f in frames],
         "published": [f["publish_offset_s"] for f in frames]},
        index, "send time of each frame", "frame index", "s from start")
    figures = []
    for rgb_bgr, depth_bgr in pictures:
        figures.append(f'<figure><img src="{png_data_uri(rgb_bgr)}" alt="input">'
                       "<figcaption>input</figcaption></figure>")
        if depth_bgr is not None:
            figures.append(f'<figure><img src="{png_data_uri(depth_bgr)}" alt="depth">'
                           "<figcaption>node's colourised depth</figcaption></figure>")
    body = [f"<h1>{title}</h1>",
            f"<p>{summary['frames_answered']} of {summary['frames_sent']} frames answered, "
            f"{summary['frames_dropped']} dropped. Latency is the arrival of each output "
            "minus the wall time its input was published (stamps map to publish times).</p>",
            f"<ul>{items}</ul>", "<h2>Latency (ms)</h2>", "<table>" + "".join(rows) + "</table>",
            '<div class="plots">' + latency_plot + pacing_plot + "</div>",
            "<h2>Frames</h2>", '<div class="panels">' + "".join(figures) + "</div>"]
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{title}</title><style>{STYLE}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def summary_text(summary: dict) -> str:
    """The one-screen summary printed after a replay."""
    mode = ("max speed (closed loop)" if summary["mode"] == "max_speed"
            else f"rate {summary['rate']:g}x")
    node = summary["node"]
    lines = [
        f"replay of {summary['bag']}: {summary['frames_sent']} of {summary['frames_in_bag']} "
        f"images on {summary['image_topic']}, {mode}, {summary['stamps']} stamps"
        + (", /clock from bag time" if summary["clock"] else ""),
        f"node: {'attached' if node['attached'] else 'started'} in domain {node['domain_id']}"
        + ("" if node["exit_status"] is None else f", exit status {node['exit_status']}")
        + f"; outputs per frame: {', '.join(node['outputs_per_frame'])}",
        f"answered {summary['frames_answered']}/{summary['frames_sent']}, dropped "
        f"{summary['frames_dropped']}; throughput {summary['throughput_fps']} frames/s, "
        f"input {summary['input_rate_hz']} Hz",
        f"recorded span {summary['recorded_span_s']} s, replayed span "
        f"{summary['replayed_span_s']} s",
        f"{'latency ms (publish -> arrival)':<34}{'n':>4}{'p50':>9}{'p95':>9}{'p99':>9}"
        f"{'max':>9}",
    ]
    for topic, stats in summary["latency_ms"].items():
        values = "".join(f"{stats.get(k, '-'):>9}" for k in ("p50", "p95", "p99", "max"))
        lines.append(f"  {topic:<32}{stats['count']:>4}{values}")
    if summary.get("latency_bag_time_ms"):
        bag = summary["latency_bag_time_ms"]
        lines.append(f"  depth in bag time: p50 {bag.get('p50')} ms, p99 {bag.get('p99')} ms")
    if summary.get("pacing_error_ms"):
        pacing = summary["pacing_error_ms"]
        lines.append(f"pacing error: p50 {pacing.get('p50')} ms, max {pacing.get('max')} ms")
    diag = node["diagnostics"]
    if diag:
        keys = ("frames_received", "frames_processed", "frames_dropped", "latency_ms_p50",
                "inference_ms_p50")
        if not (summary["clock"] or summary["stamps"] == "restamped"):
            # The node measures its clock minus the stamp: wall time minus recorded stamps.
            keys = keys[:3] + keys[4:]
        lines.append("node diagnostics: " + ", ".join(f"{k} {diag[k]}" for k in keys
                                                       if k in diag))
    if summary.get("written_bag"):
        written = summary["written_bag"]
        lines.append(f"bag written: {written['path']} ({sum(written['messages'].values())} "
                     "messages)")
    return "\n".join(lines)


def replay_from_args(args: argparse.Namespace) -> int:
    """Run ``s2r-depth replay`` from parsed arguments."""
    model_options = {"model": args.model, "official_dir": args.official_dir,
                     "threads": args.threads}
    params = {}
    if args.attach:
        given = [name for name, value in (("--model", args.model),
                                          ("--official-dir", args.official_dir),
                                          ("--threads", args.threads),
                                          ("--param", args.param)) if value]
        if given or args.precision != "fp32" or args.resize != "exact" or args.device != "auto":
            raise ValueError(f"--attach uses the running node; {', '.join(given) or 'model '}"
                             " options do not apply")
    else:
        params = {**model_options, "domain": args.domain, "device": args.device,
                  "precision": args.precision, "resize": args.resize}
        for item in args.param or []:
            key, sep, value = item.partition(":=")
            if not sep or not key:
                raise ValueError(f"--param expects NAME:=VALUE, got {item!r}")
            params[key] = value
    options = ReplayOptions(
        bag=Path(args.bag), image_topic=args.image_topic, output=Path(args.output),
        camera_info_topic=args.camera_info_topic, rate=args.rate, max_speed=args.max_speed,
        clock=args.clock, limit=args.limit, restamp=args.restamp, attach=args.attach,
        node_params=params, depth_namespace=args.depth_namespace,
        answer_timeout_s=args.answer_timeout, drain_s=args.drain,
        startup_timeout_s=args.startup_timeout,
        write_bag=Path(args.write_bag) if args.write_bag else None,
        write_storage=args.write_storage, quiet=args.quiet)
    summary = Replay(options).run()
    print(summary_text(summary))
    print(f"wrote {options.output / 'replay.json'}, report.html"
          + ("" if args.attach else ", node.log"))
    if summary["frames_answered"] == 0:
        raise RuntimeError("the node answered none of the replayed frames")
    return 0
