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
from .colorize import COLORMAPS, colorize_depth, colour_bar, depth_limits
from .estimator import BACKENDS, INPUT_ASPECTS, PRECISIONS
from .export import export_onnx
from .loading import open_estimator
from .resize import RESIZES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}


# --domain names what the scenes are, in every command; the official release names its
# files after its training sets, which stay accepted as spellings of the same two.
OFFICIAL_FILES = {"outdoor": "vkitti", "indoor": "suncg"}


def official_domain(value: str) -> str:
    """``--domain`` for the official release: outdoor/indoor (or vkitti/suncg) -> file suffix."""
    if value in OFFICIAL_FILES.values():
        return value
    if value in OFFICIAL_FILES:
        return OFFICIAL_FILES[value]
    raise argparse.ArgumentTypeError(f"invalid choice: {value!r} (choose from outdoor, indoor)")


def add_domain_argument(parser, required: bool = False) -> None:
    """``--domain`` of the official files (``--official-dir``, ``convert-official``)."""
    parser.add_argument("--domain", type=official_domain, metavar="{outdoor,indoor}",
                        required=required, **({} if required else {"default": "vkitti"}),
                        help="which official files: outdoor (trained on vKITTI, *_vkitti.pth)"
                        " or indoor (SUNCG, *_suncg.pth); vkitti and suncg are accepted "
                        "spellings" + ("" if required else " (default outdoor)"))


def add_model_choice_arguments(parser: argparse.ArgumentParser):
    """Which network: a checkpoint, a shipped model, or the official release."""
    group = parser.add_argument_group("model")
    group.add_argument("--model", help="native checkpoint file, or a shipped model name "
                       "('outdoor', 'indoor'); default: the shipped outdoor model")
    group.add_argument("--official-dir", help="folder holding the four official .pth files")
    add_domain_argument(group)
    return group


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """Model selection and device options shared by every command that runs the network."""
    group = add_model_choice_arguments(parser)
    group.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    group.add_argument("--precision", choices=PRECISIONS, default="fp32",
                       help="fp32 (default, exact) or the approximate fp16 / bf16 (GPU; on a "
                       "CPU bf16 with eager or OpenVINO, fp16 with OpenVINO); auto: the node's "
                       "default (fp16 on a GPU, bf16 with OpenVINO on CPUs with bf16 units, "
                       "else fp32)")
    group.add_argument("--resize", choices=RESIZES, default="exact",
                       help="exact (default: Pillow's antialiased bicubic, as the reference) or "
                       "fast (PyTorch's bicubic: approximate, one grey level apart on a few "
                       "pixels; BENCHMARKS.md has the speed)")
    group.add_argument("--input-aspect", choices=INPUT_ASPECTS, default="auto",
                       help="auto (default: the image's own aspect for models trained on other"
                       " aspects, else squashed), squash (every image resized to the model's "
                       "input size, the reference) or camera (about the input size's pixel "
                       "count at the image's aspect)")
    group.add_argument("--threads", type=int, help="CPU threads for inference")
    group.add_argument("--backend", choices=BACKENDS, default="auto",
                       help="auto (default: eager on a GPU; OpenVINO, else ONNX Runtime, on a "
                       "CPU), eager, compile (torch.compile; slow first frame), onnxruntime or "
                       "openvino (both export to ONNX once, cached)")


def estimator_from_args(args: argparse.Namespace):
    """Open the estimator the shared model arguments describe."""
    return open_estimator(args.model, args.official_dir, args.domain, device=args.device,
                          precision=args.precision, resize=args.resize, threads=args.threads,
                          backend=args.backend, input_aspect=args.input_aspect)


def collect_images(inputs: list[str]) -> list[tuple[Path, str]]:
    """Image files with their output names; missing paths are errors.

    A folder's images keep their place below it (``in/a/1.png`` -> ``a/1``), so the output
    mirrors the input folders; a file given by itself is named by its stem.
    """
    images: list[tuple[Path, str]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            images.extend((p, p.relative_to(path).with_suffix("").as_posix())
                          for p in sorted(path.rglob("*")) if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            images.append((path, path.stem))
        else:
            raise FileNotFoundError(f"input not found: {path}")
    return images


def unique_names(images: list[tuple[Path, str]]) -> tuple[list[str], list[str]]:
    """Output names made unique (``1``, ``1_1``), and a note for every renamed input."""
    first: dict[str, Path] = {}
    used: set[str] = {name for _, name in images}
    names, notes = [], []
    for path, name in images:
        if name not in first:
            first[name] = path
            names.append(name)
            continue
        count = 1
        while f"{name}_{count}" in used:
            count += 1
        renamed = f"{name}_{count}"
        used.add(renamed)
        names.append(renamed)
        notes.append(f"{path} has the output name of {first[name]}: written as {renamed}")
    return names, notes


def read_rgb(path: Path) -> np.ndarray:
    """Read an image as uint8 RGB the way the reference does (PIL, convert to RGB)."""
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ValueError(f"cannot read image {path}: {exc}") from exc


def depth_picture(rgb: np.ndarray, depth: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """The PNG of one prediction: colourised depth, a colour bar in metres, maybe the input."""
    limits = depth_limits(depth, args.near, args.far)
    if limits is None:  # no valid depth at all: black, and no scale to show
        return colorize_depth(depth, colormap=args.colormap)
    parts = [colorize_depth(depth, *limits, colormap=args.colormap)]
    if args.with_input:
        parts.insert(0, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if args.colorbar:
        parts.append(colour_bar(*limits, depth.shape[1], colormap=args.colormap))
    return np.vstack(parts)


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
    """Write <name>.npy (metres) and <name>.png (colourised) for every input image."""
    check_scale_arguments(args)
    for name in ("near", "far"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            raise ValueError(f"--{name} must be > 0 metres, got {getattr(args, name)}")
    if args.near is not None and args.far is not None and args.near >= args.far:
        raise ValueError(f"--near ({args.near}) must be below --far ({args.far})")
    images = collect_images(args.inputs)
    if not images:
        raise ValueError("no images found in the given inputs")
    names, notes = unique_names(images)
    for note in notes:
        print(f"s2r-depth predict: note: {note}", file=sys.stderr)
    estimator = estimator_from_args(args)
    canonical = estimator.config.canonical_focal
    if canonical is not None and args.intrinsics is None:
        print(f"s2r-depth predict: note: a camera-aware model without --intrinsics: metres "
              f"assume its canonical camera (focal {canonical:g} px at the "
              f"{estimator.trained_size[0]}x{estimator.trained_size[1]} input it was "
              f"trained at)",
              file=sys.stderr)
    out_dir = Path(args.output)
    failures = 0
    scales: dict[str, dict] = {}
    for (path, _), name in zip(tqdm(images, desc="predict", unit="img", disable=args.quiet),
                               names):
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
            scales[name] = ground_scale_for(depth, camera or Intrinsics.guess(
                rgb.shape[1], rgb.shape[0]), args)
            depth = depth * np.float32(scales[name]["scale"])
            if scales[name]["source"] == "none" and not args.quiet:
                print(f"s2r-depth predict: {path}: no ground-plane scale "
                      f"({scales[name]['reason']}); depth left unscaled", file=sys.stderr)
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        np.save(target.with_name(target.name + ".npy"), depth.astype(np.float32))
        cv2.imwrite(str(target.with_name(target.name + ".png")), depth_picture(rgb, depth, args))
    if args.scale == "ground":
        out_dir.mkdir(parents=True, exist_ok=True)
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
    # Only the network is exported: the device, precision, resize and back-end of a run
    # do not apply, so the export opens the plain fp32 model on the CPU.
    model = open_estimator(args.model, args.official_dir, args.domain, device="cpu",
                           backend="eager").model
    if args.height or args.width:
        model.config = model.config.with_input(args.height or model.config.input_height,
                                               args.width or model.config.input_width)
    path = export_onnx(model, args.output)
    print(f"wrote {path} (input 1x3x{model.config.input_height}x{model.config.input_width})")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `predict`, `convert-official` and `export`."""
    predict = subparsers.add_parser(
        "predict", help="depth for image files or folders",
        description="Write <name>.npy (float32 metres, input resolution) and <name>.png "
        "(colourised depth with a colour bar in metres) per image. A folder's images keep "
        "their sub-folders below --output; inputs that would share a name are renamed and "
        "reported. Colours (turbo): near red, far blue, even in 1/depth; black: no depth.")
    predict.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    predict.add_argument("--output", "-o", required=True, help="output folder")
    colour = predict.add_argument_group("pictures")
    colour.add_argument("--colormap", choices=list(COLORMAPS), default="turbo",
                        metavar="{" + ",".join(COLORMAPS) + "}",
                        help="colour map of the PNG files (default turbo)")
    colour.add_argument("--near", type=float, metavar="M", help="fixed colour limit: depth "
                        "shown in the nearest colour, metres (default: each image's 2nd "
                        "percentile)")
    colour.add_argument("--far", type=float, metavar="M", help="fixed colour limit: depth "
                        "shown in the farthest colour, metres (default: each image's 98th "
                        "percentile)")
    colour.add_argument("--with-input", action="store_true",
                        help="show the input image above the depth in the PNG")
    colour.add_argument("--no-colorbar", dest="colorbar", action="store_false",
                        help="leave out the colour bar (the PNG is then the image's size)")
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

    convert = subparsers.add_parser(
        "convert-official", help="official four .pth files -> one native checkpoint",
        description="Read the official S2R-DepthNet release (struct_encoder_<set>.pth, "
        "struct_decoder_<set>.pth, dsamodels_<set>.pth, depthnet_<set>.pth with <set> vkitti "
        "or suncg) and write one "
        "native checkpoint: weights, configuration and provenance, loadable with "
        "torch.load(weights_only=True) by predict, the node and the evaluation tools.")
    convert.add_argument("directory", help="folder with the four official .pth files")
    add_domain_argument(convert, required=True)
    convert.add_argument("--output", "-o", required=True, help="checkpoint file to write (.pt)")
    convert.set_defaults(func=run_convert_official)

    export = subparsers.add_parser("export", help="export a model to ONNX",
                                   description="Folded network (BatchNorm in the convs) as "
                                   "ONNX: input 'image' 1x3xHxW in [-1, 1], output 'depth' in "
                                   "tanh units; for ONNX Runtime, OpenVINO or TensorRT.")
    export.add_argument("--format", choices=["onnx"], default="onnx",
                        help="file format; ONNX is the one there is (default onnx)")
    export.add_argument("--output", "-o", required=True, help="file to write")
    export.add_argument("--height", type=int, default=0, help="input height (default: model's)")
    export.add_argument("--width", type=int, default=0, help="input width (default: model's)")
    add_model_choice_arguments(export)
    export.set_defaults(func=run_export)
