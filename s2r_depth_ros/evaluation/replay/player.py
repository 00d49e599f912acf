"""The player: starts (or attaches to) the node, warms it up, publishes the bag's frames.

Paced by the recorded log times scaled by ``rate``, or closed-loop (``max_speed``: the next
frame goes out once the node has answered the previous one, or after a timeout). With
``clock`` it also publishes /clock from the bag's log times and the node runs on it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CameraInfo, Image
from tqdm import tqdm

from ...ros.conversions import ImageFormatError, image_to_rgb
from ...ros.live import (
    RELIABLE,
    NodeProcess,
    Peer,
    random_domain_id,
    set_stamp,
    stamp_ns,
    use_loopback,
)
from ..bag_io import (
    DEPTH_NAMESPACE,
    DEPTH_OUTPUTS,
    STORAGES,
    BackgroundBagWriter,
    BagError,
    depth_topics,
)
from ..report import thumbnail
from .recorder import OUTPUT_TYPES, OutputRecorder
from .source import BagMessage, ReplaySource
from .summary import summarise, write_outputs

CLOCK_PERIOD_S = 0.01  # /clock at 100 Hz of wall time
THUMBNAILS = 3
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
    depth_namespace: str = DEPTH_NAMESPACE
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
    if options.depth_namespace.rstrip("/") != DEPTH_NAMESPACE:
        for name, topic in depth_topics(options.depth_namespace).items():
            remaps[f"{DEPTH_NAMESPACE.lstrip('/')}/{name}"] = topic
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
        self.writer: BackgroundBagWriter | None = None
        self.sent: list[SentFrame] = []
        self.camera_infos_sent = 0
        self.duplicate_stamps = 0
        self.warmup_publishes = 0
        self.warmup_diagnostics: dict[str, str] = {}
        self.node_params = {} if options.attach else _node_params(options)
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
            self.node = NodeProcess(domain, self.node_params,
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
            for name, msgtype in DEPTH_OUTPUTS.items():
                topics[recorder.topic(name)] = msgtype
            self.writer = BackgroundBagWriter(o.write_bag, o.write_storage, topics,
                                              serialize_message)
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
        self.expected_outputs = self._outputs_of(recorder, warm_stamp)
        # Let any queued repeat of the warm-up frame go by before streaming.
        recorder.wait_quiet(0.5, timeout=5.0)
        # The node's counters after the warm-up: the summary reports what came after them,
        # so warm-up frames are not counted as received.
        recorder.wait_fresh_diagnostics(timeout=2.5)
        self.warmup_diagnostics = dict(recorder.diagnostics)

    def _outputs_of(self, recorder: OutputRecorder, warm_stamp: int) -> set[str]:
        """The outputs the node gives each frame, read off the warm-up frame's answer.

        Every output topic with a publisher is waited for (a node under load can send
        camera_info and points well after the image); one that has a publisher but does not
        come within the answer timeout (points without intrinsics) is not expected.
        """
        published = {n for n in OUTPUT_TYPES
                     if self.peer.node.count_publishers(recorder.topic(n)) > 0}
        recorder.wait_for({warm_stamp}, published | {"image"}, self.options.answer_timeout_s)
        return {n for n in OUTPUT_TYPES if warm_stamp in recorder.arrivals_of(n)}

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
                self.input_thumbnails[stamp] = thumbnail(image_to_rgb(msg)[:, :, ::-1])
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
        summary = summarise(self, recorder, written, read_error)
        write_outputs(self, summary, recorder)
        if read_error:
            raise BagError(f"{read_error}; results for {len(self.sent)} frames in {o.output}")
        return summary
