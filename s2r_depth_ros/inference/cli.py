"""Subcommands `predict` and `convert-official`."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from ..geometry import Intrinsics
from ..model import load_official, save_checkpoint
from .colorize import colorize_depth
from .estimator import BACKENDS, PRECISIONS
from .export import export_onnx
from .loading import open_estimator
from .resize import RESIZES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Model selection and device options shared by every command that runs the network."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="native checkpoint file, or a shipped model name "
                       "('outdoor', 'indoor'); default: the shipped outdoor model")
    group.add_argument("--official-dir", help="folder holding the four official .pth files")
    group.add_argument("--domain", choices=["vkitti", "suncg"], default="vkitti",
                       help="which official files to load (with --official-dir)")
    group.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    group.add_argument("--precision", choices=PRECISIONS, default="fp32",
                       help="fp32 (default, exact) or the approximate fp16 / bf16 (GPU; on a "
                       "CPU bf16 with eager or OpenVINO, fp16 with OpenVINO)")
    group.add_argument("--resize", choices=RESIZES, default="exact",
                       help="exact (default: Pillow's antialiased bicubic, as the reference) or "
                       "fast (PyTorch's, about 5x faster, approximate)")
    group.add_argument("--threads", type=int, help="CPU threads for inference")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="auto (default: eager on a GPU; OpenVINO, else ONNX Runtime, on a "
                       "CPU), eager, compile (torch.compile; slow first frame), onnxruntime or "
                       "openvino (both export to ONNX once, cached)")


def estimator_from_args(args: argparse.Namespace):
    """Open the estimator the shared model arguments describe."""
    return open_estimator(args.model, args.official_dir, args.domain, device=args.device,
                          precision=args.precision, resize=args.resize, threads=args.threads,
                          backend=args.backend)


def collect_images(inputs: list[str]) -> list[Path]:
    """Expand files and folders into a sorted list of image files; missing paths are errors."""
    images: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES))
        elif path.is_file():
            images.append(path)
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return images


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as uint8 RGB the way the reference does (PIL, convert to RGB)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def unique_stems(paths: list[Path]) -> list[str]:
    """Output names: the file stem, made unique when two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        count = seen.get(path.stem, 0)
        seen[path.stem] = count + 1
        stems.append(path.stem if count == 0 else f"{path.stem}_{count}")
    return stems


def check_scale_arguments(args: argparse.Namespace) -> None:
    """One-line errors for inconsistent --scale / --camera-height / --intrinsics."""
    if args.camera_height is not None and not (math.isfinite(args.camera_height)
                                               and args.camera_height > 0):
        raise ValueError(f"--camera-height must be a positive number of metres, got "
                         f"{args.camera_height}")
    if args.scale == "ground" and args.camera_height is None:
        raise ValueError("--scale ground needs --camera-height")
    if args.intrinsics is not None and not all(math.isfinite(v) for v in args.intrinsics) or (
            args.intrinsics is not None and min(args.intrinsics[:2]) <= 0):
        raise ValueError(f"--intrinsics needs finite FX FY CX CY with FX, FY > 0, got "
                         f"{args.intrinsics}")


def ground_scale_for(depth: np.ndarray, camera: Intrinsics, args: argparse.Namespace) -> dict:
    """The ground-plane scale of one predicted depth map (each image on its own)."""
    from ..scale import gravity_from_pitch_roll, ground_plane_scale

    gravity = None
    if args.camera_pitch is not None:
        gravity = gravity_from_pitch_roll(math.radians(args.camera_pitch),
                                          math.radians(args.camera_roll))
    estimate = ground_plane_scale(depth, camera, args.camera_height, gravity)
    return {"scale": estimate.scale if estimate.ok else 1.0,
            "source": "ground" if estimate.ok else "none",
            "support": round(estimate.support, 4), "reason": estimate.reason}


def run_predict(args: argparse.Namespace) -> int:
    """Write <stem>.npy (metres) and <stem>.png (colourised) for every input image."""
    check_scale_arguments(args)
    images = collect_images(args.inputs)
    if not images:
        raise ValueError("no images found in the given inputs")
    estimator = estimator_from_args(args)
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = 0
    scales: dict[str, dict] = {}
    for path, stem in zip(tqdm(images, desc="predict", unit="img", disable=args.quiet),
                          unique_stems(images)):
        try:
            rgb = read_rgb(path)
        except ValueError as exc:
            failures += 1
            print(f"s2r-depth predict: skipped: {exc}", file=sys.stderr)
            continue
        camera = None
        if args.intrinsics is not None:
            camera = Intrinsics(*args.intrinsics, rgb.shape[1], rgb.shape[0])
        depth = estimator.predict(rgb, intrinsics=camera)
        if args.scale == "ground":
            scales[stem] = ground_scale_for(depth, camera or Intrinsics.guess(
                rgb.shape[1], rgb.shape[0]), args)
            depth = depth * np.float32(scales[stem]["scale"])
            if scales[stem]["source"] == "none" and not args.quiet:
                print(f"s2r-depth predict: {path}: no ground-plane scale "
                      f"({scales[stem]['reason']}); depth left unscaled", file=sys.stderr)
        np.save(out_dir / f"{stem}.npy", depth.astype(np.float32))
        cv2.imwrite(str(out_dir / f"{stem}.png"), colorize_depth(depth, colormap=args.colormap))
    if args.scale == "ground":
        (out_dir / "scales.json").write_text(json.dumps(scales, indent=2) + "\n")
    if failures:
        print(f"s2r-depth predict: error: {failures} of {len(images)} images could not be read",
              file=sys.stderr)
        return 1
    return 0


def run_convert_official(args: argparse.Namespace) -> int:
    """Convert the official four-file release into one native checkpoint."""
    model = load_official(args.directory, args.domain)
    save_checkpoint(model, args.output, provenance={"source": "official", "domain": args.domain,
                                                    "converted_from": str(args.directory)})
    print(f"wrote {args.output}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    """Export a model to ONNX at its (or the given) input size."""
    estimator = estimator_from_args(args)
    model = estimator.model
    if args.height or args.width:
        model.config = model.config.with_input(args.height or model.config.input_height,
                                               args.width or model.config.input_width)
    path = export_onnx(model, args.output)
    print(f"wrote {path} (input 1x3x{model.config.input_height}x{model.config.input_width})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `predict`, `convert-official` and `export`."""
    predict = subparsers.add_parser("predict", help="depth for image files or folders",
                                    description="Write <stem>.npy (float32 metres, input "
                                    "resolution) and <stem>.png (colourised) per image.")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    predict.add_argument("--output", "-o", required=True, help="output folder")
    predict.add_argument("--colormap", default="turbo", help="colour map for the PNG files")
    predict.add_argument("--quiet", action="store_true", help="no progress bar")
    camera = predict.add_argument_group("camera and metric scale")
    camera.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"),
                        help="pinhole intrinsics in pixels of the input images, for every "
                        "input of the call (camera-aware models give metres for this camera; "
                        "the ground-plane scale uses them); default: focal = width, centred")
    camera.add_argument("--scale", choices=["none", "ground"], default="none",
                        help="metric scale: none (default: the model's own metres) or ground "
                        "(scale each image so its ground plane lies --camera-height below "
                        "the camera; writes scales.json; an image without visible ground "
                        "stays unscaled)")
    camera.add_argument("--camera-height", type=float, metavar="M",
                        help="height of the camera above the ground in metres (--scale ground)")
    camera.add_argument("--camera-pitch", type=float, metavar="DEG",
                        help="camera pitch in degrees, positive looking down, when known from "
                        "the mount: fixes the ground's normal (default: unknown, searched)")
    camera.add_argument("--camera-roll", type=float, default=0.0, metavar="DEG",
                        help="camera roll in degrees with --camera-pitch, positive with the "
                        "right side lower (default 0)")
    add_model_arguments(predict)
    predict.set_defaults(func=run_predict)

    convert = subparsers.add_parser("convert-official",
                                    help="official four .pth files -> one native checkpoint")
    convert.add_argument("directory", help="folder with struct_encoder_<domain>.pth etc.")
    convert.add_argument("--domain", choices=["vkitti", "suncg"], required=True)
    convert.add_argument("--output", "-o", required=True, help="checkpoint file to write")
    convert.set_defaults(func=run_convert_official)

    export = subparsers.add_parser("export", help="export a model to ONNX",
                                   description="Folded network (BatchNorm in the convs) as "
                                   "ONNX: input 'image' 1x3xHxW in [-1, 1], output 'depth' in "
                                   "tanh units; for ONNX Runtime, OpenVINO or TensorRT.")
    export.add_argument("--format", choices=["onnx"], default="onnx")
    export.add_argument("--output", "-o", required=True, help="file to write")
    export.add_argument("--height", type=int, default=0, help="input height (default: model's)")
    export.add_argument("--width", type=int, default=0, help="input width (default: model's)")
    add_model_arguments(export)
    export.set_defaults(func=run_export)
