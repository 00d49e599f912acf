"""Measurement helpers shared by the benchmark scripts (run them from the repo root)."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from s2r_depth_ros.model import S2RConfig, S2RDepthNet


def seconds(fn: Callable[[], object]) -> float:
    """Wall time of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    """Median milliseconds over ``repeats`` calls."""
    return statistics.median(seconds(fn) for _ in range(repeats)) * 1000


def matmul_peak_gflops(n: int = 4096, repeats: int = 3) -> float:
    """The machine's fp32 limit as torch sees it: best n x n matmul rate, GFLOP/s."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    return 2 * n**3 / min(seconds(lambda: a @ b) for _ in range(repeats)) / 1e9


def network_gflops(config: S2RConfig) -> float:
    """Conv/matmul FLOPs of one forward pass at the configuration's input size (1 MAC = 2)."""
    meta = S2RDepthNet(config).to("meta")
    with FlopCounterMode(display=False) as counter:
        meta(torch.empty(1, 3, config.input_height, config.input_width, device="meta"))
    return counter.get_total_flops() / 1e9


# Held-out renderings are drawn at a real camera's size: KITTI's outdoors, Kinect's indoors.
HELDOUT_SIZES = {"outdoor": (375, 1242), "indoor": (480, 640)}


def heldout_parser(description: str) -> argparse.ArgumentParser:
    """Arguments of the scripts that score models on held-out renderings."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("models", nargs="+", help="model files or shipped names")
    parser.add_argument("--domain", choices=sorted(HELDOUT_SIZES), default="outdoor")
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--seed", type=int, default=424242, help="unused by every config")
    return parser
