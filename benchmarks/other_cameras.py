"""Other cameras: squash every image to the model input, or keep the camera aspect.

No real frames from 4:3, 16:9 or square cameras with metric depth are at hand outdoors (nor
16:9 ones indoors), so this makes them from the frames of ../shared/real_rgbd (``--group``):
the largest window of the target aspect centred on the principal point (cx, cy shifted to
match). Each model is scored on them in each ``input_aspect`` way that gives another network
size (squash: the model's input size whatever the aspect; camera: about the same pixel count
at the camera's aspect; auto: camera within the aspects the model was trained on, else
squash). Prints scaled and raw abs_rel / delta1 per model, aspect and way; the camera reaches
the estimator, so camera-aware models give their metres.

    .venv/bin/python benchmarks/other_cameras.py outdoor runs/outdoor_ft/stage2/model.pt
    .venv/bin/python benchmarks/other_cameras.py indoor --group indoor
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from s2r_depth_ros.evaluation.metrics import PROTOCOLS
from s2r_depth_ros.evaluation.runner import Evaluation, Frame, model_method
from s2r_depth_ros.evaluation.sources import manifest_sources
from s2r_depth_ros.geometry import Intrinsics
from s2r_depth_ros.inference import open_estimator

# The camera aspects each group's frames are cut to (None: the frames as they are).
ASPECTS = {"outdoor": {"3.3:1 (KITTI)": None, "16:9": 16 / 9, "4:3": 4 / 3, "1:1": 1.0},
           "indoor": {"4:3 (Kinect)": None, "16:9": 16 / 9, "1:1": 1.0}}


def crop_to_aspect(frame: Frame, aspect: float | None) -> Frame:
    """The frame's largest window of ``aspect`` (width / height) centred on the principal point.

    Full height for narrower aspects than the frame's, full width for wider ones.
    """
    if aspect is None:
        return frame
    height, width = frame.rgb.shape[:2]
    cam = frame.camera_at_image()
    cols = min(width, int(round(height * aspect)))
    rows = min(height, int(round(cols / aspect)))
    left = int(round(min(max(cam.cx - cols / 2, 0), width - cols)))
    top = int(round(min(max(cam.cy - rows / 2, 0), height - rows)))
    # The depth has the image's size in these sets; guard anyway, the window is in RGB pixels.
    if frame.gt.shape != (height, width):
        raise ValueError(f"{frame.name}: ground truth {frame.gt.shape} is not the image size")
    camera = Intrinsics(cam.fx, cam.fy, cam.cx - left, cam.cy - top, cols, rows)
    window = (slice(top, top + rows), slice(left, left + cols))
    return Frame(name=frame.name, rgb=frame.rgb[window].copy(), gt=frame.gt[window].copy(),
                 group=frame.group, camera=camera)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", help="model files or shipped names")
    parser.add_argument("--manifest", default="../shared/real_rgbd/manifest.json")
    parser.add_argument("--group", choices=sorted(ASPECTS), default="outdoor")
    args = parser.parse_args(argv)
    frames = [s.load() for s in manifest_sources(args.manifest) if s.group == args.group]
    print(f"{len(frames)} {args.group} frames; scaled = per-image median scaling, raw = the "
          "model's metres")
    print("| model | camera | network input | scaled abs_rel | delta1 | raw abs_rel | "
          "raw delta1 |\n|---|---|---|---|---|---|---|")
    for model in args.models:
        estimators = {way: open_estimator(model, device="cpu", threads=1, input_aspect=way)
                      for way in ("squash", "camera", "auto")}
        for label, aspect in ASPECTS[args.group].items():
            crops = [crop_to_aspect(frame, aspect) for frame in frames]
            # One column per network size: ways that give the same size share it.
            ways: dict[tuple[int, int], list[str]] = {}
            for way, estimator in estimators.items():
                ways.setdefault(estimator.network_size(crops[0].rgb.shape[:2]), []).append(way)
            methods = {" = ".join(names): model_method(estimators[names[0]])
                       for names in ways.values()}
            evaluation = Evaluation(methods, {args.group: PROTOCOLS[args.group]},
                                    report_frames=0)
            for crop in tqdm(crops, desc=f"{Path(model).name} {label}", leave=False):
                evaluation.add(crop)
            sizes = {" = ".join(names): size for size, names in ways.items()}
            for way, s in evaluation.summaries()[args.group].items():
                h, w = sizes[way]
                print(f"| {model} | {label} | {h}x{w} ({way}) | {s.scaled.abs_rel:.4f} | "
                      f"{s.scaled.delta1:.3f} | {s.raw.abs_rel:.4f} | {s.raw.delta1:.3f} |",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
