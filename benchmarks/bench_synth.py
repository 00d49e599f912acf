"""Frames per second of the synthetic scene renderer on one core.

Usage: python benchmarks/bench_synth.py [--domain outdoor --height 192 --width 640 --frames 100]
Renders frames of SyntheticScenes one after the other in this process (numpy pinned to one
thread through the environment variables set below) and prints frames/s (median of the
rates of --rounds rounds, plus the best round) by the wall clock, and frames per CPU-second of
this process (the fairer figure on a shared machine).
"""

from __future__ import annotations

import os

# One core: keep any threaded BLAS/OpenMP inside numpy/cv2 single-threaded.
for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import cv2  # noqa: E402

from s2r_depth_ros.data.synth import SyntheticScenes  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", choices=["outdoor", "indoor"], default="outdoor")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--frames", type=int, default=100, help="frames per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    scenes = SyntheticScenes(args.domain, length=args.frames, height=args.height,
                             width=args.width, seed=args.seed)
    scenes[0]  # warm-up: imports, noise tile, allocator
    rates, cpu_rates = [], []
    for _ in range(args.rounds):
        start, cpu_start = time.perf_counter(), time.process_time()
        for index in range(args.frames):
            scenes[index]
        rates.append(args.frames / (time.perf_counter() - start))
        cpu_rates.append(args.frames / (time.process_time() - cpu_start))
    print(f"synthetic {args.domain} {args.height}x{args.width}: "
          f"{statistics.median(rates):.1f} frames/s median, {max(rates):.1f} best, "
          f"{statistics.median(cpu_rates):.1f} frames per CPU-second "
          f"({args.rounds} rounds of {args.frames} frames, 1 thread)")


if __name__ == "__main__":
    main()
