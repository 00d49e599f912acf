"""Per-layer profile of the exported network under OpenVINO: where a frame's time goes.

Usage: python benchmarks/profile_openvino.py [--config lite] [--height 192] [--width 640]
       [--top 25] [--repeats 10] [--threads 2]

Exports the folded graph (what the node and `predict` run) for a preset with random weights,
runs it with OpenVINO's per-node counters (PERF_COUNT) and prints the time per operation
type and the slowest convolutions with their GFLOP/s. This is how the slow single-output
heads of the lite network were found (BENCHMARKS.md). Times are means over
``--repeats`` calls; read them as shares of one frame, not as absolute figures.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
from pathlib import Path

import numpy as np
import torch

from s2r_depth_ros.inference.export import export_onnx
from s2r_depth_ros.model import S2RDepthNet, preset

CONVOLUTIONS = ("Convolution", "GroupConvolution", "ConvolutionBackpropData")


def conv_flops(model) -> dict[str, tuple[float, list[int], list[int]]]:
    """FLOPs (1 MAC = 2), weight shape and output shape of every convolution, by node name."""
    flops = {}
    for op in model.get_ordered_ops():
        kind = op.get_type_name()
        if kind not in CONVOLUTIONS:
            continue
        weight, out = list(op.input(1).get_shape()), list(op.output(0).get_shape())
        if kind == "ConvolutionBackpropData":  # every input pixel meets the whole kernel
            macs = np.prod(list(op.input(0).get_shape())) * np.prod(weight[1:])
        elif kind == "GroupConvolution":  # weight [groups, out/g, in/g, kh, kw]
            macs = np.prod(out) * np.prod(weight[2:])
        else:
            macs = np.prod(out) * np.prod(weight[1:])
        flops[op.get_friendly_name()] = (2.0 * macs, weight, out)
    return flops


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="lite")
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import openvino

    torch.manual_seed(0)
    network = S2RDepthNet(preset(args.config).with_input(args.height, args.width)).eval()
    core = openvino.Core()
    with tempfile.TemporaryDirectory() as tmp:
        model = core.read_model(str(export_onnx(network, Path(tmp) / "network.onnx")))
    flops = conv_flops(model)
    compiled = core.compile_model(model, "CPU", {
        "INFERENCE_PRECISION_HINT": "f32", "NUM_STREAMS": "1",
        "INFERENCE_NUM_THREADS": str(args.threads), "PERF_COUNT": "YES"})
    request = compiled.create_infer_request()
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, args.height, args.width))
    x = x.astype(np.float32)
    for _ in range(3):
        request.infer({0: x})
    per_node: dict[tuple[str, str], float] = collections.defaultdict(float)
    for _ in range(args.repeats):
        request.infer({0: x})
        for info in request.get_profiling_info():
            per_node[(info.node_name, info.node_type)] += (
                info.real_time.total_seconds() * 1000 / args.repeats)

    total = sum(per_node.values())
    per_type: dict[str, float] = collections.defaultdict(float)
    for (_, kind), ms in per_node.items():
        per_type[kind] += ms
    print(f"{args.config} at {args.height}x{args.width}, {args.threads} threads: "
          f"{total:.1f} ms per frame in the nodes, "
          f"{sum(f for f, _, _ in flops.values()) / 1e9:.2f} GFLOP in the convolutions\n")
    print("| operation type | ms | share |\n|---|---|---|")
    for kind, ms in sorted(per_type.items(), key=lambda item: -item[1]):
        if ms >= 0.05:
            print(f"| {kind} | {ms:.2f} | {100 * ms / total:.0f} % |")
    print("\n| convolution | ms | GFLOP/s | weight | output |\n|---|---|---|---|---|")
    convs = [(ms, name) for (name, _), ms in per_node.items() if name in flops]
    for ms, name in sorted(convs, reverse=True)[:args.top]:
        macs, weight, out = flops[name]
        print(f"| {name.replace('/WithoutBiases', '')} | {ms:.3f} | {macs / ms / 1e6:.0f} | "
              f"{weight} | {out} |")


if __name__ == "__main__":
    main()
