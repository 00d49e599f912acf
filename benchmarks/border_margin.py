"""How far in from the image border the shipped models' depth is unreliable (real frames).

For every frame of ../shared/real_rgbd, the shipped model of its domain predicts depth at
the image's size; after per-image median scaling against the measured depth, the error is
summarised per band of distance from the nearest image border, in network-input pixels
(the unit of the node's ``border_margin``). Prints one table per model.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np

from s2r_depth_ros.evaluation.sources import read_depth
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator
from s2r_depth_ros.pipeline import FrameProcessor, FrameSettings

BANDS = 16


def border_distance(height: int, width: int, net_h: int, net_w: int) -> np.ndarray:
    """Distance of each pixel from the nearest border, in network-input pixels."""
    v, u = np.mgrid[0:height, 0:width].astype(np.float32)
    sx, sy = net_w / width, net_h / height
    return np.minimum.reduce([(u + 0.5) * sx, (width - 0.5 - u) * sx,
                              (v + 0.5) * sy, (height - 0.5 - v) * sy])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="../shared/real_rgbd")
    parser.add_argument("--outdoor-model", default="outdoor", help="default: the shipped one")
    parser.add_argument("--indoor-model", default="indoor", help="default: the shipped one")
    args = parser.parse_args(argv)
    root = Path(args.root)
    entries = json.loads((root / "manifest.json").read_text())["entries"]
    for model, domains in ((args.outdoor_model, {"outdoor_driving"}),
                           (args.indoor_model, {"indoor"})):
        processor = FrameProcessor(open_estimator(model, device="cpu"),
                                   FrameSettings(border_margin=0))  # every pixel measured
        cfg = processor.estimator.config
        near = np.zeros(BANDS + 1)
        log_err = np.zeros(BANDS + 1)
        count = np.zeros(BANDS + 1)
        minima = []
        margins = (2, 3, 4, 6)
        at_new_edge = dict.fromkeys(margins, 0)
        for entry in (e for e in entries if e["domain"] in domains):
            rgb = cv2.cvtColor(cv2.imread(str(root / entry["rgb"])), cv2.COLOR_BGR2RGB)
            height, width = rgb.shape[:2]
            camera = Intrinsics(entry["fx"], entry["fy"], entry["cx"], entry["cy"], width,
                                height)
            depth = processor.process(rgb, camera).depth
            gt = read_depth(root / entry["depth"], entry["depth_to_meters"],
                            entry.get("invalid_depth", 0))
            valid = np.isfinite(depth) & np.isfinite(gt) & (gt > 0)
            scaled = depth * np.median(gt[valid]) / np.median(depth[valid])
            net_h, net_w = processor.estimator.network_size((height, width))
            distance = border_distance(height, width, net_h, net_w)
            band = np.minimum(distance.astype(int), BANDS)
            ratio = scaled[valid] / gt[valid]
            np.add.at(near, band[valid], ratio < 0.5)
            np.add.at(log_err, band[valid], np.abs(np.log(ratio)))
            np.add.at(count, band[valid], 1)
            finite = np.where(np.isfinite(depth), depth, np.inf)
            v, u = np.unravel_index(np.argmin(finite), depth.shape)
            minima.append(float(distance[v, u]))
            for margin in margins:  # with that margin, is the minimum still at the edge?
                kept = np.where(distance >= margin, finite, np.inf)
                v, u = np.unravel_index(np.argmin(kept), depth.shape)
                at_new_edge[margin] += bool(distance[v, u] < margin + 1)
        print(f"\n{model} ({cfg.input_height}x{cfg.input_width}), {len(minima)} frames; "
              f"frame minimum within 2 network pixels of the border in "
              f"{sum(m < 2 for m in minima)} of {len(minima)}")
        print("frame minimum at the inner edge of a margin of " + ", ".join(
            f"{m}: {n}" for m, n in at_new_edge.items()))
        print("band (net px) | GT pixels | share < 0.5 x GT | mean |log ratio|")
        for b in range(BANDS + 1):
            if count[b]:
                label = f"{b}" if b < BANDS else f">={BANDS}"
                print(f"{label:>13} | {int(count[b]):9d} | {near[b] / count[b]:16.3f} | "
                      f"{log_err[b] / count[b]:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
