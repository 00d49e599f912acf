"""A/B of the depthwise-head rewrite under OpenVINO, interleaved in one process.

Usage: python benchmarks/bench_rewrites.py [--configs lite paper] [--height 192]
       [--width 640] [--repeats 60] [--threads 2]

For each configuration (random weights) it exports the folded network twice, as the product
runs it on a CPU (single-output convs as depthwise conv + channel sum, `ChannelSumConv`) and
with plain one-output convs (`export_onnx(..., depthwise_heads=False)`), then times both
OpenVINO networks call by call in alternation, so the machine's noise falls on both alike.
Prints the median and quartiles per graph, the speed-up and the max |difference| of their
outputs (tanh units).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch
from common import seconds

from s2r_depth_ros.inference.export import OpenVinoNetwork, export_onnx
from s2r_depth_ros.model import S2RDepthNet, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["lite"])
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    print(f"OpenVINO f32, {args.threads} threads, {args.height}x{args.width}, "
          f"{args.repeats} alternating calls each\n")
    print("| config | heads | median ms | quartiles ms | speed-up | max abs diff |")
    print("|---|---|---|---|---|---|")
    for name in args.configs:
        torch.manual_seed(0)
        model = S2RDepthNet(preset(name).with_input(args.height, args.width)).eval()
        shape = (1, 3, args.height, args.width)
        x = torch.rand(shape) * 2 - 1
        graphs = {}
        with tempfile.TemporaryDirectory() as tmp:
            for label, depthwise_heads in (("plain one-output convs", False),
                                           ("depthwise + channel sum", True)):
                path = export_onnx(model, Path(tmp) / f"{len(graphs)}.onnx",
                                   depthwise_heads=depthwise_heads)
                graphs[label] = OpenVinoNetwork(path, threads=args.threads)
        outputs = {label: run(x) for label, run in graphs.items()}
        times: dict[str, list[float]] = {label: [] for label in graphs}
        for _ in range(args.repeats):
            for label, run in graphs.items():
                times[label].append(seconds(lambda r=run, x=x: r(x)) * 1000)
        baseline = statistics.median(times["plain one-output convs"])
        reference = outputs["plain one-output convs"]
        for label, samples in times.items():
            q1, _, q3 = statistics.quantiles(samples, n=4)
            median = statistics.median(samples)
            diff = float((outputs[label] - reference).abs().max())
            print(f"| {name} | {label} | {median:.1f} | {q1:.1f}-{q3:.1f} | "
                  f"{baseline / median:.2f}x | {diff:.1e} |")


if __name__ == "__main__":
    main()
