"""How well do models fit the renderer itself? Held-out synthetic frames, S2R protocol.

Renders ``--frames`` scenes of one domain with a seed no training config uses, at a real
camera's size (KITTI's 375x1242 outdoors, 480x640 indoors), and scores each model on them
exactly as `s2r-depth eval` scores real frames (the domain's protocol, Garg crop outdoors,
median-scaled and raw, the camera's intrinsics passed on). Prints abs_rel / delta1 and the
median-scaled prediction / GT per distance bin: a model that compresses the depth range on
real frames and here too underfits the task, rather than (only) missing the real domain.

    .venv/bin/python benchmarks/synthetic_heldout.py outdoor --domain outdoor
"""

from __future__ import annotations

import numpy as np
from common import HELDOUT_SIZES, heldout_parser
from tqdm import tqdm

from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.evaluation.metrics import PROTOCOLS
from s2r_depth_ros.evaluation.runner import Evaluation, Frame, model_method
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator


def main(argv: list[str] | None = None) -> int:
    parser = heldout_parser(__doc__.splitlines()[0])
    parser.add_argument("--bins", type=int, default=8)
    parser.add_argument("--max-depth", type=float, help="range of the protocol (default: the "
                        "domain's); pixels at or beyond the renderer's far limit stay unscored")
    args = parser.parse_args(argv)
    height, width = HELDOUT_SIZES[args.domain]
    scenes = SyntheticScenes(domain=args.domain, length=args.frames, height=height,
                             width=width, seed=args.seed)
    protocol = PROTOCOLS[args.domain]
    far_limit = protocol.max_depth  # the renderer's sky / far clamp: not a measurement
    if args.max_depth is not None:
        protocol = protocol.with_overrides(max_depth=args.max_depth)
    methods = {model: model_method(open_estimator(model, device="cpu", threads=1))
               for model in args.models}
    evaluation = Evaluation(methods, {args.domain: protocol}, report_frames=0,
                            distance_bins=args.bins)
    for index in tqdm(range(args.frames), desc=f"{args.domain} scenes", unit="frame"):
        sample = scenes[index]
        camera = Intrinsics(sample.fx, sample.fy, sample.cx, sample.cy, width, height)
        gt = np.where(sample.depth < far_limit, sample.depth, 0.0).astype(np.float32)
        evaluation.add(Frame(name=f"{index:04d}", rgb=sample.rgb, gt=gt,
                             group=args.domain, camera=camera))
    state = evaluation.groups[args.domain]
    print(f"{args.frames} held-out {args.domain} scenes at {height}x{width} (seed {args.seed})")
    print("| model | scaled abs_rel | delta1 | raw abs_rel | raw delta1 |\n|---|---|---|---|---|")
    for model, summary in evaluation.summaries()[args.domain].items():
        print(f"| {model} | {summary.scaled.abs_rel:.4f} | {summary.scaled.delta1:.3f} | "
              f"{summary.raw.abs_rel:.4f} | {summary.raw.delta1:.3f} |")
    edges = state.by_distance[args.models[0]].edges
    print("\nmedian-scaled prediction / GT per GT distance bin\n| model | " + " | ".join(
        f"{a:.3g}-{b:.3g} m" for a, b in zip(edges[:-1], edges[1:])) + " |")
    print("|---" * (len(edges)) + "|")
    for model in args.models:
        ratios = state.by_distance[model].ratios()
        print(f"| {model} | " + " | ".join("" if r is None else f"{r:.2f}" for r in ratios)
              + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
