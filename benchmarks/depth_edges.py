"""Do objects stand out? Depth edges of the models against ground truth.

Scale-free scores miss it when a model gives an object the depth of what is behind it: a
smooth map of the room's layout scores well. This compares where the depth *jumps*. A pixel
is an edge when the log depth varies by more than ``--jump`` (0.15: a 16 % step) within a
window about one network pixel wide (the image's width over the network's, rounded; the
ground truth uses the same window). Precision: the share of a model's edge pixels within
``--tolerance`` pixels of a ground-truth edge; recall: the share of ground-truth edges
within that distance of one of the model's. Frames: held-out renderings of ``--domain``
(dense ground truth), and with ``--real`` the frames of the manifest whose ground truth
covers at least 80 % of the image (the dense indoor captures; KITTI's LiDAR is too sparse
to have edges).

Contrast: how much of a true depth step a model draws at all, sharp or not. Over the pixels
where the ground truth spans more than ``STRONG_STEP`` in log depth within four network
pixels of them, the median of the model's log-depth span in that window over the truth's
(1: the full step, 0: flat), averaged over frames. A low recall with a high contrast is a
blurred edge; a low contrast is an object given the depth of what is behind it.

    .venv/bin/python benchmarks/depth_edges.py indoor --domain indoor --real
"""

from __future__ import annotations

import cv2
import numpy as np
from common import HELDOUT_SIZES, heldout_parser
from tqdm import tqdm

from s2r_depth_ros.data.synth import MAX_DEPTH, SyntheticScenes
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator

DEFAULT_MANIFEST = "../shared/real_rgbd/manifest.json"
DENSE_SHARE = 0.8
STRONG_STEP = 0.3  # log depth: a 35 % step, an object well clear of its background
CONTRAST_WINDOW = 4  # network pixels


def log_span(depth: np.ndarray, valid: np.ndarray, radius: int) -> np.ndarray:
    """Max minus min log depth over each pixel's (2 radius + 1)^2 window of valid pixels."""
    log_depth = np.log(np.clip(depth, 1e-3, None)).astype(np.float32)
    kernel = np.ones((2 * radius + 1, 2 * radius + 1), np.uint8)
    # Invalid pixels must not make edges: far below every log depth for the maximum, far
    # above for the minimum.
    high = cv2.dilate(np.where(valid, log_depth, np.float32(-1e6)), kernel)
    low = cv2.erode(np.where(valid, log_depth, np.float32(1e6)), kernel)
    return np.where(valid, high - low, 0.0)


def edge_map(depth: np.ndarray, valid: np.ndarray, radius: int, jump: float) -> np.ndarray:
    """Pixels whose (2 radius + 1)^2 window spans more than ``jump`` in log depth."""
    return valid & (log_span(depth, valid, radius) > jump)


def contrast(predicted: np.ndarray, truth: np.ndarray, valid: np.ndarray, radius: int
             ) -> float | None:
    """Median predicted / true log-depth span where the truth steps by STRONG_STEP or more."""
    true_span = log_span(truth, valid, radius)
    strong = valid & (true_span > STRONG_STEP)
    if not strong.any():
        return None
    return float(np.median(log_span(predicted, valid, radius)[strong] / true_span[strong]))


def near(edges: np.ndarray, tolerance: int) -> np.ndarray:
    """Pixels within ``tolerance`` pixels (square window) of an edge."""
    kernel = np.ones((2 * tolerance + 1, 2 * tolerance + 1), np.uint8)
    return cv2.dilate(edges.astype(np.uint8), kernel).astype(bool)


class EdgeScore:
    """Edge pixels matched in both directions, summed over frames; contrast, averaged."""

    def __init__(self) -> None:
        self.predicted = self.predicted_hit = self.truth = self.truth_hit = 0
        self.contrasts: list[float] = []

    def add(self, predicted: np.ndarray, truth: np.ndarray, tolerance: int,
            strength: float | None = None) -> None:
        """One frame's edge maps, and its ``contrast`` where it has strong true steps."""
        if strength is not None:
            self.contrasts.append(strength)
        self.predicted += int(predicted.sum())
        self.predicted_hit += int((predicted & near(truth, tolerance)).sum())
        self.truth += int(truth.sum())
        self.truth_hit += int((truth & near(predicted, tolerance)).sum())

    def row(self) -> str:
        precision = self.predicted_hit / max(self.predicted, 1)
        recall = self.truth_hit / max(self.truth, 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-9)
        strength = f"{np.mean(self.contrasts):.3f}" if self.contrasts else "-"
        return f"{precision:.3f} | {recall:.3f} | {f1:.3f} | {strength}"


def main(argv: list[str] | None = None) -> int:
    parser = heldout_parser(__doc__.splitlines()[0])
    parser.add_argument("--jump", type=float, default=0.15, help="log-depth step of an edge")
    parser.add_argument("--tolerance", type=int, default=2, help="pixels")
    parser.add_argument("--real", action="store_true",
                        help="also the manifest's frames with dense ground truth")
    parser.add_argument("--manifest", default=DEFAULT_MANIFEST)
    args = parser.parse_args(argv)
    estimators = {m: open_estimator(m, device="cpu", threads=1) for m in args.models}

    def frames():
        height, width = HELDOUT_SIZES[args.domain]
        scenes = SyntheticScenes(domain=args.domain, length=args.frames, height=height,
                                 width=width, seed=args.seed)
        for index in range(args.frames):
            sample = scenes[index]
            camera = Intrinsics(sample.fx, sample.fy, sample.cx, sample.cy, width, height)
            valid = (sample.depth > 0) & (sample.depth < MAX_DEPTH[args.domain])
            yield "held-out renderings", sample.rgb, sample.depth, valid, camera
        if args.real:
            for source in manifest_sources(args.manifest):
                frame = source.load()
                valid = np.isfinite(frame.gt) & (frame.gt > 0)
                if valid.mean() >= DENSE_SHARE:
                    yield ("real frames, dense GT", frame.rgb, np.nan_to_num(frame.gt), valid,
                           frame.camera_at_image())

    scores: dict[tuple[str, str], EdgeScore] = {}
    counts: dict[str, int] = {}
    for source, rgb, gt, valid, camera in tqdm(frames(), desc="frames", unit="frame"):
        counts[source] = counts.get(source, 0) + 1
        for model, estimator in estimators.items():
            network_width = estimator.network_size(rgb.shape[:2])[1]
            radius = max(1, round(rgb.shape[1] / network_width))
            truth = edge_map(gt, valid, radius, args.jump)
            depth = estimator.predict(rgb, intrinsics=camera)
            scores.setdefault((source, model), EdgeScore()).add(
                edge_map(depth, valid, radius, args.jump), truth, args.tolerance,
                contrast(depth, gt, valid, CONTRAST_WINDOW * radius))
    print(f"depth edges (log-depth step > {args.jump}, tolerance {args.tolerance} px); "
          f"{args.domain} renderings seed {args.seed}")
    print("| frames | model | edge pixels (GT / model) | precision | recall | F1 | contrast |")
    print("|---|---|---|---|---|---|---|")
    for (source, model), score in scores.items():
        print(f"| {source} ({counts[source]}) | {model} | {score.truth} / {score.predicted} | "
              f"{score.row()} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
