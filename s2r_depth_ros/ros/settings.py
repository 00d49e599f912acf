"""The depth node's parameters: declaration with descriptions, and validation in one place."""

from __future__ import annotations

import array
import math
from dataclasses import Field, dataclass, fields, replace

import numpy as np
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.node import Node
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

from ..inference.colorize import COLORMAPS
from ..inference.estimator import BACKENDS, INPUT_ASPECTS, PRECISIONS
from ..inference.resize import RESIZES
from ..pipeline import FrameSettings
from ..scale import MODES as SCALE_MODES
from ..scale import ScaleCorrector, gravity_from_pitch_roll
from .transforms import pose_parameter

CAMERA_INFO_POLICIES = ("geometry_when_available", "require", "assume_fov")
RELIABILITIES = {"best_effort": ReliabilityPolicy.BEST_EFFORT,
                 "reliable": ReliabilityPolicy.RELIABLE}


class SettingsError(ValueError):
    """A parameter value is not acceptable; the message names the parameter."""


# Parameters a running node applies from its next frame on (`ros2 param set`); the others
# (model, device, QoS, publishers, threads) take effect only when the node starts.
LIVE_PARAMETERS = frozenset({
    "max_depth", "output_resolution", "camera_info_policy", "assumed_hfov_deg", "points_rgb",
    "points_stride", "colormap", "colorize_min_depth", "colorize_max_depth", "lazy",
    "max_rate_hz", "border_margin"})


@dataclass(frozen=True)
class NodeSettings:
    """Validated node parameters (defaults mirror config/params.yaml)."""

    model: str = "outdoor"
    official_dir: str = ""
    domain: str = "vkitti"
    device: str = "auto"
    precision: str = "auto"
    resize: str = "fast"
    backend: str = "auto"
    threads: int = 0
    inference_workers: int = 0
    input_height: int = 0
    input_width: int = 0
    input_aspect: str = "auto"
    max_depth: float = 0.0
    border_margin: int = 0
    output_resolution: str = "input"
    input_transport: str = "raw"
    camera_info_policy: str = "geometry_when_available"
    assumed_hfov_deg: float = 90.0
    publish_points: bool = True
    points_rgb: bool = True
    points_stride: int = 1
    colormap: str = "turbo"
    colorize_min_depth: float = 0.0
    colorize_max_depth: float = 0.0
    lazy: bool = True
    max_rate_hz: float = 0.0
    input_reliability: str = "best_effort"
    output_reliability: str = "reliable"
    output_depth: int = 2
    diagnostics_period: float = 1.0
    scale_mode: str = "none"
    camera_height: float = 0.0
    mount_orientation_known: bool = False
    camera_pitch_deg: float = 0.0
    camera_roll_deg: float = 0.0
    scale_smoothing: bool = True
    scale_hold_timeout: float = 2.0
    sparse_max_age: float = 0.05
    # The LiDAR frame's pose in the image's frame, [x, y, z, qx, qy, qz, qw] (camera from
    # lidar); () = from TF between the cloud's and the image's frame_id (needs tf2_ros).
    sparse_points_transform: tuple = ()
    # A frame on the ground, z up (base_footprint): with TF, the camera's height above it
    # and its orientation replace camera_height and the mount's pitch and roll.
    base_frame: str = ""

    def __post_init__(self) -> None:
        checks = [
            (self.domain in ("vkitti", "suncg"), "domain", "vkitti or suncg"),
            (self.backend in BACKENDS, "backend", " | ".join(BACKENDS)),
            (self.precision in PRECISIONS, "precision", " | ".join(PRECISIONS)),
            (self.resize in RESIZES, "resize", " | ".join(RESIZES)),
            (self.threads >= 0, "threads", ">= 0"),
            (0 <= self.inference_workers <= 8, "inference_workers", "in [0, 8]"),
            ((self.input_height == 0) == (self.input_width == 0), "input_height/input_width",
             "both 0 or both set"),
            (self.input_height % 16 == 0 and self.input_width % 16 == 0,
             "input_height/input_width", "multiples of 16"),
            (self.input_height == 0 or min(self.input_height, self.input_width) >= 96,
             "input_height/input_width", "at least 96"),
            (self.input_aspect in INPUT_ASPECTS, "input_aspect", " | ".join(INPUT_ASPECTS)),
            (self.max_depth >= 0, "max_depth", ">= 0"),
            (0 <= self.border_margin <= 32, "border_margin", "in [0, 32]"),
            (self.output_resolution in ("input", "model"), "output_resolution",
             "input or model"),
            (self.input_transport in ("raw", "compressed"), "input_transport",
             "raw or compressed"),
            (self.camera_info_policy in CAMERA_INFO_POLICIES, "camera_info_policy",
             " | ".join(CAMERA_INFO_POLICIES)),
            (0 < self.assumed_hfov_deg < 180, "assumed_hfov_deg", "in (0, 180)"),
            (1 <= self.points_stride <= 64, "points_stride", "in [1, 64]"),
            (self.colormap in COLORMAPS, "colormap", " | ".join(sorted(COLORMAPS))),
            (self.colorize_min_depth >= 0 and self.colorize_max_depth >= 0,
             "colorize_min_depth/colorize_max_depth", ">= 0"),
            (self.max_rate_hz >= 0, "max_rate_hz", ">= 0"),
            (self.input_reliability in RELIABILITIES, "input_reliability",
             "best_effort or reliable"),
            (self.output_reliability in RELIABILITIES, "output_reliability",
             "best_effort or reliable"),
            (1 <= self.output_depth <= 100, "output_depth", "in [1, 100]"),
            (self.diagnostics_period > 0, "diagnostics_period", "> 0"),
            (self.scale_mode in SCALE_MODES, "scale_mode", " | ".join(SCALE_MODES)),
            (0 <= self.camera_height <= 100, "camera_height", "metres in [0, 100] (0: unknown)"),
            (self.scale_mode != "ground" or self.camera_height > 0 or self.base_frame,
             "camera_height", "> 0 with scale_mode ground (or a base_frame for TF)"),
            (abs(self.camera_pitch_deg) < 90 and abs(self.camera_roll_deg) < 90,
             "camera_pitch_deg/camera_roll_deg", "in (-90, 90)"),
            (self.scale_hold_timeout >= 0, "scale_hold_timeout", ">= 0"),
            (self.sparse_max_age >= 0, "sparse_max_age", ">= 0"),
        ]
        for ok, name, expected in checks:
            if not ok:
                raise SettingsError(f"parameter {name}: expected {expected}")
        try:
            pose_parameter(self.sparse_points_transform)
        except ValueError as exc:
            raise SettingsError(f"parameter sparse_points_transform: {exc}") from None
        if not self.device == "auto" and not self.device == "cpu" and not self.device.startswith(
                "cuda"):
            raise SettingsError(f"parameter device: expected auto, cpu or cuda[:N], got "
                                f"{self.device!r}")

    @classmethod
    def declare(cls, node: Node) -> None:
        """Declare every parameter on ``node`` with its default."""
        for field in fields(cls):
            # Dynamic typing lets a YAML "1" reach a float parameter; types are checked in read.
            descriptor = ParameterDescriptor(description=field.name.replace("_", " "),
                                             dynamic_typing=True)
            default = list(field.default) if isinstance(field.default, tuple) else field.default
            node.declare_parameter(field.name, default, descriptor)

    @staticmethod
    def unknown_parameters(node: Node) -> list[str]:
        """Parameters given to ``node`` (params file, ``-p``) that it does not declare.

        A typo (``max_dpeth``) would otherwise be ignored without a word. rclpy keeps the
        given values in ``_parameter_overrides`` (Humble to Kilted; no public accessor);
        ``qos_overrides.*`` belong to rclpy's QoS overrides, not to the node.
        """
        given = getattr(node, "_parameter_overrides", {})
        return sorted(name for name in given if not node.has_parameter(name)
                      and not name.startswith("qos_overrides."))

    @classmethod
    def read(cls, node: Node) -> NodeSettings:
        """Read the declared parameters and validate them."""
        return cls(**{field.name: _typed(field, node.get_parameter(field.name).value)
                      for field in fields(cls)})

    def updated(self, changes: dict[str, object]) -> NodeSettings:
        """These settings with ``changes`` (parameter name -> value) applied and validated."""
        by_name = {field.name: field for field in fields(self)}
        return replace(self, **{name: _typed(by_name[name], value)
                                for name, value in changes.items()})

    def parallelism(self, device_type: str, backend: str, cores: int) -> tuple[int, int]:
        """(inference workers, intra-op threads per worker) after resolving the 0 defaults.

        ``backend`` is the resolved back-end. With eager PyTorch on a CPU, frames run in
        parallel on single-threaded workers: its small convolutions scale badly across
        intra-op threads (1.8x the frames/s on 2 cores, BENCHMARKS.md). OpenVINO and ONNX
        Runtime use the cores well within one frame, so one worker gives the same throughput
        at lower latency; on a GPU one worker feeds the device.
        """
        parallel = device_type == "cpu" and backend in ("eager", "compile")
        workers = self.inference_workers or (min(2, cores) if parallel else 1)
        threads = self.threads or max(1, cores // workers)
        return workers, threads

    def frame_settings(self) -> FrameSettings:
        """The per-frame part, for the frame processor."""
        return FrameSettings(**{f.name: getattr(self, f.name) for f in fields(FrameSettings)})

    def scale_corrector(self) -> ScaleCorrector | None:
        """The stream's metric-scale correction, or None with scale_mode none."""
        if self.scale_mode == "none":
            return None
        return ScaleCorrector(self.scale_mode, self.camera_height or None,
                              smoothing=self.scale_smoothing,
                              hold_timeout=self.scale_hold_timeout)

    def ground_normal(self) -> np.ndarray | None:
        """The ground's down direction in the optical frame of a fixed mount, else None."""
        if not self.mount_orientation_known:
            return None
        return gravity_from_pitch_roll(math.radians(self.camera_pitch_deg),
                                       math.radians(self.camera_roll_deg))

    def input_qos(self) -> QoSProfile:
        """Keep only the newest frame: stale frames are never queued."""
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1,
                          reliability=RELIABILITIES[self.input_reliability])

    def output_qos(self) -> QoSProfile:
        """Publisher QoS; reliable by default so rviz and reliable recorders connect."""
        return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=self.output_depth,
                          reliability=RELIABILITIES[self.output_reliability])


SETTING_NAMES = frozenset(field.name for field in fields(NodeSettings))


def _typed(field: Field, value: object) -> object:
    """``value`` as the field's type (an int is accepted for a float); else SettingsError."""
    if type(value) is type(field.default):
        return value
    if isinstance(field.default, float) and type(value) is int:
        return float(value)
    if isinstance(field.default, tuple):
        if value is None:  # an empty list in a params file arrives as an unset parameter
            return ()
        if isinstance(value, (list, tuple, array.array)) and all(
                type(v) in (int, float) for v in value):
            return tuple(float(v) for v in value)
    raise SettingsError(f"parameter {field.name}: expected {type(field.default).__name__}, got "
                        f"{value!r}")
