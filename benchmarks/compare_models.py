"""Two models side by side on the real frames: a per-folder table and a picture panel.

Usage: python benchmarks/compare_models.py --old indoor --new runs/x/model.pt --group indoor
       [--panel-frames 6] [--output out/compare]

For MODEL_CARD.md: scaled (per-image median) and raw abs_rel / delta1 of both models per
source folder of ../shared/real_rgbd (S2R protocol, as `s2r-depth eval`), and
OUTPUT/panel.png with rows of input / old / new / ground truth for frames spread over the
group (median-scaled predictions; one colour range per row, from the ground truth).
Then a paired comparison per metric: on how many frames the new model wins and a bootstrap
90 % interval of the mean difference (new - old) over frames, so a change smaller than the
frames can rank shows as an interval that straddles zero.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

from s2r_depth_ros.evaluation.metrics import protocol_for_domain, summarize, valid_mask
from s2r_depth_ros.evaluation.report import thumbnail
from s2r_depth_ros.evaluation.runner import Evaluation, model_method
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.inference import colorize_depth, open_estimator
from s2r_depth_ros.inference.colorize import colour_bar

METRICS = (("abs_rel", "scaled"), ("delta1", "scaled"), ("abs_rel", "raw"), ("delta1", "raw"))


def panel_row(rgb: np.ndarray, gt: np.ndarray, predictions: list[np.ndarray],
              group: str) -> np.ndarray:
    """One picture row: input, median-scaled predictions, ground truth (GT colour range)."""
    protocol = protocol_for_domain(group)
    mask = valid_mask(gt, protocol)
    lo, hi = np.percentile(gt[mask], [2, 98])
    sparse = mask.mean() < 0.2
    tiles = [thumbnail(cv2.cvtColor(cv2.resize(rgb, gt.shape[::-1]), cv2.COLOR_RGB2BGR))]
    for pred in predictions:
        pred = np.clip(pred, protocol.min_depth, protocol.max_depth)
        scaled = pred * np.median(gt[mask]) / np.median(pred[mask])
        tiles.append(thumbnail(colorize_depth(scaled, lo, hi)))
    shown = np.where(np.isfinite(gt) & (gt > 0), gt, 0)
    tiles.append(thumbnail(colorize_depth(shown, lo, hi), sparse))
    row = np.hstack(tiles)
    return np.vstack([row, colour_bar(float(lo), float(hi), row.shape[1])])


def paired_difference(old: np.ndarray, new: np.ndarray, resamples: int = 10000,
                      seed: int = 0) -> tuple[float, float, float]:
    """Mean of new - old over frames and a bootstrap 90 % interval of it (frames resampled)."""
    difference = np.asarray(new, dtype=np.float64) - np.asarray(old, dtype=np.float64)
    picks = np.random.default_rng(seed).integers(0, len(difference),
                                                 (resamples, len(difference)))
    low, high = np.percentile(difference[picks].mean(axis=1), [5, 95])
    return float(difference.mean()), float(low), float(high)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", required=True, help="model file or shipped name")
    parser.add_argument("--new", required=True, help="model file or shipped name")
    parser.add_argument("--group", choices=("outdoor", "indoor"), required=True)
    parser.add_argument("--panel-frames", type=int, default=6)
    parser.add_argument("--manifest", default="../shared/real_rgbd/manifest.json")
    parser.add_argument("--output", default="out/compare")
    args = parser.parse_args()
    estimators = {label: open_estimator(model, device="cpu")
                  for label, model in (("old", args.old), ("new", args.new))}
    evaluation = Evaluation({label: model_method(e) for label, e in estimators.items()},
                            {args.group: protocol_for_domain(args.group)}, report_frames=0)
    sources = [s for s in manifest_sources(args.manifest) if s.group == args.group]
    shown = set(np.linspace(0, len(sources) - 1, args.panel_frames).round().astype(int))
    rows = []
    for index, source in enumerate(sources):
        frame = source.load()
        predictions = evaluation.add(frame)
        if index in shown:
            rows.append(panel_row(frame.rgb, frame.gt, list(predictions.values()),
                                  args.group))
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(output / "panel.png"), np.vstack(rows))

    folders = sorted({row.frame.split("/")[0] for row in evaluation.rows})
    print(f"old = {args.old}, new = {args.new}; {args.group} frames; panel: "
          f"{output / 'panel.png'} (input / old / new / ground truth)\n")
    print("| folder | frames | model | " + " | ".join(f"{m} {kind}" for m, kind in METRICS)
          + " |\n" + "|---" * (3 + len(METRICS)) + "|")
    for folder in [*folders, "all"]:
        for label in estimators:
            results = [row.result for row in evaluation.rows if row.method == label and
                       (folder == "all" or row.frame.split("/")[0] == folder)]
            summary = summarize(results)
            values = [getattr(summary.scaled if kind == "scaled" else summary.raw, metric)
                      for metric, kind in METRICS]
            print(f"| {folder} | {len(results)} | {label} | "
                  + " | ".join(f"{v:.3f}" for v in values) + " |")

    print("\n| metric | new better on | mean new - old | 90 % interval |\n|---|---|---|---|")
    for metric, kind in METRICS:
        per_model = {label: [getattr(getattr(row.result, kind), metric)
                             for row in evaluation.rows if row.method == label]
                     for label in estimators}
        old, new = np.array(per_model["old"]), np.array(per_model["new"])
        wins = int(((new < old) if metric == "abs_rel" else (new > old)).sum())
        mean, low, high = paired_difference(old, new)
        print(f"| {metric} {kind} | {wins} of {len(new)} | {mean:+.4f} | "
              f"{low:+.4f} .. {high:+.4f} |")


if __name__ == "__main__":
    main()
