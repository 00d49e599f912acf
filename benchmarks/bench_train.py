"""Training throughput of each stage: optimiser steps/s and samples/s on the CPU.

Usage: python benchmarks/bench_train.py [--config config/train_outdoor_lite.yaml]
           [--threads 2] [--steps 4] [--append-to BENCHMARKS.md]
Runs the real stage tasks (forward, losses, backward, Adam) on augmented batches at the
config's model size and batch size; data preparation (scene rendering + augmentation) is
timed separately per sample, since it runs in the same process by default.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from s2r_depth_ros.model import S2RDepthNet, preset
from s2r_depth_ros.training.augment import AugmentConfig
from s2r_depth_ros.training.config import load_config, stage_settings
from s2r_depth_ros.training.dataset import AugmentedDataset, build_base_dataset, collate_good
from s2r_depth_ros.training.stages import make_task

REPO = Path(__file__).resolve().parents[1]


class RandomScenes(torch.utils.data.Dataset):
    """Stand-in when the synthetic scene renderer is not installed: same shapes and types."""

    def __init__(self, length: int, height: int, width: int) -> None:
        self.length, self.height, self.width = length, height, width

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        from types import SimpleNamespace
        rng = np.random.default_rng(index)
        return SimpleNamespace(
            rgb=rng.integers(0, 256, (self.height, self.width, 3), dtype=np.uint8),
            depth=rng.uniform(1, 80, (self.height, self.width)).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "config" / "train_outdoor_lite.yaml"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per stage")
    parser.add_argument("--append-to", help="append the result table to this markdown file")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    m = config["model"]
    model_config = preset(m["preset"])
    model_config = model_config.with_input(m["input_height"] or model_config.input_height,
                                           m["input_width"] or model_config.input_width)
    height, width = model_config.input_height, model_config.input_width
    batch_size = int(config["train"]["batch_size"])
    try:
        base = build_base_dataset(dict(config["data"], length=64), height, width)
        source = "SyntheticScenes"
    except RuntimeError:
        base, source = RandomScenes(64, height, width), "random arrays (no renderer)"

    rows = []
    for stage in (0, 1, 2):
        dataset = AugmentedDataset(base, height, width, model_config.max_depth, 0,
                                   AugmentConfig(), styled=stage == 0)
        start = time.perf_counter()
        items = [dataset[i] for i in range(batch_size * (args.steps + 1))]
        data_ms = (time.perf_counter() - start) * 1000 / len(items)
        batches = [collate_good(items[i:i + batch_size])[0]
                   for i in range(0, len(items), batch_size)]
        torch.manual_seed(0)
        task = make_task(stage, S2RDepthNet(model_config), stage_settings(config, stage),
                         torch.Generator().manual_seed(0)).train()
        optimizer = torch.optim.Adam(task.trainable_parameters(), lr=1e-4)
        times = []
        for i, batch in enumerate(batches):
            start = time.perf_counter()
            loss = task(batch, torch.Generator().manual_seed(i))["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i:  # the first step is warm-up
                times.append(time.perf_counter() - start)
        step_s = float(np.median(times))
        total_s = step_s + data_ms * batch_size / 1000
        rows.append((stage, step_s, batch_size / step_s, data_ms, 1 / total_s,
                     batch_size / total_s))
        print(f"stage {stage}: {1 / step_s:.3f} steps/s, {batch_size / step_s:.2f} samples/s "
              f"compute; data {data_ms:.0f} ms/sample; with data {1 / total_s:.3f} steps/s")

    lines = [
        "## Training throughput",
        "",
        f"`benchmarks/bench_train.py --config {Path(args.config).name} --threads {args.threads}`:"
        f" {model_config.name} preset at {height}x{width}, batch {batch_size}, "
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"{args.threads} threads, median of {args.steps} steps after one warm-up; data: {source}.",
        "",
        "| stage | trains | steps/s (compute) | samples/s (compute) | data ms/sample "
        "| steps/s (with data) | samples/s (with data) |",
        "|---|---|---|---|---|---|---|",
    ]
    trains = {0: "structure encoder + style enc./AdaIN dec.", 1: "structure decoder + DepthNet",
              2: "DSA + DepthNet"}
    for stage, step_s, sps, data_ms, steps_total, samples_total in rows:
        lines.append(f"| {stage} | {trains[stage]} | {1 / step_s:.3f} | {sps:.2f} | "
                     f"{data_ms:.0f} | {steps_total:.3f} | {samples_total:.2f} |")
    hours = sum(int(stage_settings(config, stage)["steps"]) / steps_total
                for stage, _, _, _, steps_total, _ in rows) / 3600
    steps = "/".join(str(stage_settings(config, stage)["steps"]) for stage in (0, 1, 2))
    lines += ["", f"At these rates the config's {steps} steps (stages 0/1/2) take about "
              f"{hours:.1f} h, plus held-out checks and checkpoints (a few %)."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append_to:
        path = Path(args.append_to)
        existing = path.read_text() if path.is_file() else "# Benchmarks\n"
        path.write_text(existing.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
