"""`s2r-depth`: one command, one subcommand per job.

Each package registers its own subcommands (``register(subparsers)``); this module only
assembles them and turns expected failures into a one-line reason and a non-zero exit.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import first_line

# Modules that define subcommands, in the order they appear in --help.
COMMAND_MODULES = (
    "s2r_depth_ros.inference.cli",
    "s2r_depth_ros.data.cli",
    "s2r_depth_ros.training.cli",
    "s2r_depth_ros.evaluation.cli",
    "s2r_depth_ros.ros.cli",
)


class CommandError(RuntimeError):
    """An expected failure: reported as one line, exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="s2r-depth", description="S2R-DepthNet monocular depth: predict, train, evaluate.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``s2r-depth`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("s2r-depth: interrupted", file=sys.stderr)
        return 130
    except (CommandError, OSError, ValueError, RuntimeError) as exc:
        print(f"s2r-depth {args.command}: error: {first_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
