"""`s2r-depth replay`: play a bag's camera stream into the real depth node and measure it.

The node runs in its own process (or is already running: ``--attach``). The player
(:mod:`.player`) publishes the bag's images and camera_info (:mod:`.source`) over loopback
DDS; the recorder (:mod:`.recorder`) notes when each of the node's outputs arrives; the
summary (:mod:`.summary`) turns that into replay.json, the printed table and report.html.
Header stamps are kept by default; latency is always measured from the replayed publish
time (see :mod:`.summary`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .player import Replay, ReplayOptions
from .summary import summary_text

__all__ = ["Replay", "ReplayOptions", "replay_from_args", "summary_text"]


def replay_from_args(args: argparse.Namespace) -> int:
    """Run ``s2r-depth replay`` from parsed arguments."""
    model_options = {"model": args.model, "official_dir": args.official_dir,
                     "threads": args.threads}
    params = {}
    if args.attach:
        given = [name for name, value in (("--model", args.model),
                                          ("--official-dir", args.official_dir),
                                          ("--threads", args.threads),
                                          ("--param", args.param)) if value]
        if given or args.precision != "fp32" or args.resize != "exact" or args.device != "auto" \
                or args.input_aspect != "auto":
            raise ValueError(f"--attach uses the running node; {', '.join(given) or 'model '}"
                             " options do not apply")
    else:
        params = {**model_options, "domain": args.domain, "device": args.device,
                  "precision": args.precision, "resize": args.resize,
                  "input_aspect": args.input_aspect}
        for item in args.param or []:
            key, sep, value = item.partition(":=")
            if not sep or not key:
                raise ValueError(f"--param expects NAME:=VALUE, got {item!r}")
            params[key] = value
    options = ReplayOptions(
        bag=Path(args.bag), image_topic=args.image_topic, output=Path(args.output),
        camera_info_topic=args.camera_info_topic, rate=args.rate, max_speed=args.max_speed,
        clock=args.clock, limit=args.limit, restamp=args.restamp, attach=args.attach,
        node_params=params, depth_namespace=args.depth_namespace,
        answer_timeout_s=args.answer_timeout, drain_s=args.drain,
        startup_timeout_s=args.startup_timeout,
        write_bag=Path(args.write_bag) if args.write_bag else None,
        write_storage=args.write_storage, quiet=args.quiet)
    summary = Replay(options).run()
    print(summary_text(summary))
    print(f"wrote {options.output / 'replay.json'}, report.html"
          + ("" if args.attach else ", node.log"))
    if summary["frames_answered"] == 0:
        raise RuntimeError("the node answered none of the replayed frames")
    return 0
