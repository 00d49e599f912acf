"""One camera frame in, depth and everything built from it out: no ROS in here.

The stages, in order (:meth:`FrameProcessor.process`):

1. camera: the intrinsics of the input image (camera_info's, scaled to the image, or an
   assumed field of view, or none);
2. infer: the network's metric depth at the output resolution, given the camera (a
   camera-aware model uses its focal length for metric scale);
3. saturation: pixels at the model's own cap (max depth x the frame's metric scale) are
   found before any correction changes the values;
4. validity: :meth:`FrameProcessor.mark_invalid`, per REP 117: the cap is +inf ("no return
   beyond range"), unreliable pixels (the image border) are NaN;
5. scale: the stream's :class:`~s2r_depth_ros.scale.ScaleCorrector` (ground plane, sparse
   depth, temporal smoothing) measures the frame's factor on the valid pixels and applies
   it; then the user's ``max_depth`` (in corrected metres) cuts to +inf.

The node (s2r_depth_ros/ros) only moves messages, threads and diagnostics around this.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import Intrinsics
from ..inference import colorize_depth
from ..scale import NO_SCALE, ScaleCorrector, ScaleResult
from .decode import decode_image

# Depth this close below the model's cap is the network saturating ("no return beyond
# range", REP 117), not a measured distance: 0.5 % is 79.6 m for an 80 m model.
SATURATION_MARGIN = 0.005


@dataclass(frozen=True)
class FrameSettings:
    """What the processor reads per frame (the node's live parameters of the same names)."""

    max_depth: float = 0.0  # beyond this: +inf; 0 = the model's own range
    output_resolution: str = "input"  # input | model
    camera_info_policy: str = "geometry_when_available"
    assumed_hfov_deg: float = 90.0
    border_margin: int = 0  # network-input pixels at each image side marked invalid
    colormap: str = "turbo"
    colorize_min_depth: float = 0.0  # 0 = the frame's own range
    colorize_max_depth: float = 0.0


@dataclass
class DepthFrame:
    """One frame's results as plain arrays."""

    depth: np.ndarray  # float32 metres at the output size; NaN invalid, +inf beyond range
    intrinsics: Intrinsics | None  # of ``depth``'s pixels; None without a camera
    input_size: tuple[int, int]  # (height, width) of the camera image
    cloud_rgb: np.ndarray | None  # uint8 RGB at the depth's size, for coloured points
    metric_scale: float  # the estimator's factor for this camera (1 for most models)
    inference_ms: float
    scale: ScaleResult = NO_SCALE  # the metric-scale correction applied to ``depth``


class FrameProcessor:
    """Runs the estimator on camera frames and turns its depth into the published arrays.

    ``settings`` may be replaced at any time (live parameters); a frame uses the settings
    it started with. ``corrector``: the stream's metric-scale correction (None: none);
    ``gravity``: the ground's downward normal in the camera optical frame for the ground
    plane (a fixed mount's pitch and roll), None to search it.
    Safe to call from several threads at once if the estimator is (the corrector, which
    keeps the stream's state, is updated under a lock).
    """

    def __init__(self, estimator, settings: FrameSettings | None = None,
                 corrector: ScaleCorrector | None = None,
                 gravity: np.ndarray | None = None) -> None:
        self.estimator = estimator
        self.settings = settings or FrameSettings()
        self.corrector = corrector
        self.gravity = gravity
        self._corrector_lock = threading.Lock()

    def camera(self, camera: Intrinsics | None, width: int, height: int
               ) -> Intrinsics | None:
        """Intrinsics of a ``width`` x ``height`` image, per the camera_info policy.

        ``camera`` is the camera_info's (any size: scaled to the image); without one the
        ``assume_fov`` policy assumes a centred pinhole, the others give None.
        """
        if camera is not None:
            if (camera.width, camera.height) != (width, height):
                camera = camera.scaled(width, height)
            return camera
        if self.settings.camera_info_policy == "assume_fov":
            return Intrinsics.from_fov(width, height, self.settings.assumed_hfov_deg)
        return None

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        """(height, width) of the depth for a camera image of that size."""
        if self.settings.output_resolution == "input":
            return height, width
        return self.estimator.network_size((height, width))

    def process_message(self, msg, camera: Intrinsics | None = None,
                        cloud_colours: bool = False, sparse: np.ndarray | None = None
                        ) -> DepthFrame:
        """:meth:`process` of an Image or CompressedImage message (ImageFormatError if bad)."""
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        return self.process(decode_image(msg), camera, cloud_colours, stamp, sparse)

    def process(self, rgb: np.ndarray, camera: Intrinsics | None = None,
                cloud_colours: bool = False, stamp: float = 0.0,
                sparse: np.ndarray | None = None) -> DepthFrame:
        """Depth for one uint8 RGB image; ``cloud_colours`` also gives the cloud's colours.

        ``stamp`` (seconds) and ``sparse`` (metric samples, any resolution, NaN where none)
        feed the scale correction.
        """
        s = self.settings
        height, width = rgb.shape[:2]
        intrinsics = self.camera(camera, width, height)
        out_size = self.output_size(height, width)

        started = time.perf_counter()
        depth = self.estimator.predict(rgb, output_size=out_size, intrinsics=intrinsics)
        inference_ms = (time.perf_counter() - started) * 1000.0

        metric_scale = self.estimator.metric_scale((height, width), intrinsics)
        cap = self.estimator.config.max_depth * metric_scale
        saturated = depth >= cap * (1.0 - SATURATION_MARGIN)
        self.mark_invalid(depth, saturated, s, *self.estimator.network_size((height, width)))
        if intrinsics is not None:
            intrinsics = intrinsics.scaled(out_size[1], out_size[0])
        scale = NO_SCALE
        if self.corrector is not None:
            with self._corrector_lock:
                scale = self.corrector.update(depth, intrinsics, stamp, sparse, self.gravity)
            depth = scale.apply(depth)
        if s.max_depth > 0:
            depth[depth > s.max_depth] = np.inf

        cloud_rgb = None
        if cloud_colours:
            cloud_rgb = rgb if out_size == (height, width) else cv2.resize(
                rgb, (out_size[1], out_size[0]), interpolation=cv2.INTER_AREA)
        return DepthFrame(depth, intrinsics, (height, width), cloud_rgb, metric_scale,
                          inference_ms, scale)

    @staticmethod
    def mark_invalid(depth: np.ndarray, saturated: np.ndarray, settings: FrameSettings,
                     net_height: int, net_width: int) -> None:
        """Mark pixels in place per REP 117.

        +inf: "no return beyond range": the network's saturation (found before any scale
        correction, so a factor cannot make it look like a measurement). NaN: no valid
        measurement: ``border_margin`` network-input pixels at each side of the image,
        scaled to the depth's resolution (for a model that predicts its border badly:
        benchmarks/border_margin.py measures it).
        """
        depth[saturated] = np.inf
        if settings.border_margin:
            height, width = depth.shape
            rows = round(settings.border_margin * height / net_height)
            cols = round(settings.border_margin * width / net_width)
            depth[:rows], depth[height - rows:] = np.nan, np.nan
            depth[:, :cols], depth[:, width - cols:] = np.nan, np.nan

    def colorized(self, frame: DepthFrame) -> np.ndarray:
        """The colourised depth (BGR uint8) for viewers."""
        s = self.settings
        return colorize_depth(frame.depth, s.colorize_min_depth or None,
                              s.colorize_max_depth or None, s.colormap)
