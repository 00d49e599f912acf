"""Subcommands `eval` (manifest or folders), `eval-bag` (bags with GT depth) and `replay`."""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

from tqdm import tqdm

from ..inference.cli import add_model_arguments, estimator_from_args
from .baselines import BASELINES
from .metrics import CROPS, PROTOCOLS, Protocol, clamp_flattery, protocol_for_depth
from .runner import DepthMethod, Evaluation, Frame, baseline_method, model_method
from .scale_eval import (
    ScaleEvalConfig,
    add_scale_arguments,
    scale_config_from_args,
    scale_methods,
    scale_report,
    scale_table,
)

REPO = Path(__file__).resolve().parents[2]
DEFAULT_MANIFEST = REPO.parent / "shared" / "real_rgbd" / "manifest.json"
AUTO = "auto"  # eval-bag's default protocol: chosen from the ground truth


def add_protocol_arguments(parser: argparse.ArgumentParser) -> None:
    """Overrides of the protocol presets, and what to compare."""
    group = parser.add_argument_group("protocol")
    group.add_argument("--crop", choices=CROPS, help="crop (default: the protocol's)")
    group.add_argument("--min-depth", type=float, help="lower depth bound in metres")
    group.add_argument("--max-depth", type=float, help="upper depth bound in metres")
    group.add_argument("--no-model", action="store_true", help="score the baselines only")
    group.add_argument("--no-baselines", action="store_true", help="score the model only")
    group.add_argument("--report-frames", type=int, default=6,
                       help="frames per group shown as images in report.html (default 6)")
    group.add_argument("--limit", type=int, help="evaluate at most N frames (per group for eval)")
    group.add_argument("--output", "-o", required=True, help="folder for metrics.json, "
                       "frames.csv and report.html")
    group.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def _check_common(args: argparse.Namespace) -> None:
    if args.limit is not None and args.limit < 1:
        raise ValueError(f"--limit must be >= 1, got {args.limit}")
    if args.report_frames < 0:
        raise ValueError(f"--report-frames must be >= 0, got {args.report_frames}")
    if args.no_model and args.no_baselines:
        raise ValueError("--no-model and --no-baselines leave nothing to evaluate")


def _protocol(base: Protocol, args: argparse.Namespace) -> Protocol:
    return base.with_overrides(args.crop, args.min_depth, args.max_depth)


def _methods(args: argparse.Namespace, scale: ScaleEvalConfig | None = None
             ) -> tuple[dict[str, DepthMethod], dict, dict]:
    """The model (unless --no-model) and its scale variants, then the baselines.

    Also returns the scale variants by name (empty without scale modes).
    """
    methods: dict[str, DepthMethod] = {}
    info: dict = {}
    scaled: dict = {}
    if not args.no_model:
        estimator = estimator_from_args(args)
        cfg = estimator.config
        methods["model"] = model_method(estimator)
        if scale is not None and set(scale.modes) - {"none"}:
            variants, scaled = scale_methods(estimator, scale)
            methods.update(variants)
        info["model"] = {"source": args.official_dir or args.model or "outdoor (shipped)",
                         "config": cfg.name, "input": f"{cfg.input_width}x{cfg.input_height}",
                         "input_aspect": args.input_aspect, "max_depth": cfg.max_depth}
    if not args.no_baselines:
        for name in BASELINES:
            methods[name] = baseline_method(name)
    return methods, info, scaled


def _add_scale_report(evaluation: Evaluation, args: argparse.Namespace, info: dict,
                      scaled: dict, scale: ScaleEvalConfig, sequences: bool) -> None:
    """Put the scale modes' figures into ``info`` (metrics.json) and print their table."""
    if not scaled or not evaluation.rows:
        return
    info["scale"] = scale_report(evaluation, scaled, scale, sequences)
    if not args.quiet:
        print(scale_table(info["scale"]))


def _finish(evaluation: Evaluation, args: argparse.Namespace, info: dict, title: str) -> None:
    evaluation.write(args.output, info, title)
    if not args.quiet:
        print(evaluation.table())
        print(f"wrote {Path(args.output) / 'metrics.json'}, frames.csv and report.html")


def run_eval(args: argparse.Namespace) -> int:
    """Score the model and the baselines on the manifest or on an image + depth folder."""
    from .sources import folder_sources, manifest_sources

    _check_common(args)
    if bool(args.rgb_dir) != bool(args.depth_dir):
        raise ValueError("--rgb-dir and --depth-dir go together")
    if args.rgb_dir:
        sources, missing = folder_sources(args.rgb_dir, args.depth_dir, args.depth_scale,
                                          args.protocol, args.intrinsics, args.limit)
        source = {"rgb_dir": args.rgb_dir, "depth_dir": args.depth_dir,
                  "depth_scale": args.depth_scale, "images_without_depth": missing}
        protocols = {args.protocol: _protocol(PROTOCOLS[args.protocol], args)}
    else:
        sources = manifest_sources(args.manifest, args.limit)
        source = {"manifest": str(args.manifest)}
        protocols = {name: _protocol(p, args) for name, p in PROTOCOLS.items()}
    scale = scale_config_from_args(args, sequences=False)
    methods, info, scaled = _methods(args, scale)
    evaluation = Evaluation(methods, protocols, report_frames=args.report_frames)
    for item in tqdm(sources, desc="eval", unit="frame", disable=args.quiet):
        evaluation.add(item.load())
    if not evaluation.rows:
        raise ValueError("no frame had valid ground truth inside the protocol's range and crop")
    _add_scale_report(evaluation, args, info, scaled, scale, sequences=False)
    _note_clamped_ranges(evaluation, info)
    _finish(evaluation, args, {"command": "eval", "source": source, **info}, "s2r-depth eval")
    return 0


def _note_clamped_ranges(evaluation: Evaluation, info: dict) -> None:
    """Point out a model whose too-far predictions the protocol's clamp flattens."""
    if "model" not in info:
        return
    for group, methods in evaluation.summaries().items():
        summary = methods.get("model")
        why = summary and clamp_flattery(summary, evaluation.groups[group].protocol,
                                         info["model"]["max_depth"])
        if why:
            _note("eval", f"{group}: {why}; --max-depth M scores them unclamped")


def _note(command: str, text: str) -> None:
    """A line the user should see even with --quiet (a choice made for them, a mismatch)."""
    print(f"s2r-depth {command}: note: {text}", file=sys.stderr)


def _bag_protocol(args: argparse.Namespace, first_gt) -> Protocol:
    """--protocol, or with 'auto' the one the ground truth fits; a mismatch is pointed out."""
    fitting, why = protocol_for_depth(first_gt)
    if args.protocol == AUTO:
        _note("eval-bag", f"protocol {fitting.name}, chosen from the data: {why} "
              "(--protocol to set it)")
        chosen = fitting
    else:
        chosen = PROTOCOLS[args.protocol]
        if chosen is not fitting:
            _note("eval-bag", f"--protocol {chosen.name}, but the ground truth looks "
                  f"{fitting.name}: {why}")
    if chosen.name == "indoor" and not args.no_model and not (args.model or args.official_dir):
        _note("eval-bag", "scoring the shipped outdoor model; --protocol does not choose the "
              "model: --model indoor for the indoor one")
    return _protocol(chosen, args)


def run_eval_bag(args: argparse.Namespace) -> int:
    """Pair images with GT depth in a bag by stamp, score them, optionally write a depth bag."""
    from .bag_io import BagError, BagPairReader, DepthBagWriter

    _check_common(args)
    if args.write_bag and Path(args.write_bag).exists():
        raise ValueError(f"--write-bag target {args.write_bag} exists already")
    scale = scale_config_from_args(args, sequences=True)
    with BagPairReader(args.bag, args.image_topic, args.gt_depth_topic, args.camera_info_topic,
                       args.stamp_tolerance) as reader:
        stats = reader.plan()
        if stats.matched == 0:
            reason = f"; {stats.error}" if stats.error else ""
            raise BagError(f"no image on {args.image_topic} has a ground-truth message within "
                           f"{args.stamp_tolerance} s ({stats.images} images, "
                           f"{stats.gt_messages} GT messages){reason}")
        pairs = reader.pairs(args.limit)
        first = next(pairs, None)
        protocol = _bag_protocol(args, first.gt) if first is not None else _protocol(
            PROTOCOLS["outdoor" if args.protocol == AUTO else args.protocol], args)
        methods, info, scaled = _methods(args, scale)
        evaluation = Evaluation(methods, {protocol.name: protocol},
                                report_frames=args.report_frames)
        writer = None
        if args.write_bag:
            colour_range = (max(protocol.min_depth, protocol.max_depth / 100), protocol.max_depth)
            writer = DepthBagWriter(args.write_bag, args.image_topic, args.write_storage,
                                    cloud_stride=args.cloud_stride, colour_range=colour_range)
        scored = 0
        try:
            for pair in tqdm(itertools.chain([first] if first else [], pairs),
                             total=reader.matched_count(args.limit), desc="eval-bag",
                             unit="frame", disable=args.quiet):
                frame = Frame(name=f"{pair.index:06d}", rgb=pair.rgb, gt=pair.gt,
                              group=protocol.name, camera=pair.camera, stamp_ns=pair.stamp_ns)
                predictions = evaluation.add(frame)
                scored += 1
                if writer is not None:
                    writer.write_frame(pair.rgb, next(iter(predictions.values())),
                                       pair.stamp_ns, pair.frame_id, pair.camera,
                                       pair.log_time_ns)
        finally:
            if writer is not None:
                writer.close()
    info = {"command": "eval-bag",
            "source": {"bag": str(args.bag), "image_topic": args.image_topic,
                       "gt_depth_topic": args.gt_depth_topic,
                       "camera_info_topic": reader.camera_info_topic,
                       "stamp_tolerance_s": args.stamp_tolerance, "limit": args.limit},
            "protocol_choice": args.protocol, "pairing": stats.to_dict(), **info}
    if args.write_bag:
        info["written_bag"] = {"path": str(args.write_bag), "storage": args.write_storage,
                               "frames": writer.frames}
    if evaluation.rows:
        _add_scale_report(evaluation, args, info, scaled, scale, sequences=True)
        _finish(evaluation, args, info, "s2r-depth eval-bag")
    if not args.quiet:
        valid = len(evaluation.rows) // len(methods)
        limited = f" (--limit {args.limit})" if args.limit is not None else ""
        print(f"scored {valid} of {scored} paired frames read{limited}; the bag has "
              f"{stats.images} images, {stats.gt_messages} GT messages, {stats.matched} "
              f"matched, {len(stats.unmatched_image_stamps)} images without GT within "
              f"{args.stamp_tolerance} s", file=sys.stderr)
    if stats.error:
        kept = (f"; partial results for {len(evaluation.rows) // len(methods)} frames in "
                f"{args.output}") if evaluation.rows else ""
        raise BagError(stats.error + kept)
    if not evaluation.rows:
        detail = f" ({stats.decode_errors[0]})" if stats.decode_errors else ""
        raise BagError(f"no paired frame could be scored{detail}")
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Replay a bag's camera stream into the real depth node and measure it."""
    from .replay import replay_from_args  # imports rclpy: only when replaying

    return replay_from_args(args)


def register_replay(subparsers: argparse._SubParsersAction) -> None:
    """Add `replay`."""
    replay = subparsers.add_parser(
        "replay", help="play a bag into the real depth node; latency, throughput, drops",
        description="Starts depth_node (or uses a running one: --attach), publishes the bag's "
        "images and camera_info over loopback DDS with their original header stamps, records "
        "what the node publishes and writes replay.json and report.html. Latency is output "
        "arrival minus the time the input was published.")
    replay.add_argument("bag", help="rosbag2 folder, .mcap/.db3 file, or ROS 1 .bag")
    replay.add_argument("--image-topic", required=True, help="sensor_msgs/Image topic to replay "
                        "(published under the same name)")
    replay.add_argument("--camera-info-topic", help="CameraInfo topic (default: camera_info "
                        "beside the image topic, if present)")
    pace = replay.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, default=1.0,
                      help="speed factor on the recorded timing (default 1.0)")
    pace.add_argument("--max-speed", action="store_true", help="closed loop: the next frame "
                      "goes out when the node answered the previous one (or --answer-timeout)")
    replay.add_argument("--clock", action="store_true", help="publish /clock from the bag's "
                        "log times and run the node with use_sim_time:=true (with --attach, "
                        "the node must have use_sim_time set)")
    replay.add_argument("--restamp", action="store_true",
                        help="stamp inputs with the publish time instead of keeping the bag's")
    replay.add_argument("--limit", type=int, help="replay at most N images")
    replay.add_argument("--output", "-o", required=True,
                        help="folder for replay.json, report.html and node.log")
    replay.add_argument("--write-bag", help="write a rosbag2 with the inputs as published and "
                        "every node output (depth, camera_info, points, colourised)")
    replay.add_argument("--write-storage", choices=["sqlite3", "mcap"], default="sqlite3",
                        help="storage of --write-bag (default sqlite3)")
    node = replay.add_argument_group("node")
    node.add_argument("--attach", action="store_true", help="use a depth node already running "
                      "in ROS_DOMAIN_ID that listens on the bag's topic names")
    node.add_argument("--depth-namespace", default="/depth",
                      help="where the node publishes image, camera_info, points, colorized "
                      "(default /depth)")
    node.add_argument("--param", action="append", metavar="NAME:=VALUE",
                      help="extra node parameter, e.g. points_stride:=2 (repeatable)")
    node.add_argument("--startup-timeout", type=float, default=120.0,
                      help="seconds to wait for the node's first answer (default 120)")
    node.add_argument("--answer-timeout", type=float, default=5.0,
                      help="seconds to wait for one frame's outputs: each frame's at "
                      "--max-speed, and the warm-up frame's, which tell which outputs the node "
                      "gives (default 5)")
    node.add_argument("--drain", type=float, default=3.0,
                      help="seconds to wait for outstanding outputs at the end (default 3)")
    replay.add_argument("--quiet", action="store_true", help="no progress bar")
    add_model_arguments(replay)
    replay.set_defaults(func=run_replay)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `eval`, `eval-bag` and `replay`."""
    evaluate = subparsers.add_parser(
        "eval", help="score the model and no-learning baselines against GT depth",
        description="S2R protocol (clamp, range mask, crop, per-image median scaling) on the "
        "real-RGB-D manifest (grouped by domain: outdoor_driving -> outdoor, indoor -> indoor) "
        "or on an image folder with a same-stem depth folder.")
    evaluate.add_argument("--manifest", type=Path, default=DEFAULT_MANIFEST,
                          help=f"manifest.json (default {DEFAULT_MANIFEST})")
    evaluate.add_argument("--rgb-dir", help="image folder (instead of the manifest)")
    evaluate.add_argument("--depth-dir", help="depth folder: <stem>.png/.pgm/.tif/.npy")
    evaluate.add_argument("--depth-scale", type=float, default=0.001,
                          help="metres per raw depth unit (default 0.001: millimetre PNG; "
                          "1 for .npy in metres)")
    evaluate.add_argument("--protocol", choices=sorted(PROTOCOLS), default="outdoor",
                          help="protocol for folder evaluation: depth range and crop (default "
                          "outdoor); it does not choose the model (--model indoor for that)")
    evaluate.add_argument("--intrinsics", type=float, nargs=4, metavar=("FX", "FY", "CX", "CY"),
                          help="camera of the folder images, for the ground-plane baseline "
                          "(default: focal = width, centred)")
    add_protocol_arguments(evaluate)
    add_scale_arguments(evaluate, sequences=False)
    add_model_arguments(evaluate)
    evaluate.set_defaults(func=run_eval)

    bag = subparsers.add_parser(
        "eval-bag", help="evaluate on a rosbag (ROS 2 sqlite3/MCAP or ROS 1) with GT depth",
        description="Pairs images with ground-truth depth (32FC1 metres or 16UC1 millimetres) "
        "by header stamp, scores them like `eval`, and can write a rosbag2 with the results.")
    bag.add_argument("bag", help="rosbag2 folder, .mcap/.db3 file, or ROS 1 .bag")
    bag.add_argument("--image-topic", required=True, help="sensor_msgs/Image colour topic")
    bag.add_argument("--gt-depth-topic", required=True, help="sensor_msgs/Image depth topic")
    bag.add_argument("--camera-info-topic", help="CameraInfo topic (default: camera_info "
                     "beside the image topic, if present)")
    bag.add_argument("--stamp-tolerance", type=float, default=0.02,
                     help="largest image/GT stamp difference in seconds (default 0.02)")
    bag.add_argument("--protocol", choices=[AUTO, *sorted(PROTOCOLS)], default=AUTO,
                     help="scoring preset: depth range and crop (outdoor: Garg crop, "
                     "1e-3..80 m; indoor: no crop, 1e-3..10 m). Default auto: indoor when 99 %% "
                     "of the first frame's ground truth lies within 10 m, else outdoor. It does "
                     "not choose the model: --model indoor for the shipped indoor one")
    bag.add_argument("--write-bag", help="write a rosbag2 (metadata version 8) with images, "
                     "depth, colourised depth, camera_info and points")
    bag.add_argument("--write-storage", choices=["sqlite3", "mcap"], default="sqlite3",
                     help="storage of --write-bag (default sqlite3)")
    bag.add_argument("--cloud-stride", type=int, default=2,
                     help="pixel stride of the written point clouds (default 2)")
    add_protocol_arguments(bag)
    add_scale_arguments(bag, sequences=True)
    add_model_arguments(bag)
    bag.set_defaults(func=run_eval_bag)

    register_replay(subparsers)
