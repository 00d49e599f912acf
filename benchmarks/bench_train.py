"""Training throughput of each stage: optimiser steps/s and samples/s on the CPU.

Usage: python benchmarks/bench_train.py [--config config/train_outdoor_lite.yaml]
           [--threads 2] [--steps 4] [--stages 0 1 2] [--precisions fp32 bf16]
           [--preset NAME] [--channels-last] [--append-to BENCHMARKS.md]
Each stage is timed in fp32 and bf16 autocast (and with --channels-last also NHWC), side by
side in one run (the ratio column is against plain fp32).
Runs the real stage tasks (forward, losses, backward, Adam) on augmented batches at the
config's model size and batch size; data preparation (scene rendering + augmentation) is
timed separately per sample, since it runs in the same process by default.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from s2r_depth_ros.model import S2RDepthNet, preset
from s2r_depth_ros.training.augment import AugmentConfig
from s2r_depth_ros.training.config import load_config, stage_settings
from s2r_depth_ros.training.dataset import AugmentedDataset, build_base_dataset, collate_good
from s2r_depth_ros.training.stages import make_task
from s2r_depth_ros.training.trainer import check_channels_last

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
    parser.add_argument("--stages", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"],
                        choices=["fp32", "bf16"], help="fp32 first: the ratios are against it")
    parser.add_argument("--preset", help="model preset instead of the config's")
    parser.add_argument("--channels-last", action="store_true",
                        help="also time each precision with NHWC tensors (stage 2 fp32 NHWC "
                             "backward crashed with a double free in torch 2.13 CPU here)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = load_config(args.config)
    m = config["model"]
    model_config = preset(args.preset or m["preset"])
    model_config = model_config.with_input(m["input_height"] or model_config.input_height,
                                           m["input_width"] or model_config.input_width)
    height, width = model_config.input_height, model_config.input_width
    batch_size = int(config["train"]["batch_size"])
    try:
        base = build_base_dataset(dict(config["data"], length=64), height, width)
        source = "SyntheticScenes"
    except RuntimeError:
        base, source = RandomScenes(64, height, width), "random arrays (no renderer)"

    modes = [(p, cl) for p in args.precisions
             for cl in ((False, True) if args.channels_last else (False,))]
    rows = []
    for stage in args.stages:
        dataset = AugmentedDataset(base, height, width, model_config.max_depth, 0,
                                   AugmentConfig(), styled=stage == 0)
        start = time.perf_counter()
        items = [dataset[i] for i in range(batch_size * (args.steps + 1))]
        data_ms = (time.perf_counter() - start) * 1000 / len(items)
        batches = [collate_good(items[i:i + batch_size])[0]
                   for i in range(0, len(items), batch_size)]
        tasks = {}
        for precision, channels_last in modes:
            torch.manual_seed(0)
            task = make_task(stage, S2RDepthNet(model_config), stage_settings(config, stage),
                             torch.Generator().manual_seed(0)).train()
            if channels_last:
                try:
                    check_channels_last(task)
                except ValueError as exc:  # the trainer refuses it: so does the benchmark
                    print(f"stage {stage} {precision} channels_last: skipped ({exc})")
                    continue
                task = task.to(memory_format=torch.channels_last)
            tasks[precision, channels_last] = (
                task, torch.optim.Adam(task.trainable_parameters(), lr=1e-4))
        stage_modes = [mode for mode in modes if mode in tasks]
        times: dict[tuple[str, bool], list[float]] = {mode: [] for mode in stage_modes}
        # Modes interleaved step by step, so machine noise hits all of them alike.
        for i, batch in enumerate(batches):
            for mode in stage_modes:
                task, optimizer = tasks[mode]
                fmt = torch.channels_last if mode[1] else torch.contiguous_format
                inputs = {k: v.to(memory_format=fmt) if v.dim() == 4 else v
                          for k, v in batch.items()}
                start = time.perf_counter()
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode[0] == "bf16"):
                    loss = task(inputs, torch.Generator().manual_seed(i))["loss"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                if i:  # the first step is warm-up
                    times[mode].append(time.perf_counter() - start)
        reference = float(np.median(times[modes[0]]))
        for mode in stage_modes:
            step_s = float(np.median(times[mode]))
            total_s = step_s + data_ms * batch_size / 1000
            rows.append((stage, mode, step_s, batch_size / step_s, reference / step_s, data_ms,
                         batch_size / total_s))
            print(f"stage {stage} {mode[0]}{' channels_last' if mode[1] else ''}: "
                  f"{batch_size / step_s:.2f} samples/s compute ({reference / step_s:.2f}x); "
                  f"data {data_ms:.0f} ms/sample")

    lines = [
        "## Training throughput",
        "",
        f"`benchmarks/bench_train.py --config {Path(args.config).name} --threads {args.threads}"
        f"{' --preset ' + args.preset if args.preset else ''}`: {model_config.name} preset at "
        f"{height}x{width}, batch {batch_size}, torch {torch.__version__}, {args.threads} "
        f"threads, median of {args.steps} steps after one warm-up, modes interleaved step by "
        f"step; data: {source}.",
        "",
        "| stage | trains | mode | samples/s (compute) | vs fp32 | data ms/sample "
        "| samples/s (with data) |",
        "|---|---|---|---|---|---|---|",
    ]
    trains = {0: "structure encoder + style enc./AdaIN dec.", 1: "structure decoder + DepthNet",
              2: "DSA + DepthNet"}
    for stage, mode, _step_s, sps, ratio, data_ms, samples_total in rows:
        name = mode[0] + (" + channels_last" if mode[1] else "")
        lines.append(f"| {stage} | {trains[stage]} | {name} | {sps:.2f} | {ratio:.2f}x | "
                     f"{data_ms:.0f} | {samples_total:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append_to:
        path = Path(args.append_to)
        existing = path.read_text() if path.is_file() else "# Benchmarks\n"
        path.write_text(existing.rstrip("\n") + "\n\n" + text)


if __name__ == "__main__":
    main()
