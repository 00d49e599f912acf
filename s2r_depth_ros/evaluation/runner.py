"""One evaluation engine for folders, the real-frame manifest and bags.

Frames go in one at a time (:meth:`Evaluation.add`); every method (the model, the baselines)
predicts depth at the ground truth's resolution and is scored with :mod:`.metrics`. At the end
:meth:`Evaluation.write` produces ``metrics.json``, ``frames.csv`` and ``report.html``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..geometry import Intrinsics
from ..inference.colorize import colorize_depth, colour_bar
from .baselines import baseline_depth
from .metrics import (
    METRIC_NAMES,
    ErrorByDistance,
    FrameResult,
    Protocol,
    Summary,
    score_frame,
    summarize,
    valid_mask,
)
from .report import THUMB_WIDTH, thumbnail


@dataclass
class Frame:
    """One RGB image with metric ground truth (NaN or <= 0 where there is none)."""

    name: str
    rgb: np.ndarray
    gt: np.ndarray
    group: str
    camera: Intrinsics | None = None
    stamp_ns: int | None = None

    def camera_at_image(self) -> Intrinsics | None:
        """Intrinsics for the RGB image's pixel grid (None when the camera is unknown)."""
        if self.camera is None:
            return None
        return self.camera.scaled(self.rgb.shape[1], self.rgb.shape[0])

    def camera_at_gt(self) -> Intrinsics:
        """Intrinsics for the ground truth's pixel grid (scaled if the camera's size differs)."""
        gt_h, gt_w = self.gt.shape
        if self.camera is None:
            return Intrinsics.guess(gt_w, gt_h)
        return self.camera.scaled(gt_w, gt_h)


# A method maps (frame, protocol) to an H x W float32 depth map at the ground truth's size.
DepthMethod = Callable[[Frame, Protocol], np.ndarray]


def model_method(estimator) -> DepthMethod:
    """The network through a :class:`~s2r_depth_ros.inference.DepthEstimator`."""
    def predict(frame: Frame, protocol: Protocol) -> np.ndarray:
        # The camera reaches camera-aware models (their metres depend on the focal length).
        return estimator.predict(frame.rgb, output_size=frame.gt.shape,
                                 intrinsics=frame.camera_at_image())
    return predict


def baseline_method(name: str) -> DepthMethod:
    """One of :data:`~.baselines.BASELINES`."""
    def predict(frame: Frame, protocol: Protocol) -> np.ndarray:
        height, width = frame.gt.shape
        return baseline_depth(name, height, width, frame.camera_at_gt(), protocol)
    return predict


@dataclass(frozen=True)
class FrameRow:
    """One (frame, method) score."""

    group: str
    frame: str
    method: str
    result: FrameResult
    stamp_ns: int | None = None


@dataclass
class GroupState:
    """What is accumulated for one protocol group."""

    protocol: Protocol
    results: dict[str, list[FrameResult]] = field(default_factory=dict)
    by_distance: dict[str, ErrorByDistance] = field(default_factory=dict)
    frames: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    thumbnails: list[dict] = field(default_factory=list)


def error_image(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                limit: float = 0.5) -> np.ndarray:
    """BGR map of |pred - gt| / gt on valid pixels (0 blue .. ``limit`` or more red)."""
    rel = np.zeros(gt.shape, np.float32)
    rel[mask] = np.abs(pred[mask] - gt[mask]) / gt[mask]
    grey = (np.clip(rel / limit, 0, 1) * 255).astype(np.uint8)
    coloured = cv2.applyColorMap(grey, cv2.COLORMAP_JET)
    coloured[~mask] = 0
    return coloured


class Evaluation:
    """Accumulates per-frame scores of several methods, per protocol group."""

    def __init__(self, methods: dict[str, DepthMethod], protocols: dict[str, Protocol],
                 report_frames: int = 6, distance_bins: int = 16) -> None:
        if not methods:
            raise ValueError("nothing to evaluate: no model and no baselines")
        self.methods = methods
        self.groups = {name: GroupState(protocol) for name, protocol in protocols.items()}
        self.report_frames = report_frames
        self.distance_bins = distance_bins
        self.rows: list[FrameRow] = []

    def add(self, frame: Frame) -> dict[str, np.ndarray]:
        """Score every method on one frame; returns each method's prediction (metres)."""
        if frame.group not in self.groups:
            raise ValueError(f"frame {frame.name}: unknown group {frame.group!r}")
        state = self.groups[frame.group]
        protocol = state.protocol
        gt = np.asarray(frame.gt, np.float32)
        predictions: dict[str, np.ndarray] = {}
        scored: dict[str, tuple] = {}
        for name, method in self.methods.items():
            pred = np.asarray(method(frame, protocol), np.float32)
            predictions[name] = pred
            result = score_frame(pred, gt, protocol)
            if result is None:
                state.skipped.append(frame.name)
                return predictions
            scored[name] = result
        state.frames.append(frame.name)
        for name, (result, pixels) in scored.items():
            state.results.setdefault(name, []).append(result)
            state.by_distance.setdefault(name, ErrorByDistance(
                protocol.min_depth, protocol.max_depth, self.distance_bins)).add(pixels)
            self.rows.append(FrameRow(frame.group, frame.name, name, result, frame.stamp_ns))
        if len(state.thumbnails) < self.report_frames:
            first = next(iter(self.methods))
            state.thumbnails.append(self._panels(frame, protocol, predictions[first],
                                                 scored[first][0].scale, first))
        return predictions

    @staticmethod
    def _panels(frame: Frame, protocol: Protocol, pred: np.ndarray, scale: float,
                method: str) -> dict:
        """RGB / scaled prediction / GT / error thumbnails for the report."""
        gt = np.asarray(frame.gt, np.float32)
        mask = valid_mask(gt, protocol)
        scaled = np.clip(pred, protocol.min_depth, protocol.max_depth) * scale
        lo, hi = np.percentile(gt[mask], [2, 98]) if mask.any() else (protocol.min_depth,
                                                                       protocol.max_depth)
        hi = max(float(hi), float(lo) * 1.01 + 1e-3)
        sparse = mask.mean() < 0.2
        gt_show = np.where(np.isfinite(gt) & (gt > 0), gt, 0)
        rgb = cv2.resize(frame.rgb, (gt.shape[1], gt.shape[0])) if frame.rgb.shape[:2] != \
            gt.shape else frame.rgb
        return {
            "frame": frame.name, "method": method,
            "rgb": thumbnail(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)),
            "prediction": thumbnail(colorize_depth(scaled, lo, hi)),
            "ground truth": thumbnail(colorize_depth(gt_show, lo, hi), sparse),
            "abs_rel error": thumbnail(error_image(scaled, gt, mask), sparse),
            # Prediction and ground truth share these limits; the bar gives them in metres.
            "depth colours (m)": colour_bar(float(lo), hi, THUMB_WIDTH),
        }

    def summaries(self) -> dict[str, dict[str, Summary]]:
        """Group -> method -> mean metrics (groups without scored frames are left out)."""
        return {group: {method: summarize(results) for method, results in state.results.items()}
                for group, state in self.groups.items() if state.frames}

    def to_dict(self, info: dict | None = None) -> dict:
        """Everything for metrics.json."""
        summaries = self.summaries()
        groups = {}
        for group, state in self.groups.items():
            if not state.frames and not state.skipped:
                continue
            groups[group] = {
                "protocol": state.protocol.to_dict(),
                "frames_scored": len(state.frames),
                "frames_without_valid_gt": list(state.skipped),
                "methods": {m: s.to_dict() for m, s in summaries.get(group, {}).items()},
                "error_by_distance": {m: d.to_dict() for m, d in state.by_distance.items()},
            }
        return {**(info or {}), "methods": list(self.methods), "groups": groups}

    def write_csv(self, path: Path) -> None:
        """One row per (frame, method): scaled metrics, then raw_* metrics."""
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["group", "frame", "stamp_ns", "method", "valid_pixels",
                             "median_scale", *METRIC_NAMES,
                             *(f"raw_{n}" for n in METRIC_NAMES)])
            for row in self.rows:
                r = row.result
                writer.writerow([row.group, row.frame, "" if row.stamp_ns is None else
                                 row.stamp_ns, row.method, r.valid_pixels, f"{r.scale:.6g}",
                                 *(f"{getattr(r.scaled, n):.6g}" for n in METRIC_NAMES),
                                 *(f"{getattr(r.raw, n):.6g}" for n in METRIC_NAMES)])

    def write(self, output_dir: str | Path, info: dict | None = None,
              title: str = "Depth evaluation") -> dict:
        """Write metrics.json, frames.csv and report.html into ``output_dir``."""
        from .report import render_report

        out = Path(output_dir)
        out.mkdir(parents=True, exist_ok=True)
        data = self.to_dict(info)
        (out / "metrics.json").write_text(json.dumps(data, indent=2) + "\n")
        self.write_csv(out / "frames.csv")
        (out / "report.html").write_text(render_report(self, data, title))
        return data

    def table(self) -> str:
        """A compact text table of the scaled metrics (and raw abs_rel) per group and method."""
        header = f"{'group':<9}{'method':<14}{'frames':>7}" + "".join(
            f"{n:>10}" for n in METRIC_NAMES) + f"{'raw_absrel':>11}{'scale':>8}"
        lines = [header]
        for group, methods in self.summaries().items():
            for method, s in methods.items():
                lines.append(f"{group:<9}{method:<14}{s.frames:>7}" + "".join(
                    f"{getattr(s.scaled, n):>10.4f}" for n in METRIC_NAMES)
                    + f"{s.raw.abs_rel:>11.4f}{s.median_scale:>8.3g}")
        return "\n".join(lines)
