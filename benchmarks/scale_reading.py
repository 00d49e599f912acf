"""Does a model read each scene's scale, or predict about one distance for every frame.

Raw (metric) errors mix two things: a bias (the model's metres are off by one factor for a
camera or a place) and a failure to read each frame's scale at all. This script separates
them, per source (each real dataset of ``--group`` in ../shared/real_rgbd, and held-out
renderings of that domain): the median GT depth per frame against the model's median over
the same pixels, their correlation in log space (1: the model follows the scene's scale,
0: it does not), the bias (geometric mean of pred / GT) and the spread left after removing
it (std of log(pred / GT); 0.2 is about +-22 %). Camera intrinsics reach the model, so
camera-aware models give their metres.

    .venv/bin/python benchmarks/scale_reading.py indoor --group indoor
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from common import HELDOUT_SIZES
from tqdm import tqdm

from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.evaluation.metrics import PROTOCOLS
from s2r_depth_ros.evaluation.runner import Frame
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator


def heldout_frames(domain: str, count: int, seed: int) -> list[Frame]:
    """Renderings of a seed no config uses, at a real camera's size."""
    height, width = HELDOUT_SIZES[domain]
    scenes = SyntheticScenes(domain=domain, length=count, height=height, width=width,
                             seed=seed)
    frames = []
    for index in range(count):
        sample = scenes[index]
        gt = sample.depth.copy()
        gt[(gt <= 0) | (gt >= scenes.max_depth)] = np.nan  # the far clamp is no measurement
        frames.append(Frame(name=f"synthetic/{index}", rgb=sample.rgb, gt=gt,
                            group=domain, camera=Intrinsics(sample.fx, sample.fy, sample.cx,
                                                            sample.cy, width, height)))
    return frames


def summary(medians: list[tuple[float, float]]) -> str:
    gt, pred = np.log(np.array(medians)).T
    ratio = pred - gt
    corr = np.corrcoef(gt, pred)[0, 1] if len(gt) > 2 else float("nan")
    return (f"{len(gt)} | {np.exp(gt.min()):.2f}-{np.exp(gt.max()):.2f} | "
            f"{np.exp(pred.min()):.2f}-{np.exp(pred.max()):.2f} | {corr:.2f} | "
            f"{np.exp(ratio.mean()):.2f} | {ratio.std():.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files or shipped names")
    parser.add_argument("--manifest", default="../shared/real_rgbd/manifest.json")
    parser.add_argument("--group", choices=sorted(HELDOUT_SIZES), default="indoor")
    parser.add_argument("--frames", type=int, default=40, help="held-out renderings")
    parser.add_argument("--seed", type=int, default=424242, help="unused by every config")
    args = parser.parse_args(argv)
    protocol = PROTOCOLS[args.group]
    sources: dict[str, list[Frame]] = defaultdict(list)
    for source in manifest_sources(args.manifest):
        if source.group == args.group:
            frame = source.load()
            sources[frame.name.split("/")[0]].append(frame)
    sources["held-out renderings"] = heldout_frames(args.group, args.frames, args.seed)
    print("| model | source | frames | GT median range (m) | predicted | log correlation | "
          "bias (pred/GT) | spread (log std) |\n|---|---|---|---|---|---|---|---|")
    for model in args.models:
        estimator = open_estimator(model, device="cpu", threads=1)
        for name, frames in sources.items():
            medians = []
            for frame in tqdm(frames, desc=f"{model} {name}", leave=False):
                pred = estimator.predict(frame.rgb, output_size=frame.gt.shape,
                                         intrinsics=frame.camera_at_image())
                valid = (np.isfinite(frame.gt) & (frame.gt > protocol.min_depth)
                         & (frame.gt < protocol.max_depth))
                if valid.any():
                    medians.append((float(np.median(frame.gt[valid])),
                                    float(np.median(pred[valid]))))
            print(f"| {model} | {name} | {summary(medians)} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
