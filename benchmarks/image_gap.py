"""How far the renderer's images are from real camera frames, in numbers, without training.

Usage: python benchmarks/image_gap.py [--frames 24] [--seed 99] [--texture-p P] [--dapple-p P]

For each domain, synthetic frames of the current renderer against the real frames of
../shared/real_rgbd of that domain (the same statistics a network's first layers see):
brightness, contrast (luminance std), HSV saturation, and local detail (mean Sobel magnitude)
per depth band, all on images resized to 416 pixels wide. ``--texture-p`` / ``--dapple-p``
apply the training augmentations of those names to the synthetic frames first, to see how
much of the gap they close.
"""

from __future__ import annotations

import argparse

import cv2
import numpy as np

from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.training.augment import dappled_light, fine_texture

BANDS = {"outdoor": (0.0, 10.0, 20.0, 40.0, 80.1), "indoor": (0.0, 1.5, 3.0, 5.0, 10.1)}
SIZES = {"outdoor": (192, 640), "indoor": (240, 320)}
WIDTH = 416


def frame_statistics(rgb: np.ndarray, depth: np.ndarray, bands: tuple[float, ...]
                     ) -> np.ndarray:
    """[brightness, contrast, saturation, detail, detail per depth band...] of one frame."""
    scale = WIDTH / rgb.shape[1]
    small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    saturation = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)[..., 1].astype(np.float32)
    detail = (np.abs(cv2.Sobel(grey, cv2.CV_32F, 1, 0))
              + np.abs(cv2.Sobel(grey, cv2.CV_32F, 0, 1)))
    depth = cv2.resize(np.nan_to_num(depth), (grey.shape[1], grey.shape[0]),
                       interpolation=cv2.INTER_NEAREST)
    per_band = []
    for near, far in zip(bands[:-1], bands[1:]):
        inside = (depth > near) & (depth <= far)
        per_band.append(detail[inside].mean() if inside.sum() >= 20 else np.nan)
    return np.array([grey.mean(), grey.std(), saturation.mean(), detail.mean(), *per_band])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=24, help="synthetic frames per domain")
    parser.add_argument("--seed", type=int, default=99)
    parser.add_argument("--texture-p", type=float, default=0.0)
    parser.add_argument("--dapple-p", type=float, default=0.0)
    parser.add_argument("--manifest", default="../shared/real_rgbd/manifest.json")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    print("| domain | images | brightness | contrast | saturation | detail | detail per depth "
          "band |\n|---|---|---|---|---|---|---|")
    for domain, bands in BANDS.items():
        scenes = SyntheticScenes(domain, args.frames, *SIZES[domain], seed=args.seed)
        synthetic = []
        for sample in scenes:
            rgb = sample.rgb
            if rng.random() < args.dapple_p:
                rgb = dappled_light(rgb, rng)
            if rng.random() < args.texture_p:
                rgb = fine_texture(rgb, rng)
            synthetic.append(frame_statistics(rgb, sample.depth, bands))
        real = [frame_statistics(frame.rgb, frame.gt, bands)
                for frame in (source.load() for source in manifest_sources(args.manifest))
                if frame.group == domain]
        names = ", ".join(f"{a:g}-{b:g}" for a, b in zip(bands[:-1], bands[1:])) + " m"
        for label, rows in ((f"synthetic ({len(synthetic)})", synthetic),
                            (f"real ({len(real)})", real)):
            mean = np.nanmean(np.array(rows), axis=0)
            print(f"| {domain} | {label} | {mean[0]:.0f} | {mean[1]:.0f} | {mean[2]:.0f} | "
                  f"{mean[3]:.0f} | {' / '.join(f'{v:.0f}' for v in mean[4:])} ({names}) |")


if __name__ == "__main__":
    main()
