"""The model under each metric-scale mode, as evaluation methods, and the scale jitter.

Methods (beside the plain ``model``, whose raw metrics are scale mode ``none``):
``model+ground`` (ground-plane scale from the camera height), ``model+sparse`` (a fraction
of the ground-truth pixels given as sparse metric depth), and on sequences (frames with
stamps, ``eval-bag``) the same with temporal smoothing, ``model+ground+smooth`` and
``model+sparse+smooth``. Their raw metrics are what a robot gets without ground truth;
their median-scaled metrics equal the plain model's. All methods share one network call
per frame.

Jitter: the std of log(s_t / s_t-1) over consecutive frames' median scales against ground
truth (``FrameResult.scale``), per method; 0 means the scale error does not move. Beside it,
each variant's ``factor_jitter``: the same figure for the correction factors it applied.
"""

from __future__ import annotations

import argparse
import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from ..scale import ScaleCorrector, gravity_from_pitch_roll, scale_jitter
from .metrics import Protocol
from .runner import DepthMethod, Evaluation, Frame, model_method

SCALE_MODES = ("none", "ground", "sparse")


@dataclass
class ScaleEvalConfig:
    """What the scale modes are evaluated with."""

    modes: tuple[str, ...] = ("none",)
    # Camera height per group ("" = every group); frames of other groups get no ground scale.
    camera_heights: dict[str, float] = field(default_factory=dict)
    # Ground normal from the camera's mount: pitch/roll in degrees (None: unknown).
    pitch_deg: float | None = None
    roll_deg: float = 0.0
    sparse_fraction: float = 0.01
    smoothing: bool = False

    def height_for(self, group: str) -> float | None:
        """The camera height of a group's frames, if known."""
        return self.camera_heights.get(group, self.camera_heights.get(""))


class _SharedPrediction:
    """One network call per frame, shared by every method that corrects the same output."""

    def __init__(self, estimator) -> None:
        self._predict = model_method(estimator)
        # The frame itself, not its id: a freed frame's id can come back for the next one.
        self._frame: Frame | None = None
        self._depth: np.ndarray | None = None

    def __call__(self, frame: Frame) -> np.ndarray:
        if self._frame is not frame:
            self._depth = self._predict(frame, None)  # the protocol plays no part
            self._frame = frame
        return self._depth


def sample_sparse(gt: np.ndarray, protocol: Protocol, fraction: float, seed: str) -> np.ndarray:
    """``fraction`` of the valid ground-truth pixels (in range, any crop) as a sparse map.

    The pixels are drawn at random, reproducibly per ``seed`` (the frame's name).
    """
    with np.errstate(invalid="ignore"):
        valid = np.flatnonzero(np.isfinite(gt) & (gt > protocol.min_depth)
                               & (gt < protocol.max_depth))
    rng = np.random.default_rng(zlib.crc32(seed.encode()))
    count = int(round(fraction * len(valid)))
    chosen = rng.choice(valid, count, replace=False) if count else valid[:0]
    sparse = np.full(gt.shape, np.nan, np.float32)
    sparse.flat[chosen] = gt.flat[chosen]
    return sparse


class ScaledModel:
    """The model corrected by a :class:`ScaleCorrector` per group (one stream per group)."""

    def __init__(self, predict: _SharedPrediction, mode: str, config: ScaleEvalConfig,
                 smoothing: bool) -> None:
        self.predict, self.mode, self.config, self.smoothing = predict, mode, config, smoothing
        self.correctors: dict[str, ScaleCorrector | None] = {}
        self.estimated = 0
        self.refused: dict[str, int] = {}
        # The factors applied, per group, in frame order (for the factor jitter).
        self.factors: dict[str, list[float]] = {}
        self._time = 0.0

    def _corrector(self, group: str) -> ScaleCorrector | None:
        if group not in self.correctors:
            height = self.config.height_for(group)
            self.correctors[group] = None if self.mode == "ground" and height is None else \
                ScaleCorrector(self.mode, height, smoothing=self.smoothing)
        return self.correctors[group]

    def __call__(self, frame: Frame, protocol: Protocol) -> np.ndarray:
        depth = self.predict(frame)
        corrector = self._corrector(frame.group)
        if corrector is None:
            self.refused["no camera height for this group"] = \
                self.refused.get("no camera height for this group", 0) + 1
            return depth
        sparse = None
        if self.mode == "sparse":
            sparse = sample_sparse(frame.gt, protocol, self.config.sparse_fraction, frame.name)
        gravity = None
        if self.config.pitch_deg is not None:
            gravity = gravity_from_pitch_roll(math.radians(self.config.pitch_deg),
                                              math.radians(self.config.roll_deg))
        # Frames without stamps (folders, the manifest) are taken one second apart.
        self._time = frame.stamp_ns * 1e-9 if frame.stamp_ns is not None else self._time + 1.0
        result = corrector.update(depth, frame.camera_at_gt(), self._time, sparse, gravity)
        if result.source != "none":
            self.factors.setdefault(frame.group, []).append(result.scale)
        if result.measured is not None:
            self.estimated += 1
        else:
            self.refused[result.reason] = self.refused.get(result.reason, 0) + 1
        return result.apply(depth)

    def summary(self) -> dict:
        """How many frames had an estimate, and why the others had none."""
        return {"mode": self.mode, "smoothing": self.smoothing, "frames_estimated":
                self.estimated, "frames_without_estimate": dict(self.refused),
                # Std of log(f_t / f_t-1) of the factors applied (what /diagnostics shows).
                "factor_jitter": {group: scale_jitter(values)
                                  for group, values in self.factors.items()}}


def scale_methods(estimator, config: ScaleEvalConfig) -> tuple[dict[str, DepthMethod],
                                                                 dict[str, ScaledModel]]:
    """The model (mode none) and its scale-mode variants, sharing one prediction per frame."""
    predict = _SharedPrediction(estimator)
    methods: dict[str, DepthMethod] = {"model": lambda frame, protocol: predict(frame)}
    scaled: dict[str, ScaledModel] = {}
    for mode in config.modes:
        if mode == "none":
            continue
        variants = [(f"model+{mode}", False)]
        if config.smoothing:
            variants.append((f"model+{mode}+smooth", True))
        for name, smoothing in variants:
            scaled[name] = methods[name] = ScaledModel(predict, mode, config, smoothing)
    return methods, scaled


def sequence_jitter(evaluation: Evaluation) -> dict[str, dict[str, float]]:
    """Group -> method -> jitter of the median scales over the frames in scoring order."""
    scales: dict[str, dict[str, list[float]]] = {}
    for row in evaluation.rows:
        scales.setdefault(row.group, {}).setdefault(row.method, []).append(row.result.scale)
    return {group: {method: scale_jitter(values) for method, values in methods.items()}
            for group, methods in scales.items()}


def scale_report(evaluation: Evaluation, scaled: dict[str, ScaledModel],
                 config: ScaleEvalConfig, sequences: bool) -> dict:
    """The scale section of metrics.json: raw vs median-scaled abs_rel per mode, jitter."""
    report: dict = {"modes": list(config.modes), "camera_heights": config.camera_heights,
                    "pitch_deg": config.pitch_deg, "roll_deg": config.roll_deg,
                    "sparse_fraction": config.sparse_fraction,
                    "methods": {name: method.summary() for name, method in scaled.items()}}
    report["abs_rel"] = {group: {method: {"raw": s.raw.abs_rel, "median_scaled":
                                          s.scaled.abs_rel}
                                 for method, s in methods.items()
                                 if method == "model" or method in scaled}
                         for group, methods in evaluation.summaries().items()}
    if sequences:
        report["jitter"] = {group: {m: v for m, v in methods.items()
                                    if m == "model" or m in scaled}
                            for group, methods in sequence_jitter(evaluation).items()}
    return report


def scale_table(report: dict) -> str:
    """Text lines: raw and median-scaled abs_rel per scale mode, and jitter on sequences."""
    lines = [f"{'group':<9}{'method':<22}{'raw_absrel':>11}{'med_absrel':>11}"
             + (f"{'jitter':>9}" if "jitter" in report else "")]
    for group, methods in report["abs_rel"].items():
        for method, values in methods.items():
            line = f"{group:<9}{method:<22}{values['raw']:>11.4f}{values['median_scaled']:>11.4f}"
            if "jitter" in report:
                line += f"{report['jitter'].get(group, {}).get(method, float('nan')):>9.4f}"
            lines.append(line)
    return "\n".join(lines)


def _camera_heights(values: list[str] | None) -> dict[str, float]:
    heights: dict[str, float] = {}
    for value in values or []:
        group, _, number = value.rpartition("=")
        try:
            height = float(number)
        except ValueError:
            raise ValueError(f"--camera-height {value!r}: expected M or GROUP=M") from None
        if not (math.isfinite(height) and height > 0):
            raise ValueError(f"--camera-height {value!r}: the height must be positive")
        heights[group] = height
    return heights


def add_scale_arguments(parser: argparse.ArgumentParser, sequences: bool) -> None:
    """The scale-mode options of `eval` and `eval-bag`."""
    group = parser.add_argument_group("metric scale")
    group.add_argument("--scale-modes", default="none",
                       help="comma-separated scale modes to score the model in: none, ground, "
                       "sparse (default none); raw metrics of each beside the median-scaled")
    group.add_argument("--camera-height", action="append", metavar="[GROUP=]M",
                       help="camera height above the ground in metres for the ground mode; "
                       "GROUP=M sets it for one protocol group (e.g. outdoor=1.65), "
                       "repeatable; groups without one get no ground scale")
    group.add_argument("--camera-pitch", type=float, metavar="DEG",
                       help="camera pitch in degrees, positive looking down (from the "
                       "mount): the ground normal is then known; default unknown")
    group.add_argument("--camera-roll", type=float, default=0.0, metavar="DEG",
                       help="camera roll in degrees, with --camera-pitch (default 0)")
    group.add_argument("--sparse-fraction", type=float, default=0.01,
                       help="share of the valid GT pixels given as sparse depth in the sparse "
                       "mode (default 0.01)")
    if sequences:
        group.add_argument("--no-smoothing", action="store_true",
                           help="do not add the temporally smoothed variants (+smooth)")


def scale_config_from_args(args: argparse.Namespace, sequences: bool) -> ScaleEvalConfig:
    """Validated :class:`ScaleEvalConfig` from the scale options."""
    modes = tuple(m.strip() for m in args.scale_modes.split(",") if m.strip())
    unknown = [m for m in modes if m not in SCALE_MODES]
    if unknown or not modes:
        raise ValueError(f"--scale-modes: unknown mode(s) {unknown}; choose from "
                         f"{', '.join(SCALE_MODES)}")
    heights = _camera_heights(args.camera_height)
    if "ground" in modes and not heights:
        raise ValueError("--scale-modes ground needs --camera-height")
    if not 0 < args.sparse_fraction <= 1:
        raise ValueError(f"--sparse-fraction must be in (0, 1], got {args.sparse_fraction}")
    return ScaleEvalConfig(modes=modes, camera_heights=heights, pitch_deg=args.camera_pitch,
                           roll_deg=args.camera_roll, sparse_fraction=args.sparse_fraction,
                           smoothing=sequences and not args.no_smoothing)
