"""GPU inference benchmark (fp32, fp16, torch.compile, CUDA graphs); run it where CUDA exists.

Usage: python benchmarks/bench_gpu.py [--configs paper lite] [--repeats 50]
Times the network alone (input already on the GPU) with CUDA events for: eager fp32, eager
fp16 (BatchNorm folded), the same with the CPU's depthwise-head rewrite (whether a GPU wants
it too), torch.compile fp16, and a captured CUDA graph of the fp16 network;
prints ms/frame, frames/s and the max |depth difference| against fp32 in metres. Then the
product path: `DepthEstimator.predict` with precision fp32 and fp16 on a 640x480 uint8 frame
(resize on the CPU, upload, network, upsampling, metres back on the host), wall time, also
with the approximate fast resize (next to a GPU network the CPU's exact resize, one Pillow
call of about 3 ms on this project's 2-core machines, may be a large part), and the
pre-processing alone.
Not run on this project's CPU machines; see BENCHMARKS.md for what has been measured.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from common import median_ms

from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions
from s2r_depth_ros.inference.optimize import fold_model
from s2r_depth_ros.model import S2RDepthNet, preset


def cuda_ms(fn, repeats: int) -> float:
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / repeats


@torch.inference_mode()
def bench_config(name: str, repeats: int) -> None:
    """Print one table row per inference path for one configuration."""
    model = S2RDepthNet(preset(name)).eval().cuda()
    cfg = model.config
    x = torch.rand(1, 3, cfg.input_height, cfg.input_width, device="cuda") * 2 - 1
    half = fold_model(model, depthwise_heads=False).half()  # the estimator's GPU graph
    depthwise_heads = fold_model(model, depthwise_heads=True).half()  # its CPU rewrite, A/B
    compiled = torch.compile(fold_model(model, depthwise_heads=False).half(),
                             mode="max-autotune-no-cudagraphs")
    static_in = x.half().clone()
    reference = model(x)
    half(static_in)  # warm-up before capture
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = half(static_in)
    paths = {
        "eager fp32": lambda: model(x),
        "folded fp16": lambda: half(static_in),
        "folded fp16, depthwise heads": lambda: depthwise_heads(static_in),
        "compile fp16": lambda: compiled(static_in),
        "CUDA graph fp16": graph.replay,
    }
    outputs = {"eager fp32": reference, "folded fp16": half(static_in),
               "folded fp16, depthwise heads": depthwise_heads(static_in),
               "compile fp16": compiled(static_in)}
    graph.replay()
    outputs["CUDA graph fp16"] = static_out
    for path, fn in paths.items():
        ms = cuda_ms(fn, repeats)
        diff = float((outputs[path].float() - reference).abs().max()) * cfg.max_depth / 2
        print(f"| {name} | {path} | {ms:.2f} | {1000 / ms:.0f} | {diff:.1e} |")
    rgb = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    depths = {}
    for precision, resize in (("fp32", "exact"), ("fp16", "exact"), ("fp16", "fast")):
        options = EstimatorOptions(device="cuda", precision=precision, resize=resize)
        estimator = DepthEstimator(model.cpu(), options)
        key = f"{precision}, {resize} resize"
        for _ in range(3):
            depths[key] = estimator.predict(rgb)
        # Wall time: both calls return host arrays or wait for their upload.
        ms = median_ms(lambda e=estimator: e.predict(rgb), repeats)
        preprocess_ms = median_ms(lambda e=estimator: e.preprocess(rgb), repeats)
        diff = float(np.abs(depths[key] - depths["fp32, exact resize"]).max())
        print(f"| {name} | DepthEstimator.predict {key}, 640x480 (pre-processing alone "
              f"{preprocess_ms:.2f} ms) | {ms:.2f} | {1000 / ms:.0f} | {diff:.1e} |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["paper", "lite"])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("bench_gpu: error: no CUDA device", file=sys.stderr)
        return 2
    torch.backends.cudnn.benchmark = True
    print("| config | path | ms/frame | frames/s | max abs diff m |\n|---|---|---|---|---|")
    for name in args.configs:
        bench_config(name, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
