"""The depth node's machinery: the frame processor wired to topics, threads and diagnostics.

The per-frame work is the ROS-free :class:`~s2r_depth_ros.pipeline.FrameProcessor`. Frames
go from the subscription callback to the inference workers through a one-frame slot, so the
node always works on the newest frame and latency cannot build up; a publishing thread
sends the outputs, in frame order, while the workers infer the next frames.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
from diagnostic_msgs.msg import DiagnosticArray
from rcl_interfaces.msg import SetParametersResult
from rclpy.node import Node
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

from ..errors import first_line
from ..inference import open_estimator
from ..inference.estimator import resolve_backend, resolve_device
from ..pipeline import DepthFrame, FrameProcessor, ImageFormatError, SparseInputs, image_to_depth
from ..pipeline.frame_gaps import FrameGapCounter
from ..scale import mount_from_transform
from .conversions import (
    PointCloudBuilder,
    bgr_to_msg,
    camera_info_from_intrinsics,
    depth_to_msg,
    intrinsics_from_camera_info,
    points_from_cloud,
    scaled_camera_info,
    stamp_ns,
)
from .diagnostics import NodeStats, depth_status
from .frame_slot import LatestFrameSlot
from .settings import LIVE_PARAMETERS, SETTING_NAMES, NodeSettings, SettingsError
from .transforms import TransformLookup, pose_parameter

THROTTLE_S = 5.0


class DepthRuntime:
    """The depth node's machinery, attached to a plain or a lifecycle node.

    Construction loads the model and creates the publishers (with ``make_publisher``:
    ``create_publisher`` or ``create_lifecycle_publisher``); :meth:`start` and :meth:`stop`
    add and remove the subscriptions, the diagnostics timer and the threads.
    """

    def __init__(self, node: Node, settings: NodeSettings, make_publisher) -> None:
        self.node, self.settings, s = node, settings, settings
        log = node.get_logger()
        unknown = NodeSettings.unknown_parameters(node)
        if unknown:
            log.warning(f"unknown parameter(s) {', '.join(unknown)}: ignored (a typo? the "
                        "parameters are listed in config/params.yaml)")
        device = resolve_device(s.device)
        self.workers, threads = s.parallelism(device.type, resolve_backend(s.backend, device),
                                              len(os.sched_getaffinity(0)))
        estimator = open_estimator(
            s.model or None, s.official_dir or None, s.domain, device=s.device,
            precision=s.precision, resize=s.resize, backend=s.backend, threads=threads,
            input_size=(s.input_height, s.input_width) if s.input_height else None,
            input_aspect=s.input_aspect, workers=self.workers,
            spin_wait=False)  # the publishing thread needs the CPU
        if estimator.fallback_reason:
            log.warning(f"backend auto: {estimator.fallback_reason}; running eager PyTorch")
        cfg = estimator.config
        # First-call costs (allocation, compilation) are paid before serving; a camera of
        # another aspect pays them again on its first frame (network_size).
        estimator.predict(np.zeros((cfg.input_height, cfg.input_width, 3), np.uint8))
        aspects = ("" if cfg.aspect_range is None
                   else f", trained on aspects {cfg.aspect_range[0]:g}-{cfg.aspect_range[1]:g}")
        log.info(f"model {cfg.name} ({cfg.input_height}x{cfg.input_width}{aspects}, "
                 f"input_aspect {s.input_aspect}, max depth "
                 f"{cfg.max_depth} m) on {estimator.device} with {estimator.backend} "
                 f"{estimator.precision}, "
                 f"{self.workers} worker(s) x {threads} thread(s), {estimator.resize} resize")
        self.processor = FrameProcessor(estimator, s.frame_settings(), s.scale_corrector(),
                                        s.ground_normal())
        if s.scale_mode != "none":
            log.info(f"metric scale: {s.scale_mode}"
                     + (f", camera {s.camera_height} m above the ground" if s.camera_height
                        else "") + (f", mount from TF ({s.base_frame})" if s.base_frame else "")
                     + (", sparse depth on 'sparse_depth' and 'sparse_points'"
                        if s.scale_mode in ("sparse", "auto") else ""))
        camera_from_lidar = pose_parameter(s.sparse_points_transform)
        wants_tf = s.scale_mode != "none" and (s.base_frame or (
            s.scale_mode in ("sparse", "auto") and camera_from_lidar is None))
        self.transforms = TransformLookup(node) if wants_tf else None
        if self.transforms is not None and not self.transforms.available:
            unused = ([f"base_frame '{s.base_frame}' is not used (camera_height and the mount "
                       "parameters are)"] if s.base_frame else []) + (
                ["'sparse_points' clouds need sparse_points_transform"]
                if camera_from_lidar is None and s.scale_mode != "ground" else [])
            log.warning("tf2_ros is not installed, so TF is not read: " + "; ".join(unused))
        self.sparse = SparseInputs(s.sparse_max_age, camera_from_lidar,
                                   self.transforms.lookup if self.transforms else None)

        qos = s.output_qos()
        self.depth_pub = make_publisher(Image, "depth/image", qos)
        self.info_pub = make_publisher(CameraInfo, "depth/camera_info", qos)
        self.points_pub = make_publisher(PointCloud2, "depth/points", qos) if (
            s.publish_points) else None
        self.colour_pub = make_publisher(Image, "depth/colorized", qos)
        self.diag_pub = make_publisher(DiagnosticArray, "/diagnostics", 10)
        self.publishers = [p for p in (self.depth_pub, self.info_pub, self.points_pub,
                                       self.colour_pub, self.diag_pub) if p is not None]
        self.cloud_builder = PointCloudBuilder()  # the publishing thread's
        self.camera_info: CameraInfo | None = None
        self.stats = NodeStats()
        # The network's input size for the latest camera image size (diagnostics, one log).
        self.network_size: tuple[int, int] | None = None
        self.gaps = FrameGapCounter()
        self._reported_missing = 0
        self._entities: list = []
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()

    def start(self) -> None:
        """Subscribe; start the diagnostics timer, the inference workers and the publisher."""
        node, s = self.node, self.settings
        if s.input_transport == "compressed":
            image_sub = node.create_subscription(
                CompressedImage, node.resolve_topic_name("image") + "/compressed",
                self.on_image, s.input_qos())
        else:
            image_sub = node.create_subscription(Image, "image", self.on_image, s.input_qos())
        # Camera drivers publish camera_info best-effort or reliable; best-effort takes both.
        info_sub = node.create_subscription(
            CameraInfo, "camera_info", self.on_camera_info,
            QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=5,
                       reliability=ReliabilityPolicy.BEST_EFFORT))
        self._entities = [image_sub, info_sub,
                          node.create_timer(s.diagnostics_period, self.publish_diagnostics)]
        if s.scale_mode in ("sparse", "auto"):
            sensor_qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=2,
                                    reliability=ReliabilityPolicy.BEST_EFFORT)
            self._entities += [
                node.create_subscription(Image, "sparse_depth", self.on_sparse_depth,
                                         sensor_qos),
                node.create_subscription(PointCloud2, "sparse_points", self.on_sparse_points,
                                         sensor_qos)]
        self.slot, self.results = LatestFrameSlot(), LatestFrameSlot()
        self._stop.clear()
        self._last_published, self._next_start = -1, 0.0
        self._rate_lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run_inference, name=f"s2r_inference{i}",
                                          daemon=True) for i in range(self.workers)]
        self._threads.append(threading.Thread(target=self._run_publisher, name="s2r_publish",
                                              daemon=True))
        for thread in self._threads:
            thread.start()
        # The resolved names: a remap that missed the camera shows here.
        node.get_logger().info(f"listening on {image_sub.topic_name} and {info_sub.topic_name}")

    def stop(self) -> None:
        """Unsubscribe and stop the threads (the publishers stay)."""
        for entity in self._entities:
            if hasattr(entity, "cancel"):
                entity.cancel()
                self.node.destroy_timer(entity)
            else:
                self.node.destroy_subscription(entity)
        self._entities = []
        self._stop.set()
        if self._threads:
            self.slot.close()
            self.results.close()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._threads = []

    # ---- callbacks (executor thread): cheap, never block ----
    def on_image(self, msg: Image | CompressedImage) -> None:
        self.stats.received += 1
        stamp = stamp_ns(msg)
        missing = self.gaps.observe(stamp)
        if missing:
            self.stats.missing_upstream += missing
            self.node.get_logger().warning(
                f"{missing} frame(s) missing before stamp {stamp / 1e9:.3f} s ("
                f"{self.stats.missing_upstream} in all): the transport loses images (README, "
                "Transport)", throttle_duration_sec=THROTTLE_S)
        self.slot.put((self.stats.received, msg))

    def on_camera_info(self, msg: CameraInfo) -> None:
        try:
            intrinsics_from_camera_info(msg)
        except ImageFormatError as exc:
            self.node.get_logger().error(f"ignoring camera_info: {exc}",
                                         throttle_duration_sec=THROTTLE_S)
            return
        self.camera_info = msg

    def on_sparse_depth(self, msg: Image) -> None:
        try:
            metres = image_to_depth(msg)
        except ImageFormatError as exc:
            self.node.get_logger().error(f"ignoring sparse depth: {exc}",
                                         throttle_duration_sec=THROTTLE_S)
            return
        self.sparse.put_depth(stamp_ns(msg), metres)

    def on_sparse_points(self, msg: PointCloud2) -> None:
        try:
            points = points_from_cloud(msg)
        except ImageFormatError as exc:
            self.node.get_logger().error(f"ignoring sparse points: {exc}",
                                         throttle_duration_sec=THROTTLE_S)
            return
        self.sparse.put_points(stamp_ns(msg), msg.header.frame_id, points)

    def _update_mount(self, frame_id: str, stamp: int) -> None:
        """Camera height and ground direction from TF (base_frame to the image's frame)."""
        if self.transforms is None or not self.settings.base_frame:
            return
        transform = self.transforms.lookup(self.settings.base_frame, frame_id, stamp)
        if transform is None:
            return  # camera_height and the mount parameters stay in use
        height, down = mount_from_transform(transform)
        if height <= 0:
            self.node.get_logger().warning(
                f"TF puts '{frame_id}' {height:.2f} m above '{self.settings.base_frame}': not "
                "a camera above the ground; ignored", throttle_duration_sec=THROTTLE_S)
            return
        self.processor.gravity = down
        self.processor.corrector.set_camera_height(height)

    # ---- threads ----
    def _run_inference(self) -> None:
        while not self._stop.is_set():
            if self.settings.max_rate_hz > 0:
                self._wait_for_turn()
            frame = self.slot.take(timeout=0.2)
            if frame is None:
                continue
            try:
                result = self.infer(*frame)
            except Exception as exc:  # keep serving whatever one frame did
                self.stats.bad += 1
                what = "skipping frame" if isinstance(exc, ImageFormatError) else (
                    f"frame failed: {type(exc).__name__}")
                self.node.get_logger().error(f"{what}: {first_line(exc)}",
                                             throttle_duration_sec=THROTTLE_S)
                continue
            if result is not None:
                self.results.put(result)

    def _run_publisher(self) -> None:
        while not self._stop.is_set():
            result = self.results.take(timeout=0.2)
            if result is None:
                continue
            if result[0] < self._last_published:
                # Another worker already published a newer frame: never go back in time.
                self.stats.out_of_order += 1
                continue
            self._last_published = result[0]
            try:
                self.publish(*result)
            except Exception as exc:  # a failed publish must not stop the node
                self.node.get_logger().error(
                    f"publishing failed: {type(exc).__name__}: {first_line(exc)}",
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

    def infer(self, sequence: int, msg: Image | CompressedImage):
        """Run the frame processor on one message; None when nothing is to be published.

        Returns (sequence, header, frame, the source camera_info, wanted outputs).
        """
        s = self.settings
        wanted = tuple(self._wanted(p) for p in (self.depth_pub, self.info_pub,
                                                 self.points_pub, self.colour_pub))
        if not any(wanted):
            self.stats.skipped_no_subscribers += 1
            return None
        info = self.camera_info
        if info is None and s.camera_info_policy != "assume_fov":
            if s.camera_info_policy == "require":
                self.stats.skipped_no_camera_info += 1
                self.node.get_logger().warning("no valid camera_info yet: dropping frames (policy "
                                            "'require')", throttle_duration_sec=THROTTLE_S)
                return None
            # A camera-aware model's metres need the focal length: say what they assume.
            canonical = self.processor.estimator.config.canonical_focal
            assumed = ("" if canonical is None else f"; metres assume the model's canonical "
                       f"camera (focal {canonical:g} px at the input size it was "
                       f"trained at)")
            self.node.get_logger().warning("no valid camera_info yet: publishing depth without "
                                           f"camera_info and points{assumed}",
                                           throttle_duration_sec=THROTTLE_S)
        camera = intrinsics_from_camera_info(info) if info is not None else None
        stamp = stamp_ns(msg)
        sparse = None
        if s.scale_mode != "none":
            self._update_mount(msg.header.frame_id, stamp)
            if s.scale_mode in ("sparse", "auto"):
                sparse, problem = self.sparse.for_frame(stamp, msg.header.frame_id, camera)
                if problem:
                    self.node.get_logger().warning(problem, throttle_duration_sec=THROTTLE_S)
        frame = self.processor.process_message(msg, camera, wanted[2] and s.points_rgb, sparse)
        height, width = frame.input_size
        network_size = self.processor.estimator.network_size((height, width))
        if network_size != self.network_size:
            self.network_size = network_size
            self.node.get_logger().info(
                f"{width}x{height} images: the network runs at {network_size[0]}x"
                f"{network_size[1]} (input_aspect {s.input_aspect}); this first frame took "
                f"{frame.inference_ms:.0f} ms")
        if camera is not None and (camera.width, camera.height) != (width, height):
            self.node.get_logger().warning(
                f"camera_info is {camera.width}x{camera.height} but the image is {width}x"
                f"{height}: scaling the intrinsics", throttle_duration_sec=THROTTLE_S)
        return sequence, msg.header, frame, info, wanted

    def publish(self, sequence: int, header, frame: DepthFrame, info: CameraInfo | None,
                wanted: tuple[bool, bool, bool, bool]) -> None:
        """Build and publish every wanted output of one frame."""
        started = time.perf_counter()
        want_depth, want_info, want_points, want_colour = wanted
        if want_depth:
            self.depth_pub.publish(depth_to_msg(frame.depth, header))
        if want_colour:
            self.colour_pub.publish(bgr_to_msg(self.processor.colorized(frame), header))
        if frame.intrinsics is not None:
            if want_info:
                height, width = frame.depth.shape
                self.info_pub.publish(
                    scaled_camera_info(info, width, height, header) if info is not None
                    else camera_info_from_intrinsics(frame.intrinsics, header))
            if want_points:
                self.points_pub.publish(self.cloud_builder.build(
                    frame.depth, frame.intrinsics, header, self.settings.points_stride,
                    frame.cloud_rgb))
        st = self.stats
        st.scale = frame.scale
        st.processed += 1
        st.processed_times.append(time.monotonic())
        st.inference_ms.append(frame.inference_ms)
        st.outputs_ms.append((time.perf_counter() - started) * 1000.0)
        stamp = header.stamp.sec * 1_000_000_000 + header.stamp.nanosec
        if stamp > 0:
            st.latency_ms.append((self.node.get_clock().now().nanoseconds - stamp) / 1e6)

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
        self.processor.settings = self.settings.frame_settings()
        if changes:
            self.node.get_logger().info(f"parameters updated: {changes}")
        return SetParametersResult(successful=True)

    def publish_diagnostics(self) -> None:
        missing = self.stats.missing_upstream - self._reported_missing
        self._reported_missing = self.stats.missing_upstream
        status = depth_status(self.node.get_name(), str(self.processor.estimator.device),
                              self.stats, {
                                  "frames_dropped": self.slot.dropped,
                                  "results_dropped": self.results.dropped
                                  + self.stats.out_of_order,
                                  "inference_workers": self.workers,
                                  "network_input": "x".join(map(str, self.network_size or ())),
                                  "camera_info_received": self.camera_info is not None},
                              recent_missing=missing, in_flight=1 + self.workers)
        array = DiagnosticArray(status=[status])
        array.header.stamp = self.node.get_clock().now().to_msg()
        self.diag_pub.publish(array)
