"""What lite-class layer widths cost and how well they use the CPU (random weights).

Usage: python benchmarks/bench_lite_widths.py [--height 128 --width 416] [--backend openvino]

Times the network alone for the shipped lite configuration and three variants (every width
raised to at least 16, one 512-bit vector of fp32; one residual block less; a 4-channel
structure map for the depth network), and prints
GFLOP, ms per frame and % of the fp32 matmul peak measured in the same run. It answers
whether "% of peak" and frames/s point the same way for small networks (they do not).
"""

from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np
import torch
from common import matmul_peak_gflops, median_ms, network_gflops

from s2r_depth_ros.inference import DepthEstimator, EstimatorOptions
from s2r_depth_ros.model import S2RDepthNet, preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=416)
    parser.add_argument("--backend", default="openvino")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    base = replace(preset("lite"), input_height=args.height, input_width=args.width)
    variants = {
        "lite (shipped)": base,
        "widths >= 16": replace(base, encoder_dim=16, decoder_widths=(16, 16),
                                dsa_widths=(16, 16, 16, 32, 48, 64, 64, 64),
                                dsa_decoder_widths=(32, 16, 16), depth_ngf=16),
        "one residual block less": replace(base, encoder_res_blocks=1),
        "4-channel structure map": replace(base, structure_channels=4),
    }
    peak = matmul_peak_gflops()
    print(f"{args.backend}, 2 threads, {args.height}x{args.width}; fp32 matmul peak {peak:.0f} "
          "GFLOP/s\n\n| variant | GFLOP | ms/frame | % of peak |\n|---|---|---|---|")
    for name, config in variants.items():
        torch.manual_seed(0)
        options = EstimatorOptions(device="cpu", threads=2, backend=args.backend)
        estimator = DepthEstimator(S2RDepthNet(config).eval(), options)
        x = estimator.preprocess(np.zeros((args.height, args.width, 3), np.uint8))
        with torch.inference_mode():
            estimator.network(x)
            ms = median_ms(lambda e=estimator, x=x: e.network(x), args.repeats)
        gflops = network_gflops(config)
        print(f"| {name} | {gflops:.2f} | {ms:.1f} | {100 * gflops / ms * 1000 / peak:.0f} % |")


if __name__ == "__main__":
    main()
