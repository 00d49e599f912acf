"""Can the network draw depth edges at all? Fit one small batch of renderings and watch.

A model whose depth is smooth on its own renderings either cannot represent the edges or has
not learnt them across scenes. This trains a copy of MODEL on one batch of ``--frames``
held-out renderings (plain L1 on metres, Adam, bf16 autocast where the CPU has bf16) and
prints the error and the depth-edge recall of ``benchmarks/depth_edges.py`` every
``--every`` steps. ``--skip-weight`` re-parametrises DP's skips first (output unchanged).

    .venv/bin/python benchmarks/overfit_batch.py indoor --domain indoor --skip-weight 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from common import HELDOUT_SIZES
from depth_edges import EdgeScore, edge_map

from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.hardware import bf16_is_fast
from s2r_depth_ros.inference import open_estimator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model file or shipped name")
    parser.add_argument("--domain", choices=sorted(HELDOUT_SIZES), default="indoor")
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--skip-weight", type=float, help="DP skip scale (default: the model's)")
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    model = open_estimator(args.model, device="cpu", threads=1, backend="eager").model
    if args.skip_weight is not None:
        model = model.with_depth_skip_weight(args.skip_weight)
    model.train()
    height, width = model.config.input_height, model.config.input_width
    scenes = SyntheticScenes(domain=args.domain, length=args.frames, height=height,
                             width=width, seed=args.seed)
    samples = [scenes[i] for i in range(args.frames)]
    images = torch.stack([torch.from_numpy(s.rgb).permute(2, 0, 1).float() / 127.5 - 1
                          for s in samples])
    depth = torch.stack([torch.from_numpy(s.depth)[None] for s in samples])
    depth = depth.clamp(1e-3 * model.config.max_depth, model.config.max_depth)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    everywhere = np.ones((height, width), bool)
    truth = [edge_map(d[0].numpy(), everywhere, 1, 0.15) for d in depth]
    start = time.perf_counter()
    print(f"{args.model}, DP skip weight {model.config.depth_skip_weight}: {args.frames} "
          f"{args.domain} renderings at {height}x{width}, lr {args.lr}")
    print("| step | L1 m | abs_rel | edge recall | edge pixels (GT / model) | s |")
    print("|---|---|---|---|---|---|")
    for step in range(args.steps + 1):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16_is_fast(torch.device("cpu"))):
            prediction = model.to_metres(model(images).float())
        loss = (prediction - depth).abs().mean()
        if step % args.every == 0:
            predicted = [edge_map(p[0], everywhere, 1, 0.15)
                         for p in prediction.detach().numpy()]
            score = EdgeScore()
            for p, t in zip(predicted, truth):
                score.add(p, t, tolerance=2)
            abs_rel = ((prediction - depth).abs() / depth).mean().item()
            print(f"| {step} | {loss.item():.3f} | {abs_rel:.3f} | "
                  f"{score.truth_hit / max(score.truth, 1):.3f} | "
                  f"{score.truth} / {score.predicted} | {time.perf_counter() - start:.0f} |",
                  flush=True)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
