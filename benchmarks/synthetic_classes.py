"""Which things do the models get wrong? Depth error per class on held-out renderings.

Real frames come without labels; the renderer knows what each pixel shows. For held-out
scenes of one domain (a seed no config uses, a real camera's size), each model's depth is
median-scaled per frame over all pixels with depth (the S2R protocol's scaling, no crop),
then summarised per class: the share of pixels, the abs_rel, and the median of
prediction / GT. A class that "does not stand out" (cars seen as road) has a ratio far from
1: near objects predicted too far come out above 1 only if the road behind them is nearer.

    .venv/bin/python benchmarks/synthetic_classes.py outdoor --domain outdoor
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from common import HELDOUT_SIZES, heldout_parser
from tqdm import tqdm

from s2r_depth_ros.data.synth import MAX_DEPTH, frame_rng, render_scene_with_labels
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator


def main(argv: list[str] | None = None) -> int:
    parser = heldout_parser(__doc__.splitlines()[0])
    parser.add_argument("--min-share", type=float, default=0.002,
                        help="leave out classes with fewer pixels than this share")
    args = parser.parse_args(argv)
    height, width = HELDOUT_SIZES[args.domain]
    far = MAX_DEPTH[args.domain]
    estimators = {m: open_estimator(m, device="cpu", threads=1) for m in args.models}
    # class -> model -> list of (abs_rel, ratio) arrays; class -> pixel count
    errors: dict[str, dict[str, list[np.ndarray]]] = defaultdict(lambda: defaultdict(list))
    pixels: dict[str, int] = defaultdict(int)
    for index in tqdm(range(args.frames), desc=f"{args.domain} scenes", unit="frame"):
        sample, labels = render_scene_with_labels(args.domain, height, width,
                                                  frame_rng(args.seed, index))
        valid = (sample.depth > 0) & (sample.depth < far)  # the far clamp is no measurement
        gt = sample.depth[valid]
        names = np.array(labels.names)[labels.ids[valid]]
        camera = Intrinsics(sample.fx, sample.fy, sample.cx, sample.cy, width, height)
        masks = {name: names == name for name in np.unique(names)}
        for name, mask in masks.items():
            pixels[name] += int(mask.sum())
        for model, estimator in estimators.items():
            pred = estimator.predict(sample.rgb, intrinsics=camera)[valid]
            pred = pred * (np.median(gt) / np.median(pred))
            ratio = pred / gt
            for name, mask in masks.items():
                errors[name][model].append(ratio[mask])
    total = sum(pixels.values())
    print(f"{args.frames} held-out {args.domain} scenes at {height}x{width} (seed {args.seed}); "
          "per frame median-scaled; abs_rel / median pred/GT per class")
    print("| class | share of pixels | " + " | ".join(args.models) + " |")
    print("|---|---|" + "---|" * len(args.models))
    for name in sorted(pixels, key=pixels.get, reverse=True):
        if pixels[name] < args.min_share * total:
            continue
        cells = []
        for model in args.models:
            ratio = np.concatenate(errors[name][model])
            cells.append(f"{np.mean(np.abs(ratio - 1)):.3f} / {np.median(ratio):.2f}")
        print(f"| {name} | {pixels[name] / total:.3f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
