"""Subcommand ``train``: offline training of all S2R-DepthNet stages."""

from __future__ import annotations

import argparse
import os
import sys

from .config import load_config
from .trainer import snapshot, train

STAGE_CHOICES = {"0": [0], "1": [1], "2": [2], "all": [0, 1, 2]}


def run_train(args: argparse.Namespace) -> int:
    """Load the YAML config, apply command-line overrides, train, report where things went."""
    if args.snapshot:
        try:
            path = snapshot(args.output, args.snapshot)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"s2r-depth train: {exc}", file=sys.stderr)
            return 2
        print(f"s2r-depth train: wrote {path}", file=sys.stderr)
        return 0
    if not args.config:
        print("s2r-depth train: --config is required (a training YAML, config/train_*.yaml)",
              file=sys.stderr)
        return 2
    overrides: dict = {}
    if args.threads is not None:
        overrides.setdefault("train", {})["threads"] = args.threads
    if args.device is not None:
        overrides.setdefault("train", {})["device"] = args.device
    if args.steps is not None:
        for stage in STAGE_CHOICES[args.stage]:
            overrides.setdefault(f"stage{stage}", {})["steps"] = args.steps
    if args.init is not None:
        overrides["model"] = {"init": args.init}
    config = load_config(args.config, overrides)
    results = train(config, STAGE_CHOICES[args.stage], args.output, resume=args.resume,
                    progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:
        return 0
    for result in results:
        held_out = "n/a" if result.held_out_loss is None else f"{result.held_out_loss:.4f}"
        print(f"stage {result.stage}: {result.steps} steps, loss {result.final_loss:.4f}, "
              f"held-out {held_out}, skipped samples {result.skipped_samples} -> "
              f"{result.model_path}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``."""
    parser = subparsers.add_parser(
        "train", help="train S2R-DepthNet stages on synthetic RGB-D data",
        description="Stage 0: structure encoder (structure/style disentanglement); stage 1: "
        "structure decoder + DepthNet; stage 2: attention (DSA) + fresh DepthNet. The complete "
        "model is written to OUTPUT/model.pt when stage 2 finishes. Multi-process: "
        "torchrun --nproc_per_node N -m s2r_depth_ros.cli train ...")
    parser.add_argument("--config",
                        help="training YAML (config/train_*.yaml); required unless --snapshot")
    parser.add_argument("--stage", choices=sorted(STAGE_CHOICES), default="all",
                        help="stage to run (default all: 0, 1, 2 in order)")
    parser.add_argument("--output", "-o", "--out", dest="output", default="runs/train",
                        help="output folder (default runs/train; --out is the older spelling)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from OUTPUT/stageN/train_state.pt; finished stages are "
                        "skipped")
    parser.add_argument("--steps", type=int, help="override the step count of the chosen stages")
    parser.add_argument("--init", help="native checkpoint to start from: stage 0, or a later "
                        "stage whose previous stage has no OUTPUT/stageN/model.pt")
    parser.add_argument("--threads", type=int, help="CPU threads per process")
    parser.add_argument("--device", help="auto, cpu or cuda (default from the config)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--snapshot", metavar="MODEL_PT",
                        help="write the model of OUT's newest checkpoint (a run in progress) to "
                             "MODEL_PT and exit, without training")
    parser.set_defaults(func=run_train)
