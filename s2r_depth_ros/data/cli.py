"""Subcommand `synth`: write rendered frames as a Virtual KITTI 1.3.1-style dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from .datasets import VKITTI_SKY_CM, VKitti1Dataset
from .synth import DOMAINS, MAX_DEPTH, frame_rng, render_scene_with_sky

DEFAULT_SIZE = {"outdoor": (192, 640), "indoor": (192, 256)}


def depth_to_vkitti_png(depth: np.ndarray, sky: np.ndarray) -> np.ndarray:
    """Metres -> 16-bit centimetres as vKITTI stores them: sky = 65535, others <= 65534."""
    centimetres = np.clip(np.rint(depth.astype(np.float64) * 100.0), 0, VKITTI_SKY_CM - 1)
    out = centimetres.astype(np.uint16)
    out[sky] = VKITTI_SKY_CM
    return out


def write_synthetic_dataset(out: str | Path, domain: str, count: int, height: int, width: int,
                            seed: int, progress: bool = True) -> Path:
    """Render ``count`` frames into ``out`` in the vKITTI 1.3.1 layout; return the list file.

    ``out/vkitti_1.3.1_rgb/<scene>/<variation>/<frame>.png`` (RGB),
    ``out/vkitti_1.3.1_depthgt/...`` (16-bit cm, sky 65535), ``out/train.txt`` with the
    reference's ``rgb/... depth/...`` lines (:class:`VKitti1Dataset` maps them onto the
    tarball folders) and ``out/intrinsics.json`` (per-frame fx, fy, cx, cy).
    """
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; expected one of {', '.join(DOMAINS)}")
    if count < 1:
        raise ValueError(f"--n must be at least 1, got {count}")
    root = Path(out)
    scene, variation = f"{seed:04d}", f"synth-{domain}"
    rgb_dir = root / VKitti1Dataset.FOLDERS["rgb"] / scene / variation
    depth_dir = root / VKitti1Dataset.FOLDERS["depth"] / scene / variation
    rgb_dir.mkdir(parents=True, exist_ok=True)
    depth_dir.mkdir(parents=True, exist_ok=True)
    lines, frames = [], {}
    for index in tqdm(range(count), desc=f"synth {domain}", unit="frame", disable=not progress):
        sample, sky = render_scene_with_sky(domain, height, width, frame_rng(seed, index))
        name = f"{index:05d}.png"
        if not cv2.imwrite(str(rgb_dir / name), cv2.cvtColor(sample.rgb, cv2.COLOR_RGB2BGR)):
            raise OSError(f"cannot write {rgb_dir / name}")
        if not cv2.imwrite(str(depth_dir / name), depth_to_vkitti_png(sample.depth, sky)):
            raise OSError(f"cannot write {depth_dir / name}")
        key = f"{scene}/{variation}/{index:05d}"
        lines.append(f"rgb/{key}.png depth/{key}.png")
        frames[key] = [sample.fx, sample.fy, sample.cx, sample.cy]
    list_file = root / "train.txt"
    list_file.write_text("\n".join(lines) + "\n")
    info = {"generator": "s2r-depth synth", "domain": domain, "seed": seed, "height": height,
            "width": width, "max_depth": MAX_DEPTH[domain], "depth_png": "uint16 centimetres, "
            "sky = 65535", "frames": frames}
    (root / "intrinsics.json").write_text(json.dumps(info, indent=1) + "\n")
    return list_file


def run_synth(args: argparse.Namespace) -> int:
    """Entry of `s2r-depth synth`."""
    default_h, default_w = DEFAULT_SIZE[args.domain]
    height = args.height or default_h
    width = args.width or default_w
    if height < 8 or width < 8:
        raise ValueError(f"image size {height}x{width} is too small (minimum 8x8)")
    list_file = write_synthetic_dataset(args.output, args.domain, args.n, height, width, args.seed,
                                        progress=not args.quiet)
    print(f"wrote {args.n} frames ({height}x{width}, {args.domain}) and {list_file}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `synth`."""
    synth = subparsers.add_parser(
        "synth", help="render synthetic RGB-D frames in the Virtual KITTI 1.3.1 layout",
        description="Render procedural driving scenes or rooms (RGB + metric depth) into "
        "OUTPUT/vkitti_1.3.1_rgb, OUTPUT/vkitti_1.3.1_depthgt (16-bit cm, sky 65535), "
        "OUTPUT/train.txt and OUTPUT/intrinsics.json.")
    synth.add_argument("--domain", choices=list(DOMAINS), default="outdoor",
                       help="scene kind: outdoor (driving streets, 80 m) or indoor (rooms, "
                       "8 m) (default outdoor)")
    synth.add_argument("--n", type=int, required=True, help="number of frames")
    synth.add_argument("--output", "-o", "--out", dest="output", required=True,
                       help="output folder (--out is the older spelling)")
    synth.add_argument("--height", type=int, help="image height (default 192)")
    synth.add_argument("--width", type=int,
                       help="image width (default 640 outdoor, 256 indoor)")
    synth.add_argument("--seed", type=int, default=0, help="dataset seed (frame i is a "
                       "pure function of seed and i)")
    synth.add_argument("--quiet", action="store_true", help="no progress bar")
    synth.set_defaults(func=run_synth)
