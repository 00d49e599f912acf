"""Reference recipe against our exact inference paths, side by side in one process.

Usage: python benchmarks/bench_inference.py [--configs paper lite]
       [--backends eager onnxruntime openvino] [--parallel eager openvino] [--repeats 3]
       [--threads 2]

For each configuration (random weights, BN statistics randomised; speed does not depend on
the values) and one real-size 375x1242 RGB frame it times:
  - the reference recipe: PIL bicubic resize, ToTensor-style normalisation, the plain fp32
    NCHW network module by module, bilinear align_corners upsampling to the frame size;
  - our DepthEstimator.predict with each back-end (BatchNorm folded, fused convs, NHWC);
  - with --parallel, the same on --threads frames at once, one thread each (time per frame).
  - pre-processing alone (resize + normalise): the reference's (one Pillow call), ours exact
    (one Pillow call too) and with the approximate fast resize, as a share of the fastest
    exact network time.
It prints ms per frame, achieved GFLOP/s (network FLOPs / time), the fp32 matmul peak
measured in the same run (sampled between the paths, median like the paths' times), the
speed-up and the max |depth difference| in metres.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from common import matmul_peak_gflops, median_ms, network_gflops, seconds
from PIL import Image

from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions
from s2r_depth_ros.model import S2RDepthNet, preset

# Our pre-processing rows: label, resize.
PREPROCESSING_ROWS = (("exact (one Pillow call)", "exact"), ("fast, approximate", "fast"))

# Pause before each timing: the previous path's thread pool (OpenMP, ONNX Runtime) spins for
# a while after its last call and would slow the next path down.
SETTLE_S = 0.3


def random_model(name: str) -> S2RDepthNet:
    torch.manual_seed(0)
    model = S2RDepthNet(preset(name))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    return model.eval()


def reference_preprocess(model: S2RDepthNet, rgb: np.ndarray) -> torch.Tensor:
    """The reference's pre-processing: one Pillow resize, ToTensor, Normalize(0.5, 0.5)."""
    cfg = model.config
    resized = Image.fromarray(rgb).resize((cfg.input_width, cfg.input_height), Image.BICUBIC)
    x = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]
    return (x - 0.5) / 0.5


def reference_recipe(model: S2RDepthNet, rgb: np.ndarray) -> np.ndarray:
    cfg = model.config
    x = reference_preprocess(model, rgb)
    with torch.no_grad():
        structure = model.struct_decoder(model.struct_encoder(x))
        attention = model.attention(x)
        out = model.depth_net(attention * structure)[-1]
        out = F.interpolate(out, size=rgb.shape[:2], mode="bilinear", align_corners=True)
    return ((out + 1) / 2 * cfg.max_depth)[0, 0].numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["paper", "lite"])
    parser.add_argument("--backends", nargs="+", default=["eager", "onnxruntime", "openvino"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parallel", nargs="*", default=[], metavar="BACKEND",
                        help="also time these back-ends on --threads frames at once, one "
                        "thread each (throughput per frame, as the node's workers run)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rgb = np.random.default_rng(0).integers(0, 255, (375, 1242, 3), dtype=np.uint8)
    # The peak is sampled like every path: once per repeat, interleaved with them, and
    # summarised by the same median, so a noisy spell on this shared machine weighs on both.
    peaks = [matmul_peak_gflops()]
    rows = []
    for name in args.configs:
        model = random_model(name)
        flops = network_gflops(model.config)
        # Each path: torch threads while it runs, frames per call, predict call, network call.
        x = torch.rand(1, 3, model.config.input_height, model.config.input_width) * 2 - 1

        def reference_network(m=model, x=x):
            with torch.no_grad():
                return m.depth_net(m.attention(x) * m.struct_decoder(m.struct_encoder(x)))

        paths = {"reference": TimedPath(args.threads, 1, lambda m=model: reference_recipe(m, rgb),
                                    reference_network)}
        for backend in args.backends:
            options = EstimatorOptions(device="cpu", backend=backend, threads=args.threads)
            estimator = DepthEstimator(model, options)
            paths[backend] = TimedPath(args.threads, 1, lambda e=estimator: e.predict(rgb),
                                   network_call(estimator, rgb))
        for backend in args.parallel:
            options = EstimatorOptions(device="cpu", backend=backend, threads=1,
                                       workers=args.threads)
            estimator = DepthEstimator(model, options)
            network = network_call(estimator, rgb)
            paths[f"{backend}, {args.threads} frames at once"] = TimedPath(
                1, args.threads, lambda e=estimator: at_once(lambda: e.predict(rgb), args.threads),
                lambda n=network: at_once(n, args.threads))
        outputs = {}
        for key, path in paths.items():  # warm-up, and the outputs
            torch.set_num_threads(path.threads)
            outputs[key] = path.predict()
            path.network()
        times = {key: [] for key in paths}
        network_times = {key: [] for key in paths}
        for _ in range(args.repeats):
            torch.set_num_threads(args.threads)
            time.sleep(SETTLE_S)
            peaks.append(matmul_peak_gflops(repeats=1))
            for key, path in paths.items():  # interleaved: same load for every path
                torch.set_num_threads(path.threads)
                time.sleep(SETTLE_S)
                times[key].append(seconds(path.predict) / path.frames)
                time.sleep(SETTLE_S)
                network_times[key].append(seconds(path.network) / path.frames)
        torch.set_num_threads(args.threads)
        preprocess_ms = {"the reference's (one Pillow call)": median_ms(
            lambda m=model: reference_preprocess(m, rgb), 50)}
        for label, resize in PREPROCESSING_ROWS:
            options = EstimatorOptions(device="cpu", resize=resize, threads=args.threads)
            estimator = DepthEstimator(model, options)
            preprocess_ms[f"ours, resize {label}"] = median_ms(
                lambda e=estimator: e.preprocess(rgb), 50)
        torch.set_num_threads(args.threads)
        fastest_network_ms = min(statistics.median(network_times[key]) * 1000
                                 for key in paths if key != "reference")
        reference_ms = statistics.median(times["reference"]) * 1000
        for key in paths:
            ms = statistics.median(times[key]) * 1000
            network_ms = statistics.median(network_times[key]) * 1000
            diff = float(np.abs(outputs[key] - np.clip(outputs["reference"], 1e-3,
                                                       model.config.max_depth)).max())
            rows.append((name, key, flops, ms, network_ms, reference_ms / ms, diff))
        for label, ms in preprocess_ms.items():
            rows.append((name, f"pre-processing, {label}: "
                         f"{100 * ms / fastest_network_ms:.1f} % of the fastest network", 0.0,
                         ms, 0.0, 0.0, 0.0))
    peak = statistics.median(peaks)
    print(f"{args.threads} threads, batch 1, 375x1242 frame, median of {args.repeats}; fp32 "
          f"matmul peak measured in this run: {peak:.0f} GFLOP/s (median of {len(peaks)} "
          f"samples taken between the paths; best {max(peaks):.0f})\n")
    print("| config | path | GFLOP | predict ms/frame | % of peak | network ms/frame | "
          "% of peak (network) | speed-up (predict) | max abs diff m |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, key, flops, ms, network_ms, speedup, diff in rows:
        if flops:
            print(f"| {name} | {key} | {flops:.1f} | {ms:.0f} | "
                  f"{100 * flops / ms * 1000 / peak:.0f} % | {network_ms:.0f} | "
                  f"{100 * flops / network_ms * 1000 / peak:.0f} % | {speedup:.2f}x | "
                  f"{diff:.1e} |")
        else:
            print(f"| {name} | {key} | | {ms:.1f} | | | | | |")


class TimedPath(NamedTuple):
    """One way of running the model, timed end to end (predict) and network only."""

    threads: int
    frames: int
    predict: Callable[[], object]
    network: Callable[[], object]


def network_call(estimator: DepthEstimator, rgb: np.ndarray) -> Callable[[], torch.Tensor]:
    """The estimator's network alone, on the frame pre-processed once beforehand."""
    x = estimator.preprocess(rgb)

    def call() -> torch.Tensor:
        with torch.inference_mode():
            return estimator.network(x)

    return call


def at_once(call: Callable[[], object], count: int) -> object:
    """Run ``call`` on ``count`` threads at once; one of the results."""
    results: list = []
    threads = [threading.Thread(target=lambda: results.append(call())) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results[-1]


if __name__ == "__main__":
    main()
