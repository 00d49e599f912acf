"""The training loop shared by all stages: data, optimiser, logging, checkpoints, resume, DDP.

Output layout of ``train(config, stages, out_dir)``::

    out_dir/stage{N}/train_state.pt   resumable state (model, weight average, optimiser,
                                      scheduler, step, RNG)
    out_dir/stage{N}/model.pt         native checkpoint after the stage (next stage starts here;
                                      the weight average when train.ema_decay is set)
    out_dir/stage{N}/log.csv          losses, learning rate, skipped samples, held-out loss
    out_dir/stage{N}/previews/*.png   structure / attention / depth / ground truth
    out_dir/model.pt                  the complete model, written when stage 2 finishes
"""

from __future__ import annotations

import csv
import datetime
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ..hardware import bf16_is_fast
from ..model import S2RConfig, S2RDepthNet, load_checkpoint, preset, save_checkpoint
from .augment import AugmentConfig
from .config import stage_settings
from .dataset import (
    AugmentedDataset,
    batches_per_epoch,
    build_base_dataset,
    collate_good,
    epoch_indices,
    epoch_input_sizes,
)
from .ema import WeightAverage
from .preview import write_preview
from .real_frames import RealFrameValidation
from .stages import StageTask, make_task
from .state import STATE_FORMAT, atomic_save, capture_rng, load_state, restore_rng


def resolve_precision(precision: str, device: torch.device) -> str:
    """'fp32' or 'bf16' for a config's precision ('auto' picks bf16 where it is fast)."""
    if precision == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return precision

def check_channels_last(module: torch.nn.Module) -> None:
    """Refuse NHWC training on a CPU where oneDNN would corrupt memory.

    oneDNN's 1x1 strided convolution computes its weight gradient past its scratchpad for
    NHWC input with fewer than 16 input channels (oneDNN issue 6035, open; torch 2.13 here:
    "double free or corruption" in backward). The lite presets' DSA has such a layer, so
    stage 2 (which trains the DSA) is refused; frozen layers compute no weight gradient.
    """
    for name, layer in module.named_modules():
        if (isinstance(layer, torch.nn.Conv2d) and layer.kernel_size == (1, 1)
                and layer.stride != (1, 1) and layer.in_channels < 16
                and layer.weight.requires_grad):
            raise ValueError(f"channels_last: {name} is a strided 1x1 convolution with "
                             f"{layer.in_channels} input channels, whose NHWC backward pass "
                             "corrupts memory on CPUs (oneDNN issue 6035); train without it")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class StageResult:
    """What one stage produced."""

    stage: int
    steps: int
    model_path: Path
    skipped_samples: int
    final_loss: float
    held_out_loss: float | None


@dataclass
class Runtime:
    """Process placement: rank, world size and device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only rank 0 writes files and shows progress."""
        return self.rank == 0


def setup_runtime(device: str = "auto") -> Runtime:
    """Join the process group when started by torchrun (gloo on CPU, nccl on CUDA)."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    use_cuda = torch.cuda.is_available() and device != "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but no CUDA GPU is available")
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank = dist.get_rank() if dist.is_initialized() else 0
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local_rank if world_size > 1 else torch.cuda.current_device())
        return Runtime(rank, world_size, torch.device("cuda", torch.cuda.current_device()))
    return Runtime(rank, world_size, torch.device("cpu"))


def _reduce_sum(values: list[float], runtime: Runtime) -> list[float]:
    tensor = torch.tensor(values, dtype=torch.float64)
    if runtime.world_size > 1:
        if dist.get_backend() == "nccl":
            tensor = tensor.to(runtime.device)
        dist.all_reduce(tensor)
    return tensor.cpu().tolist()


def _gather(obj: Any, runtime: Runtime) -> list[Any]:
    if runtime.world_size == 1:
        return [obj]
    out: list[Any] = [None] * runtime.world_size
    dist.all_gather_object(out, obj)
    return out


def _model_overrides(cfg: S2RConfig, model_settings: dict[str, Any]) -> S2RConfig:
    """``cfg`` with the config's input size, canonical_focal and max_depth where they are set."""
    cfg = cfg.with_input(int(model_settings["input_height"] or cfg.input_height),
                         int(model_settings["input_width"] or cfg.input_width))
    for name in ("canonical_focal", "max_depth"):
        if model_settings[name] is not None:
            cfg = replace(cfg, **{name: float(model_settings[name])})
    return cfg


def _joined(trained: tuple[float, float] | None, low: float, high: float
            ) -> tuple[float, float]:
    if trained is None:
        return low, high
    return min(low, trained[0]), max(high, trained[1])


def _with_trained_inputs(cfg: S2RConfig, augment: dict[str, Any]) -> S2RConfig:
    """``cfg`` recording the window aspects and input scales this run trains on.

    Each range joins any the model already had (a fine-tune keeps what it was trained on,
    and the size it was trained at counts as scale 1). The estimator runs a model with an
    aspect range at the camera's own aspect and takes the focal length of one with a scale
    range at the size the network runs at (S2RConfig).
    """
    aspects = [augment["input_aspects"]]
    if augment["aspect_p"] > 0:
        aspects.append(augment["aspect_range"])
    for trained in filter(None, aspects):
        low, high = (float(v) for v in trained)
        cfg = replace(cfg, aspect_range=_joined(cfg.aspect_range, low, high))
    if augment["input_scale"] is not None:
        low, high = (float(v) for v in augment["input_scale"])
        cfg = replace(cfg, input_scale_range=_joined(cfg.input_scale_range or (1.0, 1.0),
                                                     low, high))
    return cfg


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _dataset_description(config: dict[str, Any], base: Dataset) -> str:
    data = config["data"]
    if data["source"] == "synthetic":
        return (f"SyntheticScenes(domain={data['domain']}, length={len(base)}, "
                f"seed={data['seed']})")
    return f"{data['factory']}(domain={data['domain']}, length={len(base)}, seed={data['seed']})"


# Called with the stage run at the end of every optimiser step, after any checkpoint of that
# step (tests use it to interrupt or disturb a run at a chosen step).
StepCallback = Callable[["StageRun"], None]


class StageRun:
    """One stage's training: build everything, optionally resume, loop, save."""

    def __init__(self, config: dict[str, Any], stage: int, out_dir: Path, runtime: Runtime,
                 resume: bool, dataset: Dataset | None = None,
                 val_dataset: Dataset | None = None, progress: bool = True,
                 step_callbacks: Sequence[StepCallback] = ()) -> None:
        self.config, self.stage, self.runtime = config, stage, runtime
        self.step_callbacks = tuple(step_callbacks)
        self.settings = stage_settings(config, stage)
        self.out_dir = Path(out_dir)
        self.stage_dir = self.out_dir / f"stage{stage}"
        self.state_path = self.stage_dir / "train_state.pt"
        self.model_path = self.stage_dir / "model.pt"
        self.progress = progress and runtime.is_main
        self.debug = config["debug"]
        seed = int(self.settings["seed"])
        self.seed = seed

        self.init_path: str | None = None
        previous = self._load_previous_model()
        _seed_everything(seed * 1000 + stage)  # same initial weights on every rank
        model = previous if previous is not None else self._fresh_model()
        model.config = _with_trained_inputs(model.config, config["augment"])
        self.generator = torch.Generator().manual_seed(seed * 1000 + stage * 100 + runtime.rank)
        self.task: StageTask = make_task(stage, model, self.settings, self.generator)
        self.task.to(runtime.device)
        if self.settings["channels_last"]:
            if self.runtime.device.type == "cpu":
                check_channels_last(self.task)
            self.task.to(memory_format=torch.channels_last)
        self.model: S2RDepthNet = self.task.model
        ema_decay = float(self.settings["ema_decay"] or 0.0)
        self.average = WeightAverage(self.model, ema_decay) if ema_decay else None
        self.optimizer = torch.optim.Adam(self.task.trainable_parameters(),
                                          lr=float(self.settings["lr"]),
                                          betas=tuple(float(b) for b in self.settings["betas"]))
        self.scheduler = torch.optim.lr_scheduler.StepLR(
            self.optimizer, step_size=int(self.settings["lr_step"]),
            gamma=float(self.settings["lr_gamma"]))
        self.wrapped: torch.nn.Module = self.task
        if runtime.world_size > 1:
            self.wrapped = torch.nn.parallel.DistributedDataParallel(
                self.task, device_ids=[runtime.device.index] if runtime.device.type == "cuda"
                else None)

        cfg = self.model.config
        augment = AugmentConfig(**config["augment"])
        broken = tuple(self.debug["broken_indices"] or ())
        base = dataset if dataset is not None else build_base_dataset(
            config["data"], cfg.input_height, cfg.input_width)
        self.dataset_description = _dataset_description(config, base)
        self.dataset = AugmentedDataset(base, cfg.input_height, cfg.input_width, cfg.max_depth,
                                        seed, augment, styled=stage == 0, broken_indices=broken,
                                        canonical_focal=cfg.canonical_focal)
        self.val_dataset = None
        if runtime.is_main and int(config["data"]["val_length"]) > 0:
            val_base = val_dataset if val_dataset is not None else build_base_dataset(
                config["data"], cfg.input_height, cfg.input_width, validation=True)
            self.val_dataset = AugmentedDataset(val_base, cfg.input_height, cfg.input_width,
                                                cfg.max_depth, seed, augment, styled=stage == 0,
                                                canonical_focal=cfg.canonical_focal,
                                                randomize=False)
        self.batch_size = int(self.settings["batch_size"])
        self.per_epoch = batches_per_epoch(len(self.dataset), self.batch_size, runtime.world_size)

        self.step = self.epoch = self.batch_in_epoch = self.skipped = 0
        self.last_checkpoint_step: int | None = None
        if resume and self.state_path.is_file():
            self._resume()
        elif self.state_path.is_file():
            raise RuntimeError(f"{self.state_path} exists: pass --resume to continue it, or "
                               "choose another --out")

    # ----------------------------------------------------------------- model set-up
    def _fresh_model(self) -> S2RDepthNet:
        m = self.config["model"]
        cfg = _model_overrides(preset(m["preset"]), m)
        if m["structure_channels"] is not None:
            cfg = replace(cfg, structure_channels=m["structure_channels"])
        if m["depth_skip_weight"] is not None:
            cfg = replace(cfg, depth_skip_weight=float(m["depth_skip_weight"]))
        return S2RDepthNet(cfg)

    def _load_previous_model(self) -> S2RDepthNet | None:
        path = None
        if self.stage > 0:
            previous = self.out_dir / f"stage{self.stage - 1}" / "model.pt"
            path = previous if previous.is_file() else None
        if path is None and self.config["model"]["init"]:
            path = Path(self.config["model"]["init"])
        if path is None:
            if self.stage > 0:
                raise RuntimeError(f"stage {self.stage} needs stage {self.stage - 1}'s model "
                                   f"({self.out_dir}/stage{self.stage - 1}/model.pt) or model.init"
                                   " in the config")
            return None
        model = load_checkpoint(path)
        m = self.config["model"]
        # Fine-tuning a model at another input size, into the canonical camera space (or to
        # another focal), or to another range.
        model.config = _model_overrides(model.config, m)
        channels = m["structure_channels"]
        if channels is not None and channels != model.config.structure_channels:
            generator = torch.Generator().manual_seed(int(self.settings["seed"]))
            model = model.with_structure_channels(channels, generator)
        skip = m["depth_skip_weight"]
        if skip is not None and float(skip) != model.config.depth_skip_weight:
            model = model.with_depth_skip_weight(float(skip))
        self.init_path = str(path)
        return model.train()

    @property
    def delivered_model(self) -> S2RDepthNet:
        """The weight average if there is one, else the live model (what the stage saves).

        Held-out loss and previews always show the live model.
        """
        return self.average.model if self.average is not None else self.model

    # ----------------------------------------------------------------- state
    def _state(self) -> dict[str, Any]:
        rng = _gather(capture_rng(self.generator), self.runtime)
        return {
            "format": STATE_FORMAT,
            "stage": self.stage,
            "step": self.step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "skipped": self.skipped,
            "world_size": self.runtime.world_size,
            "model_config": self.model.config.to_dict(),
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            **({"ema": self.average.state_dict()} if self.average is not None else {}),
            "extra": {k: {n: t.detach().cpu() for n, t in v.items()}
                      for k, v in self.task.extra_state().items()},
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "rng": rng,
            "train_config": {k: v for k, v in self.config.items()},
        }

    def _checkpoint(self) -> None:
        state = self._state()  # collective: every rank takes part
        if self.runtime.is_main:
            atomic_save(state, self.state_path)
        self.last_checkpoint_step = self.step

    def _resume(self) -> None:
        state = load_state(self.state_path)
        if state["stage"] != self.stage:
            raise RuntimeError(f"{self.state_path} belongs to stage {state['stage']}")
        self.model.load_state_dict(state["model"])
        self.task.load_extra_state(state["extra"])
        self.task.to(self.runtime.device)
        if self.average is not None:
            if "ema" in state:
                self.average.load_state_dict(state["ema"])
            else:  # a run that did not average before: start the average here
                self.average = WeightAverage(self.model, self.average.decay)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.batch_in_epoch, self.skipped = int(state["batch_in_epoch"]), int(state["skipped"])
        self.last_checkpoint_step = self.step
        rng = state["rng"]
        if len(rng) == self.runtime.world_size:
            restore_rng(rng[self.runtime.rank], self.generator)
        else:  # another process count: the data order is still exact, loop noise is reseeded
            print(f"s2r-depth train: resuming {len(rng)}-process state on "
                  f"{self.runtime.world_size}; random states reseeded", file=sys.stderr)
            self.generator.manual_seed(self.seed * 1000 + self.step + self.runtime.rank)

    # ----------------------------------------------------------------- logging
    def _open_log(self) -> tuple[Any, Any]:
        path = self.stage_dir / "log.csv"
        rows: list[list[str]] = []
        if path.is_file() and self.step > 0:  # drop rows logged after the checkpoint we resume
            with path.open(newline="") as handle:
                rows = [r for r in csv.reader(handle)]
            rows = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= self.step]
        handle = path.open("w", newline="")
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow(row)
        handle.flush()
        return handle, writer

    def _tensorboard(self) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:  # optional: only used when already installed
            return None
        return SummaryWriter(str(self.stage_dir / "tensorboard"))

    @torch.no_grad()
    def held_out_loss(self) -> float | None:
        """Mean per-batch loss on the held-out frames (eval mode, no augmentation)."""
        if self.val_dataset is None:
            return None
        was_training = self.task.training
        self.task.eval()
        losses = []
        loader = DataLoader(self.val_dataset, batch_size=self.batch_size, shuffle=False,
                            collate_fn=collate_good)
        for batch, _bad in loader:
            if batch is not None:
                losses.append(self.task.validate(self._to_device(batch)))
        self.task.train(was_training)
        return float(np.mean(losses)) if losses else None

    def _preview(self) -> None:
        if self.val_dataset is None or len(self.val_dataset) == 0:
            return
        batch, _bad = collate_good([self.val_dataset[0]])
        if batch is None:
            return
        was_training = self.task.training
        self.task.eval()
        maps = self.task.preview_maps(self._to_device(batch))
        self.task.train(was_training)
        write_preview(maps, self.stage_dir / "previews" / f"step_{self.step:07d}.png",
                      self.model.config.max_depth)

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        memory_format = (torch.channels_last if self.settings["channels_last"]
                         else torch.contiguous_format)
        return {k: v.to(self.runtime.device, non_blocking=True,
                        memory_format=memory_format if v.dim() == 4 else torch.preserve_format)
                for k, v in batch.items()}

    def _autocast(self) -> torch.autocast:
        """bf16 autocast where the config asks for it, or where it is fast ('auto')."""
        enabled = resolve_precision(self.settings["precision"], self.runtime.device) == "bf16"
        return torch.autocast(self.runtime.device.type, dtype=torch.bfloat16, enabled=enabled)

    # ----------------------------------------------------------------- loop
    def run(self) -> StageResult:
        """Train until the stage's step count, then write the stage's model."""
        s, runtime = self.settings, self.runtime
        total = int(s["steps"])
        if runtime.is_main:
            self.stage_dir.mkdir(parents=True, exist_ok=True)
        log_handle = writer = board = None
        names: list[str] = []
        if runtime.is_main:
            log_handle, writer = self._open_log()
            board = self._tensorboard()
        val_every, preview_every = int(s["val_every"] or 0), int(s["preview_every"] or 0)
        held_out = None
        if runtime.is_main and self.step == 0:
            held_out = self.held_out_loss()
            if held_out is not None:  # the untrained baseline, as row "step 0"
                self._log(writer, log_handle, board, self.task.loss_names, None, held_out, 0.0)
            self._preview()
        bar = tqdm(total=total, initial=self.step, desc=f"stage {self.stage}", unit="step",
                   disable=not self.progress, dynamic_ncols=True)
        last_loss = math.nan
        window_start, window_samples = time.perf_counter(), 0
        self.task.train()
        try:
            while self.step < total:
                self.dataset.set_epoch(self.epoch)
                order = epoch_indices(len(self.dataset), self.seed, self.epoch, runtime.rank,
                                      runtime.world_size)
                order = order[:self.per_epoch * self.batch_size]
                augment = self.dataset.augment
                if augment and (augment.input_scale or augment.input_aspects):
                    sizes = epoch_input_sizes(self.seed, self.epoch, self.per_epoch,
                                              (self.dataset.height, self.dataset.width),
                                              augment)
                    order = [(index, *sizes[k // self.batch_size])
                             for k, index in enumerate(order)]
                order = order[self.batch_in_epoch * self.batch_size:]
                loader = DataLoader(self.dataset, batch_size=self.batch_size, sampler=order,
                                    collate_fn=collate_good,
                                    num_workers=int(self.config["data"]["num_workers"]))
                for batch, bad in loader:
                    self.batch_in_epoch += 1
                    for reason in bad:
                        if runtime.is_main:
                            tqdm.write(f"s2r-depth train: skipped {reason}", file=sys.stderr)
                    empty, n_bad = _reduce_sum([float(batch is None), float(len(bad))], runtime)
                    self.skipped += int(n_bad)
                    if empty:  # every rank skips together so DDP never waits for a missing one
                        continue
                    batch = self._to_device(batch)
                    with self._autocast():
                        losses = self.wrapped(batch, self.generator)
                    loss = losses["loss"]
                    names = list(losses)
                    values = [float(v.detach()) for v in losses.values()]
                    values[0] = float(loss.detach())
                    reduced = _reduce_sum([float(not math.isfinite(values[0]))] + values, runtime)
                    if reduced[0]:
                        self._diverged(names, values)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer.step()
                    if self.average is not None:
                        self.average.update(self.model)
                    if s["lr_step_unit"] == "step":
                        self.scheduler.step()
                    self.step += 1
                    n = batch["image"].shape[0]
                    window_samples += n * runtime.world_size
                    last_loss = reduced[1] / runtime.world_size
                    bar.update(1)
                    bar.set_postfix(loss=f"{last_loss:.4f}", skipped=self.skipped)
                    at_end = self.step >= total
                    if runtime.is_main and (val_every and self.step % val_every == 0 or at_end):
                        held_out = self.held_out_loss()
                    else:
                        held_out = None
                    if runtime.is_main and (self.step % int(s["log_every"]) == 0 or at_end
                                            or held_out is not None):
                        elapsed = time.perf_counter() - window_start
                        self._log(writer, log_handle, board, names,
                                  [v / runtime.world_size for v in reduced[1:]], held_out,
                                  window_samples / max(elapsed, 1e-9))
                        window_start, window_samples = time.perf_counter(), 0
                    if runtime.is_main and preview_every and (self.step % preview_every == 0
                                                              or at_end):
                        self._preview()
                    if self.step % int(s["checkpoint_every"]) == 0 or at_end:
                        self._checkpoint()
                    for callback in self.step_callbacks:
                        callback(self)
                    if at_end:
                        break
                if self.batch_in_epoch >= self.per_epoch:
                    self.epoch += 1
                    self.batch_in_epoch = 0
                    if s["lr_step_unit"] == "epoch":
                        self.scheduler.step()
        finally:
            bar.close()
            if log_handle is not None:
                log_handle.close()
            if board is not None:
                board.close()
        final_held_out = self.held_out_loss() if runtime.is_main and held_out is None else held_out
        if runtime.is_main:
            save_checkpoint(self.delivered_model, self.model_path, self._provenance())
        if runtime.world_size > 1:
            dist.barrier()
        return StageResult(self.stage, self.step, self.model_path, self.skipped, last_loss,
                           final_held_out)

    def _diverged(self, names: list[str], values: list[float]) -> None:
        parts = ", ".join(f"{n}={v:.4g}" for n, v in zip(names, values))
        where = (f"last good checkpoint: {self.state_path} (step {self.last_checkpoint_step})"
                 if self.last_checkpoint_step is not None else "no checkpoint was written yet")
        raise TrainingDiverged(f"stage {self.stage} step {self.step + 1}: loss is not finite "
                               f"({parts}); training stopped, {where}")

    def _log(self, writer: Any, handle: Any, board: Any, names: list[str],
             values: list[float] | None, held_out: float | None, samples_per_s: float) -> None:
        lr = self.optimizer.param_groups[0]["lr"]
        if handle.tell() == 0:
            writer.writerow(["step", "epoch", "lr", *names, "skipped", "held_out",
                             "samples_per_s", "time"])
        cells = [""] * len(names) if values is None else [f"{v:.6g}" for v in values]
        values = values or []
        writer.writerow([self.step, self.epoch, f"{lr:.6g}", *cells,
                         self.skipped, "" if held_out is None else f"{held_out:.6g}",
                         f"{samples_per_s:.3f}",
                         datetime.datetime.now().isoformat(timespec="seconds")])
        handle.flush()
        if board is not None:
            for name, value in zip(names, values):
                board.add_scalar(f"stage{self.stage}/{name}", value, self.step)
            if held_out is not None:
                board.add_scalar(f"stage{self.stage}/held_out", held_out, self.step)

    def _provenance(self) -> dict[str, Any]:
        previous = dict(self.model.config.provenance or {})
        stages = dict(previous.get("stages", {}))
        stages[str(self.stage)] = {
            "steps": self.step,
            "batch_size": self.batch_size,
            "lr": float(self.settings["lr"]),
            "seed": self.seed,
            "world_size": self.runtime.world_size,
            "skipped_samples": self.skipped,
            "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        source = self.config.get("source", {})
        return {
            "source": "s2r-depth train",
            "config_file": source.get("file"),
            "config_sha256": source.get("sha256"),
            "seed": self.seed,
            "dataset": self.dataset_description,
            "init": self.init_path or previous.get("init"),
            "stages": stages,
            "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "torch": str(torch.__version__),
        }


def train(config: dict[str, Any], stages: list[int], out_dir: str | Path, resume: bool = False,
          dataset: Dataset | None = None, val_dataset: Dataset | None = None,
          progress: bool = True, step_callbacks: Sequence[StepCallback] = ()
          ) -> list[StageResult]:
    """Run the given stages in order; returns one result per stage.

    ``dataset``/``val_dataset`` replace the configured data (any dataset of RGBDSample).
    ``step_callbacks``: see :data:`StepCallback` (every process calls them).
    With ``resume`` a stage continues from its ``train_state.pt``; finished stages are
    skipped. Under torchrun every process calls this; only rank 0 writes.
    """
    settings = stage_settings(config, stages[0])
    if settings["threads"]:
        torch.set_num_threads(int(settings["threads"]))
    runtime = setup_runtime(str(settings["device"]))
    out_dir = Path(out_dir)
    if 2 in stages and runtime.is_main:
        real_frames = RealFrameValidation.from_config(config["real_frames"])
        if real_frames is not None:
            step_callbacks = (*step_callbacks, real_frames)
    results = []
    try:
        for stage in stages:
            stage_dir = out_dir / f"stage{stage}"
            if resume and (stage_dir / "model.pt").is_file() and _finished(stage_dir, config,
                                                                           stage):
                if runtime.is_main:
                    print(f"s2r-depth train: stage {stage} already finished, skipped",
                          file=sys.stderr)
                continue
            run = StageRun(config, stage, out_dir, runtime, resume, dataset, val_dataset,
                           progress, step_callbacks)
            result = run.run()
            results.append(result)
            if stage == 2 and runtime.is_main:
                model = load_checkpoint(result.model_path)
                save_checkpoint(model, out_dir / "model.pt", model.config.provenance)
    finally:
        if runtime.world_size > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return results


def _finished(stage_dir: Path, config: dict[str, Any], stage: int) -> bool:
    path = stage_dir / "train_state.pt"
    if not path.is_file():
        return False
    return int(load_state(path)["step"]) >= int(stage_settings(config, stage)["steps"])


__all__ = ["Runtime", "StageResult", "StepCallback", "TrainingDiverged", "setup_runtime",
           "snapshot", "train"]


def snapshot(out_dir: str | Path, path: str | Path) -> Path:
    """Write the model of the newest checkpoint under ``out_dir`` as a native checkpoint.

    The weight average is written when the run keeps one. For evaluating a long run while
    it trains (or after it was stopped): the latest stage with a ``train_state.pt`` gives a
    complete model (earlier stages' parts included).
    """
    states = sorted(Path(out_dir).glob("stage[0-2]/train_state.pt"))
    if not states:
        raise FileNotFoundError(f"no stageN/train_state.pt under {out_dir}")
    state = load_state(states[-1])
    model = S2RDepthNet(S2RConfig.from_dict(state["model_config"]))
    averaged = "ema" in state
    model.load_state_dict(state["ema"]["model"] if averaged else state["model"])
    provenance = {"source": "training snapshot", "state": str(states[-1]),
                  "stage": int(state["stage"]), "step": int(state["step"]),
                  "weights": "average" if averaged else "live"}
    return save_checkpoint(model.eval(), path, provenance)
