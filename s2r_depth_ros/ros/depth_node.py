"""The depth node: camera image (+ camera_info) in; depth, camera_info, points, colour out.

Frames are handed from the subscription callback to the inference workers through a
one-frame slot, so the node always works on the newest frame and latency cannot build up.
A publishing thread builds and sends the outputs, in frame order, while the workers infer.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import cv2
import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from ..geometry import Intrinsics
from ..inference import colorize_depth, open_estimator
from ..inference.estimator import resolve_backend, resolve_device
from .allocator import keep_freed_memory
from .conversions import (
    ImageFormatError,
    PointCloudBuilder,
    bgr_to_msg,
    camera_info_for,
    compressed_to_rgb,
    depth_to_msg,
    image_to_rgb,
    intrinsics_from_camera_info,
)
from .frame_slot import LatestFrameSlot
from .settings import LIVE_PARAMETERS, SETTING_NAMES, NodeSettings, SettingsError

THROTTLE_S = 5.0
STATS_WINDOW = 200


@dataclass
class Prediction:
    """One frame's depth, waiting for the publishing thread."""

    sequence: int  # arrival order: a result older than one already published is dropped
    header: object
    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics | None
    camera_info: CameraInfo | None
    inference_ms: float
    wanted: tuple[bool, bool, bool, bool]  # depth, camera_info, points, colourised


@dataclass
class NodeStats:
    """Counters and recent timings reported on /diagnostics."""

    received: int = 0
    processed: int = 0
    out_of_order: int = 0
    bad: int = 0
    skipped_no_camera_info: int = 0
    skipped_no_subscribers: int = 0
    latency_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    inference_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    outputs_ms: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))
    processed_times: deque = field(default_factory=lambda: deque(maxlen=STATS_WINDOW))


class DepthPipeline:
    """Everything the depth node does, attached to a plain or a lifecycle node.

    Construction loads the model and creates the publishers (with ``make_publisher``:
    ``create_publisher`` or ``create_lifecycle_publisher``); :meth:`start` and :meth:`stop`
    add and remove the subscriptions, the diagnostics timer, the inference workers and the
    publishing thread.
    """

    def __init__(self, node: Node, settings: NodeSettings, make_publisher) -> None:
        self.node = node
        self.settings = s = settings
        input_size = (s.input_height, s.input_width) if s.input_height else None
        device = resolve_device(s.device)
        self.workers, threads = s.parallelism(device.type, resolve_backend(s.backend, device),
                                              len(os.sched_getaffinity(0)))
        self.estimator = open_estimator(s.model or None, s.official_dir or None, s.domain,
                                        device=s.device, precision=s.precision, resize=s.resize,
                                        backend=s.backend, threads=threads,
                                        input_size=input_size, workers=self.workers,
                                        # The publishing thread needs the CPU between frames.
                                        spin_wait=False)
        cfg = self.estimator.config
        if self.estimator.fallback_reason:
            self.get_logger().warn(f"backend auto: {self.estimator.fallback_reason}; running "
                                   "eager PyTorch")
        # One frame before serving: first-call costs (allocation, compilation) are paid here,
        # and a compiled graph exists before several workers call it.
        self.estimator.predict(np.zeros((cfg.input_height, cfg.input_width, 3), np.uint8))
        self.get_logger().info(
            f"model {cfg.name} ({cfg.input_height}x{cfg.input_width}, max depth "
            f"{cfg.max_depth} m) on {self.estimator.device} with {self.estimator.backend}, "
            f"{self.workers} worker(s) x {threads} thread(s), {self.estimator.resize} resize")

        out_qos = s.output_qos()
        self.depth_pub = make_publisher(Image, "depth/image", out_qos)
        self.info_pub = make_publisher(CameraInfo, "depth/camera_info", out_qos)
        self.points_pub = (make_publisher(PointCloud2, "depth/points", out_qos)
                           if s.publish_points else None)
        self.colour_pub = make_publisher(Image, "depth/colorized", out_qos)
        self.diag_pub = make_publisher(DiagnosticArray, "/diagnostics", 10)
        self.publishers = [p for p in (self.depth_pub, self.info_pub, self.points_pub,
                                       self.colour_pub, self.diag_pub) if p is not None]

        self.cloud_builder = PointCloudBuilder()  # used by the publishing thread only
        self.camera_info: CameraInfo | None = None
        self.stats = NodeStats()
        self.slot = LatestFrameSlot()
        self.results = LatestFrameSlot()
        self._entities: list = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def get_logger(self):
        return self.node.get_logger()

    def get_clock(self):
        return self.node.get_clock()

    def start(self) -> None:
        """Subscribe; start the diagnostics timer, the inference workers and the publisher."""
        s, node = self.settings, self.node
        if s.input_transport == "compressed":
            topic = node.resolve_topic_name("image") + "/compressed"
            image_sub = node.create_subscription(CompressedImage, topic, self.on_image,
                                                 s.input_qos())
        else:
            image_sub = node.create_subscription(Image, "image", self.on_image, s.input_qos())
        # Camera drivers publish camera_info best-effort or reliable; best-effort takes both.
        info_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                              reliability=ReliabilityPolicy.BEST_EFFORT)
        info_sub = node.create_subscription(CameraInfo, "camera_info", self.on_camera_info,
                                            info_qos)
        timer = node.create_timer(s.diagnostics_period, self.publish_diagnostics)
        self._entities = [image_sub, info_sub, timer]
        self.slot, self.results = LatestFrameSlot(), LatestFrameSlot()
        self._stop.clear()
        self._last_published = -1
        self._rate_lock = threading.Lock()
        self._next_start = 0.0
        # Inference on the next frames overlaps building and publishing the last one.
        self._threads = [threading.Thread(target=self._run_inference, name=f"s2r_inference{i}",
                                          daemon=True) for i in range(self.workers)]
        self._threads.append(threading.Thread(target=self._run_publisher, name="s2r_publish",
                                              daemon=True))
        for thread in self._threads:
            thread.start()
        # The resolved names: a remap that missed the camera shows here.
        node.get_logger().info(f"listening on {image_sub.topic_name} and {info_sub.topic_name}")

    def stop(self) -> None:
        """Unsubscribe and stop the worker threads (publishers stay)."""
        for entity in self._entities:
            if hasattr(entity, "cancel"):
                entity.cancel()
                self.node.destroy_timer(entity)
            else:
                self.node.destroy_subscription(entity)
        self._entities = []
        self._stop.set()
        self.slot.close()
        self.results.close()
        for thread in self._threads:
            thread.join(timeout=5.0)
        self._threads = []

    # ---- callbacks (executor thread): cheap, never block ----
    def on_image(self, msg: Image | CompressedImage) -> None:
        self.stats.received += 1
        self.slot.put((self.stats.received, msg))

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            intrinsics_from_camera_info(msg)
        except ImageFormatError as exc:
            self.get_logger().error(f"ignoring camera_info: {exc}",
                                    throttle_duration_sec=THROTTLE_S)
            return
        self.camera_info = msg

    # ---- inference workers ----
    def _run_inference(self) -> None:
        while not self._stop.is_set():
            if self.settings.max_rate_hz > 0:
                self._wait_for_turn()
            frame = self.slot.take(timeout=0.2)
            if frame is None:
                continue
            try:
                prediction = self.infer(*frame)
            except ImageFormatError as exc:
                self.stats.bad += 1
                self.get_logger().error(f"skipping frame: {exc}", throttle_duration_sec=THROTTLE_S)
                continue
            except Exception as exc:  # keep serving whatever one frame did
                self.stats.bad += 1
                self.get_logger().error(f"frame failed: {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=THROTTLE_S)
                continue
            if prediction is not None:
                self.results.put(prediction)

    def _run_publisher(self) -> None:
        while not self._stop.is_set():
            prediction = self.results.take(timeout=0.2)
            if prediction is None:
                continue
            if prediction.sequence < self._last_published:
                # Another worker already published a newer frame: never go back in time.
                self.stats.out_of_order += 1
                continue
            self._last_published = prediction.sequence
            try:
                self.publish(prediction)
            except Exception as exc:  # a failed publish must not stop the node
                self.get_logger().error(f"publishing failed: {type(exc).__name__}: {exc}",
                                        throttle_duration_sec=THROTTLE_S)

    def _wait_for_turn(self) -> None:
        """Space frame starts by 1 / max_rate_hz across all workers.

        It runs before a frame is taken, so the frame taken is the newest when its turn comes.
        """
        with self._rate_lock:
            start = max(time.monotonic(), self._next_start)
            self._next_start = start + 1.0 / self.settings.max_rate_hz
        self._stop.wait(max(0.0, start - time.monotonic()))

    def _wanted(self, publisher) -> bool:
        return publisher is not None and (not self.settings.lazy
                                          or publisher.get_subscription_count() > 0)

    def _intrinsics(self, width: int, height: int) -> Intrinsics | None:
        """Camera intrinsics for the input image, per the camera_info policy."""
        info = self.camera_info
        if info is not None:
            intrinsics = intrinsics_from_camera_info(info)
            if (intrinsics.width, intrinsics.height) != (width, height):
                self.get_logger().warn(
                    f"camera_info is {intrinsics.width}x{intrinsics.height} but the image is "
                    f"{width}x{height}: scaling the intrinsics", throttle_duration_sec=THROTTLE_S)
                intrinsics = intrinsics.scaled(width, height)
            return intrinsics
        if self.settings.camera_info_policy == "assume_fov":
            return Intrinsics.from_fov(width, height, self.settings.assumed_hfov_deg)
        return None

    def infer(self, sequence: int, msg: Image | CompressedImage) -> Prediction | None:
        """Decode and run the model; None when nothing needs to be published."""
        s = self.settings
        wanted = (self._wanted(self.depth_pub), self._wanted(self.info_pub),
                  self._wanted(self.points_pub), self._wanted(self.colour_pub))
        if not any(wanted):
            self.stats.skipped_no_subscribers += 1
            return None
        rgb = compressed_to_rgb(msg) if isinstance(msg, CompressedImage) else image_to_rgb(msg)
        height, width = rgb.shape[:2]
        camera_info = self.camera_info
        intrinsics = self._intrinsics(width, height)
        if intrinsics is None:
            if s.camera_info_policy == "require":
                self.stats.skipped_no_camera_info += 1
                self.get_logger().warn("no valid camera_info yet: dropping frames (policy "
                                       "'require')", throttle_duration_sec=THROTTLE_S)
                return None
            self.get_logger().warn("no valid camera_info yet: publishing depth without "
                                   "camera_info and points", throttle_duration_sec=THROTTLE_S)

        started = time.perf_counter()
        cfg = self.estimator.config
        out_size = (height, width) if s.output_resolution == "input" else (cfg.input_height,
                                                                           cfg.input_width)
        depth = self.estimator.predict(rgb, output_size=out_size)
        inference_ms = (time.perf_counter() - started) * 1000.0
        max_depth = s.max_depth or cfg.max_depth
        if max_depth < cfg.max_depth:
            depth[depth > max_depth] = np.inf
        if intrinsics is not None:
            intrinsics = intrinsics.scaled(out_size[1], out_size[0])
        if s.publish_points and s.points_rgb and out_size != (height, width):
            rgb = cv2.resize(rgb, (out_size[1], out_size[0]), interpolation=cv2.INTER_AREA)
        return Prediction(sequence, msg.header, rgb, depth, intrinsics, camera_info, inference_ms,
                          wanted)

    def publish(self, p: Prediction) -> None:
        """Build and publish every wanted output of one prediction."""
        s = self.settings
        started = time.perf_counter()
        want_depth, want_info, want_points, want_colour = p.wanted
        if want_depth:
            self.depth_pub.publish(depth_to_msg(p.depth, p.header))
        if want_colour:
            self.colour_pub.publish(bgr_to_msg(colorize_depth(
                p.depth, s.colorize_min_depth or None, s.colorize_max_depth or None,
                s.colormap), p.header))
        if p.intrinsics is not None:
            if want_info:
                self.info_pub.publish(camera_info_for(p.camera_info, p.intrinsics, p.header))
            if want_points:
                self.points_pub.publish(self.cloud_builder.build(
                    p.depth, p.intrinsics, p.header, s.points_stride,
                    p.rgb if s.points_rgb else None))

        self.stats.processed += 1
        self.stats.processed_times.append(time.monotonic())
        self.stats.inference_ms.append(p.inference_ms)
        self.stats.outputs_ms.append((time.perf_counter() - started) * 1000.0)
        stamp_ns = p.header.stamp.sec * 1_000_000_000 + p.header.stamp.nanosec
        if stamp_ns > 0:
            self.stats.latency_ms.append((self.get_clock().now().nanoseconds - stamp_ns) / 1e6)

    # ---- parameters changed at run time ----
    def on_set_parameters(self, parameters: list[Parameter]) -> SetParametersResult:
        """Apply live parameters from the next frame on; refuse the others with the reason."""
        changes = {p.name: p.value for p in parameters if p.name in SETTING_NAMES}
        fixed = sorted(set(changes) - LIVE_PARAMETERS)
        if fixed:
            return SetParametersResult(
                successful=False, reason=f"{', '.join(fixed)}: applied only at start; restart "
                "the node (lifecycle node: cleanup, set, configure)")
        try:
            self.settings = self.settings.updated(changes)
        except SettingsError as exc:
            return SetParametersResult(successful=False, reason=str(exc))
        if changes:
            self.get_logger().info(f"parameters updated: {changes}")
        return SetParametersResult(successful=True)

    # ---- diagnostics ----
    def publish_diagnostics(self) -> None:
        st = self.stats
        times = list(st.processed_times)
        rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and (
            times[-1] > times[0]) else 0.0
        status = DiagnosticStatus(name=f"{self.node.get_fully_qualified_name()}: depth",
                                  hardware_id=str(self.estimator.device))
        status.level = DiagnosticStatus.OK
        status.message = "ok"
        if st.received and not st.processed:
            status.level, status.message = DiagnosticStatus.WARN, "frames received, none processed"
        values = {
            "frames_received": st.received,
            "frames_processed": st.processed,
            "frames_dropped": self.slot.dropped,
            "results_dropped": self.results.dropped + st.out_of_order,
            "inference_workers": self.workers,
            "frames_bad": st.bad,
            "frames_skipped_no_camera_info": st.skipped_no_camera_info,
            "frames_skipped_no_subscribers": st.skipped_no_subscribers,
            "rate_hz": round(rate, 2),
            "camera_info_received": self.camera_info is not None,
        }
        for name, series in (("latency_ms", st.latency_ms), ("inference_ms", st.inference_ms),
                             ("outputs_ms", st.outputs_ms)):
            if series:
                arr = np.asarray(series)
                values[f"{name}_p50"] = round(float(np.percentile(arr, 50)), 2)
                values[f"{name}_p99"] = round(float(np.percentile(arr, 99)), 2)
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(array)



class DepthNode(Node):
    """Monocular depth from S2R-DepthNet, published the way depth_image_proc users expect."""

    def __init__(self, **node_kwargs) -> None:
        super().__init__("depth_node", **node_kwargs)
        NodeSettings.declare(self)
        self.pipeline = DepthPipeline(self, NodeSettings.read(self), self.create_publisher)
        self.add_on_set_parameters_callback(self.pipeline.on_set_parameters)
        self.pipeline.start()

    def destroy_node(self) -> None:
        self.pipeline.stop()
        super().destroy_node()


def init_node_process(args: list[str] | None = None) -> None:
    """``rclpy.init`` for a process that runs a depth node, with malloc tuned for its frames.

    ``kill -USR1 <pid>`` makes the node print every thread's stack (where is it stuck?); a
    native crash prints them too before the process dies.

    Ctrl-C and SIGTERM raise KeyboardInterrupt in the main thread, through Python's own
    handler; rclpy's are not installed. Those wake executors from a native thread of their
    own, and tearing the executor down while that thread still triggered its guard
    conditions crashed nodes at exit (SIGSEGV in ``unregister_sigint_guard_condition``,
    twice in CI). :func:`spin_until_shutdown` wakes every half second, so the interrupt is
    acted on within that.
    """
    tuned = keep_freed_memory()  # before any large buffer exists
    faulthandler.enable()
    if hasattr(signal, "SIGUSR1"):  # not on Windows
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    if not tuned:
        rclpy.logging.get_logger("depth_node").warn(
            "could not tune malloc (not glibc): large frames may cost extra page faults")


def spin_until_shutdown(node: Node) -> None:
    """``rclpy.spin(node)``, but waking at least every half second.

    Python raises the KeyboardInterrupt of a Ctrl-C only once the wait returns, so this bounds
    how long a node that nothing else wakes (an unconfigured lifecycle node has no timer or
    traffic) takes to act on it. Like ``rclpy.spin`` it leaves the global executor alive.
    """
    executor = rclpy.get_global_executor()
    executor.add_node(node)
    try:
        while executor.context.ok():
            executor.spin_once(timeout_sec=0.5)
    finally:
        executor.remove_node(node)


def main(args: list[str] | None = None) -> int:
    """Run the node until Ctrl-C or shutdown; exit status 1 on a configuration error."""
    init_node_process(args)
    node = None
    try:
        node = DepthNode()
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, RuntimeError, OSError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        rclpy.logging.get_logger("depth_node").fatal(f"cannot start: {message}")
        return 1
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
