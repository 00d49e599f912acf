"""Per-module latency and achieved GFLOP/s of the paper and lite configurations.

Usage: python benchmarks/bench_model.py [--height 192 --width 640 --threads 2 --repeats 5]
Prints a Markdown table. All configurations run in one process, interleaved, so the ratios
are comparable even on a noisy shared machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from common import matmul_peak_gflops
from torch.utils.flop_counter import FlopCounterMode

from s2r_depth_ros.model import S2RDepthNet, preset

PARTS = ("struct_encoder", "struct_decoder", "attention", "depth_net")


def module_inputs(model: S2RDepthNet, image: torch.Tensor) -> dict[str, tuple]:
    """The input each part sees in a full forward pass."""
    with torch.inference_mode():
        code = model.struct_encoder(image)
        structure = model.struct_decoder(code)
        attention = model.attention(image)
    return {"struct_encoder": (image,), "struct_decoder": (code,), "attention": (image,),
            "depth_net": (structure * attention,), "total": (image,)}


def gflops(fn, args) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        fn(*args)
    return counter.get_total_flops() / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=192)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=["paper", "lite"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    setups = {}
    for name in args.configs:
        model = S2RDepthNet(replace(preset(name), input_height=args.height,
                                    input_width=args.width)).eval()
        image = torch.rand(1, 3, args.height, args.width) * 2 - 1
        inputs = module_inputs(model, image)
        functions = {part: getattr(model, part) for part in PARTS} | {"total": model}
        flops = {part: gflops(functions[part], inputs[part]) for part in functions}
        setups[name] = (functions, inputs, flops, {part: [] for part in functions})

    peak = matmul_peak_gflops()
    with torch.inference_mode():
        for functions, inputs, _, _ in setups.values():  # warm-up
            functions["total"](*inputs["total"])
        for _ in range(args.repeats):
            for functions, inputs, _, times in setups.values():
                for part, fn in functions.items():
                    start = time.perf_counter()
                    fn(*inputs[part])
                    times[part].append(time.perf_counter() - start)

    print(f"input {args.height}x{args.width}, batch 1, {args.threads} threads, "
          f"{args.repeats} repeats (median ms); fp32 matmul peak this run: {peak:.0f} GFLOP/s\n")
    print("| config | module | GFLOP | ms | GFLOP/s | % of peak |")
    print("|---|---|---|---|---|---|")
    for name, (_, _, flops, times) in setups.items():
        for part in (*PARTS, "total"):
            ms = statistics.median(times[part]) * 1000
            rate = flops[part] / (ms / 1000)
            print(f"| {name} | {part} | {flops[part]:.2f} | {ms:.1f} | {rate:.0f} | "
                  f"{100 * rate / peak:.0f} % |")
    if {"paper", "lite"} <= set(setups):
        ratio = (statistics.median(setups["paper"][3]["total"])
                 / statistics.median(setups["lite"][3]["total"]))
        print(f"\nlite is {ratio:.1f}x faster than paper; FLOP ratio "
              f"{setups['paper'][2]['total'] / setups['lite'][2]['total']:.1f}x")


if __name__ == "__main__":
    main()
