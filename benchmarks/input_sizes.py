"""Metres at other input sizes: a camera-aware model run at sizes it was not trained at.

The node's ``input_height`` / ``input_width`` (and ``EstimatorOptions(input_size=...)``) run
a model at another size than it was trained at. A camera-aware model's metres need the
camera's focal length at some size; this scores the real frames of ../shared/real_rgbd two
ways per input size: with the focal length at the size the model was trained at (what the
estimator does for models trained at one size) and at the size it runs at (what it does for
models trained at many, ``input_scale_range``). Scaled metrics are the same for both; raw
ones say which way keeps the metres.

    .venv/bin/python benchmarks/input_sizes.py outdoor 96x320 128x416 160x512 192x640
    .venv/bin/python benchmarks/input_sizes.py indoor 144x192 192x256 240x320 --group indoor
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from tqdm import tqdm

from s2r_depth_ros.evaluation.metrics import PROTOCOLS
from s2r_depth_ros.evaluation.runner import DepthMethod, Evaluation, Frame, model_method
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.inference import open_estimator


def scaled(method: DepthMethod, factor: float) -> DepthMethod:
    """``method``'s depth times ``factor``."""
    def predict(frame: Frame, protocol) -> np.ndarray:
        return method(frame, protocol) * np.float32(factor)
    return predict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model file or shipped name")
    parser.add_argument("sizes", nargs="+", help="network input sizes, HxW")
    parser.add_argument("--group", choices=("outdoor", "indoor"), default="outdoor")
    parser.add_argument("--manifest", default="../shared/real_rgbd/manifest.json")
    args = parser.parse_args(argv)
    frames = [s.load() for s in manifest_sources(args.manifest) if s.group == args.group]
    methods: dict[str, DepthMethod] = {}
    for text in args.sizes:
        height, width = (int(v) for v in text.split("x"))
        estimator = open_estimator(args.model, device="cpu", threads=1,
                                   input_size=(height, width), input_aspect="squash")
        trained_h, trained_w = estimator.trained_size
        method = model_method(estimator)
        ratio = math.sqrt(height * width / (trained_h * trained_w))
        at_run_size = estimator.focal_at_run_size  # the estimator's way
        methods[f"{text} | trained size"] = scaled(method, 1 / ratio if at_run_size else 1.0)
        methods[f"{text} | run size"] = scaled(method, 1.0 if at_run_size else ratio)
    evaluation = Evaluation(methods, {args.group: PROTOCOLS[args.group]}, report_frames=0)
    for frame in tqdm(frames, desc=args.model, leave=False):
        evaluation.add(frame)
    print(f"{len(frames)} {args.group} frames of {args.manifest}; model {args.model}")
    print("| input | focal length at | scaled abs_rel | delta1 | raw abs_rel | raw delta1 |\n"
          "|---|---|---|---|---|---|")
    for name, s in evaluation.summaries()[args.group].items():
        print(f"| {name} | {s.scaled.abs_rel:.4f} | {s.scaled.delta1:.3f} | "
              f"{s.raw.abs_rel:.4f} | {s.raw.delta1:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
