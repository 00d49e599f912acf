"""Approximate modes (reduced precision, fast resize) beside the exact path: speed, accuracy.

Usage: python benchmarks/bench_precision.py [--model outdoor|indoor|FILE] [--repeats 10]

None of these modes is the exact path; they are measured so users can judge the trade-off.
For each mode it prints the time of `predict` on a frame already at the model's input size
(so nearly all of it is the network), the speed-up over the exact OpenVINO f32 path, the
pre-processing time (resize + normalise) of the first real frame, the largest and mean
|depth difference| to the exact path over the real frames of ../shared/real_rgbd for the
model's domain, and the scaled abs_rel / delta1 there (S2R protocol) next to the exact path's.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from common import median_ms

from s2r_depth_ros.evaluation.metrics import PROTOCOLS, evaluate_frame, summarize
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.inference import open_estimator

MANIFEST = Path(__file__).resolve().parents[2] / "shared" / "real_rgbd" / "manifest.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="outdoor")
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--manifest", default=str(MANIFEST))
    args = parser.parse_args()
    modes = {"exact: openvino fp32": ("openvino", "fp32", "exact"),
             "openvino fp32, fast resize": ("openvino", "fp32", "fast"),
             "openvino bf16": ("openvino", "bf16", "exact"),
             "openvino fp16": ("openvino", "fp16", "exact"),
             "eager fp32": ("eager", "fp32", "exact"),
             "eager bf16 (autocast)": ("eager", "bf16", "exact")}
    estimators = {name: open_estimator(args.model, device="cpu", threads=args.threads,
                                       backend=backend, precision=precision, resize=resize)
                  for name, (backend, precision, resize) in modes.items()}
    cfg = next(iter(estimators.values())).config
    group = "indoor" if cfg.max_depth <= 10 else "outdoor"
    frames = [source.load() for source in manifest_sources(args.manifest)
              if source.group == group]
    # Timed at the network's own input size, so resizing costs nothing.
    rgb = cv2.resize(frames[0].rgb, (cfg.input_width, cfg.input_height),
                     interpolation=cv2.INTER_AREA)
    rows = []
    exact_depths: list[np.ndarray] = []
    for name, estimator in estimators.items():
        estimator.predict(rgb)
        ms = median_ms(lambda e=estimator: e.predict(rgb), args.repeats)
        preprocess_ms = median_ms(lambda e=estimator: e.preprocess(frames[0].rgb), 20)
        depths = [estimator.predict(frame.rgb) for frame in frames]
        if not exact_depths:
            exact_depths = depths
        diffs = [np.abs(d - e) for d, e in zip(depths, exact_depths)]
        results = [evaluate_frame(d, f.gt, PROTOCOLS[group]) for d, f in zip(depths, frames)]
        summary = summarize(r for r in results if r is not None)
        rows.append((name, ms, preprocess_ms, max(float(d.max()) for d in diffs),
                     float(np.mean([d.mean() for d in diffs])), summary.scaled.abs_rel,
                     summary.scaled.delta1))
    exact_ms = rows[0][1]
    height, width = frames[0].rgb.shape[:2]
    print(f"model {cfg.name} at {cfg.input_height}x{cfg.input_width}, {args.threads} threads; "
          f"{len(frames)} real {group} frames; pre-processing of a {width}x{height} frame\n")
    print("| mode | ms per frame | speed-up | pre-processing ms | max abs diff to exact m | "
          "mean abs diff m | abs_rel (scaled) | delta1 |")
    print("|---|---|---|---|---|---|---|---|")
    for name, ms, preprocess_ms, max_diff, mean_diff, abs_rel, delta1 in rows:
        print(f"| {name} | {ms:.1f} | {exact_ms / ms:.2f}x | {preprocess_ms:.2f} | "
              f"{max_diff:.3f} | {mean_diff:.4f} | {abs_rel:.4f} | {delta1:.4f} |")


if __name__ == "__main__":
    main()
