"""Subcommand `demo`: the real node on the project's own rendered camera stream.

Its arguments are defined once, here (:func:`add_demo_arguments`), for both
`s2r-depth demo` and `python -m s2r_depth_ros.ros.demo`.
"""

from __future__ import annotations

import argparse

DEMO_DESCRIPTION = ("Renders a synthetic driving sequence, streams it to depth_node over "
                    "loopback DDS, writes depth PNGs, a PLY and a latency summary.")


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """The demo's options (with their defaults)."""
    parser.add_argument("--output", "-o", default="out/demo",
                        help="folder for frames/*.png, cloud.ply, summary.md/.json "
                        "(default: %(default)s)")
    parser.add_argument("--model", default="outdoor", help="checkpoint file or shipped model "
                        "name: outdoor, indoor (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=40,
                        help="frames to stream (default: %(default)s)")
    parser.add_argument("--rate", type=float, default=10.0,
                        help="camera rate in Hz (default: %(default)s)")
    parser.add_argument("--height", type=int, default=384,
                        help="rendered image height (default: %(default)s)")
    parser.add_argument("--width", type=int, default=1280,
                        help="rendered image width (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=2021,
                        help="scene seed (default: %(default)s)")
    parser.add_argument("--device", default="auto",
                        help="auto, cpu or cuda[:N] (default: %(default)s)")


def run_demo_command(args: argparse.Namespace) -> int:
    """Render, stream to the node, record; see :mod:`s2r_depth_ros.ros.demo`."""
    from .demo import run_parsed  # imports rclpy only when the demo really runs

    return run_parsed(args)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add `demo`."""
    demo = subparsers.add_parser("demo", help="run the node on a rendered camera stream",
                                 description=DEMO_DESCRIPTION)
    add_demo_arguments(demo)
    demo.set_defaults(func=run_demo_command)
