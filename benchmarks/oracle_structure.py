"""What must the structure map carry for DP to draw depth steps? Train DP alone on oracles.

The indoor model draws about a tenth of each true depth step (``depth_edges.py``'s
contrast). This trains only MODEL's depth network (DP) for ``--steps`` steps on streamed
renderings, fed one of:

- ``model``: the model's own structure x attention (frozen), as in stage 2;
- ``edges``: an oracle structure map, the true log-depth edge strength |dx| + |dy| (where
  depth jumps, not which side is nearer: what a perfect edge-like structure map shows);
- ``signed``: the edge strength plus the signed log-depth differences dx, dy (which side is
  nearer too); a model with fewer structure channels is widened to three first.

Every ``--every`` steps it prints median-scaled abs_rel and edge contrast of the full-size
output on 16 unseen renderings (seed 999). For a model with three or more structure
channels it first prints how much of the signed log-depth steps its map's last two channels
carry (``stage2.signed_structure_weight``): their signed-step loss against a flat 0.5 map's.
Training: the stage-2 loss (L1 + 0.5 log-depth + 1.0 log-depth gradient), Adam, batch 4,
bf16 autocast where the CPU has bf16, one thread.

    .venv/bin/python benchmarks/oracle_structure.py indoor --input signed --steps 600
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F
from common import HELDOUT_SIZES
from depth_edges import contrast

from s2r_depth_ros.data.synth import SyntheticScenes
from s2r_depth_ros.hardware import bf16_is_fast
from s2r_depth_ros.inference import open_estimator
from s2r_depth_ros.model import S2RDepthNet
from s2r_depth_ros.training.augment import depth_to_unit, image_to_tensor
from s2r_depth_ros.training.losses import depth_loss, signed_structure_loss

BATCH = 4
UNSEEN = 16
CONTRAST_RADIUS = 4  # network pixels, as depth_edges.py
SIGNED_CHANNELS = 3  # edge strength, dx, dy


def load(scenes: SyntheticScenes, indices: range, max_depth: float
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Images in [-1, 1] and depth in metres (clamped to the model's range) of some scenes."""
    samples = [scenes[i] for i in indices]
    images = torch.stack([image_to_tensor(s.rgb) for s in samples])
    depth = torch.stack([torch.from_numpy(s.depth)[None] for s in samples])
    return images, depth.clamp(1e-3 * max_depth, max_depth)


def dp_input(model: S2RDepthNet, kind: str, images: torch.Tensor, depth: torch.Tensor
             ) -> torch.Tensor:
    """What DP reads: the model's structure x attention, or an oracle of as many channels."""
    if kind == "model":
        with torch.no_grad():
            return model.structure_map(images) * model.attention(images)
    log_depth = depth.log()
    dx = F.pad(log_depth[..., :, 1:] - log_depth[..., :, :-1], (0, 1, 0, 0))
    dy = F.pad(log_depth[..., 1:, :] - log_depth[..., :-1, :], (0, 0, 0, 1))
    channels = [(dx.abs() + dy.abs()).clamp(max=1.0)]
    if kind == "signed":
        channels += [dx.clamp(-1, 1), dy.clamp(-1, 1)]
    count = model.config.structure_channels
    channels.append(torch.zeros(len(depth), count - len(channels), *depth.shape[-2:]))
    return torch.cat(channels, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="model file or shipped name")
    parser.add_argument("--domain", choices=sorted(HELDOUT_SIZES), default="indoor")
    parser.add_argument("--input", choices=["model", "edges", "signed"], default="model")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=150)
    parser.add_argument("--lr", type=float, default=5e-4)
    args = parser.parse_args(argv)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    model = open_estimator(args.model, device="cpu", threads=1, backend="eager").model
    if args.input == "signed" and model.config.structure_channels < SIGNED_CHANNELS:
        # DP reads the new channels with zero weights at first and learns to use them.
        model = model.with_structure_channels(SIGNED_CHANNELS)
    height, width = model.config.input_height, model.config.input_width
    max_depth = model.config.max_depth
    unseen_images, unseen_depth = load(
        SyntheticScenes(domain=args.domain, length=UNSEEN, height=height, width=width,
                        seed=999), range(UNSEEN), max_depth)
    stream = SyntheticScenes(domain=args.domain, length=BATCH * (args.steps + 1),
                             height=height, width=width, seed=4242)
    model.eval()
    model.depth_net.train()
    optimizer = torch.optim.Adam(model.depth_net.parameters(), lr=args.lr)
    bf16 = bf16_is_fast(torch.device("cpu"))

    def score() -> str:
        model.depth_net.eval()
        with torch.no_grad():
            x = dp_input(model, args.input, unseen_images, unseen_depth)
            predicted = model.to_metres(model.depth_net(x)[-1])
        model.depth_net.train()
        medians = unseen_depth.flatten(1).median(1).values / predicted.flatten(1).median(1).values
        scaled = predicted * medians[:, None, None, None]
        abs_rel = ((scaled - unseen_depth).abs() / unseen_depth).mean().item()
        everywhere = np.ones((height, width), bool)
        strengths = [contrast(p[0], t[0], everywhere, CONTRAST_RADIUS)
                     for p, t in zip(predicted.numpy(), unseen_depth.numpy())]
        strength = np.mean([s for s in strengths if s is not None])
        return f"{abs_rel:.3f} | {strength:.3f}"

    print(f"{args.model}: DP alone on '{args.input}', {args.domain} renderings at "
          f"{height}x{width}, lr {args.lr}")
    if model.config.structure_channels >= SIGNED_CHANNELS:
        target = torch.from_numpy(depth_to_unit(unseen_depth.numpy(), max_depth)).float()
        valid = torch.ones_like(target, dtype=torch.bool)
        with torch.no_grad():
            channels = model.structure_map(unseen_images)[:, -2:]
        carried = signed_structure_loss(channels, target, valid, max_depth)
        flat = signed_structure_loss(torch.full_like(channels, 0.5), target, valid, max_depth)
        print(f"signed steps in the structure map (unseen): loss {carried:.5f} against "
              f"{flat:.5f} for a flat map")
    print("| step | scaled abs_rel (unseen) | contrast (unseen) | s |")
    print("|---|---|---|---|")
    start = time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.every == 0:
            print(f"| {step} | {score()} | {time.perf_counter() - start:.0f} |", flush=True)
        if step == args.steps:
            break
        images, depth = load(stream, range(step * BATCH, (step + 1) * BATCH), max_depth)
        x = dp_input(model, args.input, images, depth)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            outputs = model.depth_net(x)
        target = torch.from_numpy(depth_to_unit(depth.numpy(), max_depth)).float()
        loss = depth_loss([o.float() for o in outputs], target, torch.ones_like(target, dtype=bool),
                          max_depth, log_weight=0.5, grad_weight=1.0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
