"""Subcommand `demo`: the real node on the project's own rendered camera stream."""

from __future__ import annotations

import argparse


def run_demo_command(args: argparse.Namespace) -> int:
    """Render, stream to the node, record; see :mod:`s2r_depth_ros.ros.demo`."""
    from .demo import main as demo_main  # imports rclpy only when the demo really runs

    forwarded = ["--output", args.output, "--model", args.model, "--frames", str(args.frames),
                 "--rate", str(args.rate), "--device", args.device]
    return demo_main(forwarded)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `demo`."""
    demo = subparsers.add_parser("demo", help="run the node on a rendered camera stream",
                                 description="Renders a synthetic driving sequence, streams "
                                 "it to depth_node over loopback DDS, writes depth PNGs, a "
                                 "PLY and a latency summary.")
    demo.add_argument("--output", "-o", default="out/demo",
                      help="folder for frames/*.png, cloud.ply, summary.md/.json "
                      "(default out/demo)")
    demo.add_argument("--model", default="outdoor", help="checkpoint file or shipped model "
                      "name: outdoor, indoor (default outdoor)")
    demo.add_argument("--frames", type=int, default=40,
                      help="rendered frames to stream (default 40)")
    demo.add_argument("--rate", type=float, default=10.0,
                      help="camera rate in Hz (default 10)")
    demo.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (default auto)")
    demo.set_defaults(func=run_demo_command)
