"""Training samples: any dataset of RGBDSample, augmented deterministically, bad ones skipped."""

from __future__ import annotations

import importlib
import math
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from .augment import AugmentConfig, batch_input_size, joint_augment, random_style


class BadSampleError(RuntimeError):
    """A sample could not be loaded or holds values the network must not see."""


def sample_rng(seed: int, epoch: int, index: int) -> np.random.Generator:
    """The augmentation randomness of one sample: a pure function of (seed, epoch, index)."""
    return np.random.default_rng([int(seed), int(epoch), int(index)])


def check_sample(sample: Any) -> None:
    """Reject what would poison training: wrong shapes/types or non-finite values."""
    rgb = getattr(sample, "rgb", None)
    depth = getattr(sample, "depth", None)
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 \
            or rgb.shape[2] != 3:
        raise BadSampleError("rgb is not an H x W x 3 uint8 array")
    if not isinstance(depth, np.ndarray) or depth.shape != rgb.shape[:2]:
        raise BadSampleError(f"depth shape {getattr(depth, 'shape', None)} does not match rgb "
                             f"{rgb.shape[:2]}")
    if not np.isfinite(depth).all():
        raise BadSampleError("depth has non-finite values")
    if not (depth > 0).any():
        raise BadSampleError("depth has no valid pixel")


class AugmentedDataset(Dataset):
    """Wraps a dataset of RGBDSample into training tensors.

    A sample whose loading raises, or that fails :func:`check_sample`, becomes
    ``{"bad": reason}``; :func:`collate_good` drops it and counts it. With ``styled`` a
    second, strongly restyled copy of the image is added for stage 0.
    """

    def __init__(self, base: Dataset, height: int, width: int, max_depth: float, seed: int,
                 augment: AugmentConfig | None, styled: bool = False,
                 broken_indices: tuple[int, ...] = (), canonical_focal: float | None = None,
                 randomize: bool = True) -> None:
        self.base = base
        self.height, self.width, self.max_depth = height, width, max_depth
        self.seed = seed
        self.augment = augment
        self.styled = styled
        self.broken_indices = frozenset(int(i) for i in broken_indices)
        # Camera-aware models: depth targets for the canonical camera.
        self.canonical_focal = canonical_focal
        # False: the deterministic evaluation transform of ``augment`` (held-out samples).
        self.randomize = randomize
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Augmentations differ per epoch; call before iterating an epoch."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, key: int | tuple[int, int, int]) -> dict[str, Any]:
        """Sample ``key`` at the input size, or ``(index, height, width)`` at that size."""
        index, height, width = key if isinstance(key, tuple) else (key, self.height, self.width)
        try:
            if index in self.broken_indices:
                raise BadSampleError(f"debug.broken_indices contains {index}")
            sample = self.base[index]
            check_sample(sample)
            rng = (sample_rng(self.seed, self.epoch, index)
                   if self.augment and self.randomize else None)
            item = joint_augment(sample.rgb, sample.depth, height, width,
                                 self.max_depth, rng, self.augment or AugmentConfig(),
                                 intrinsics=(sample.fx, sample.fy, sample.cx, sample.cy),
                                 canonical_focal=self.canonical_focal)
            if self.styled:
                style_rng = sample_rng(self.seed + 1, self.epoch, index)
                item["styled"] = random_style(item["image"], style_rng)
            elif rng is not None and self.augment.style_p and rng.random() < self.augment.style_p:
                item["image"] = random_style(item["image"], rng)
            if not all(torch.isfinite(v).all() for v in item.values() if v.is_floating_point()):
                raise BadSampleError("non-finite values after augmentation")
            return item
        except Exception as exc:  # any loader failure is one skipped sample, never a crash
            return {"bad": f"sample {index}: {type(exc).__name__}: {exc}"}


def epoch_input_sizes(seed: int, epoch: int, batches: int, size: tuple[int, int],
                      augment: AugmentConfig) -> list[tuple[int, int]]:
    """The network input size of each batch of an epoch (AugmentConfig.input_scale, input_aspects).

    A pure function of (seed, epoch, batch), so a resumed run trains on the same sizes.
    """
    return [batch_input_size(size, augment.input_scale, augment.input_aspects,
                             sample_rng(seed + 2, epoch, batch)) for batch in range(batches)]


def collate_good(items: list[dict[str, Any]]) -> tuple[dict[str, torch.Tensor] | None, list[str]]:
    """Stack the good samples; return (batch or None if none is good, bad-sample reasons)."""
    bad = [item["bad"] for item in items if "bad" in item]
    good = [item for item in items if "bad" not in item]
    if not good:
        return None, bad
    return {key: torch.stack([item[key] for item in good]) for key in good[0]}, bad


def build_base_dataset(data: dict[str, Any], height: int, width: int, validation: bool = False
                       ) -> Dataset:
    """The raw RGBDSample dataset a config describes (training or held-out frames)."""
    seed = int(data["seed"])
    if validation:
        seed = int(data["val_seed"]) if data["val_seed"] is not None else seed + 1000003
        length = int(data["val_length"])
    else:
        length = int(data["length"])
    render_h = int(data["height"] or height)
    render_w = int(data["width"] or width)
    if data["source"] == "synthetic":
        try:
            from ..data.synth import SyntheticScenes
        except ImportError as exc:
            raise RuntimeError(f"synthetic scenes are not available: {exc}") from exc
        return SyntheticScenes(domain=data["domain"], length=length, height=render_h,
                               width=render_w, seed=seed, cache_dir=data["cache_dir"])
    module_name, _, attr = str(data["factory"]).partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"data.factory {data['factory']!r} cannot be imported: {exc}") from exc
    return factory(domain=data["domain"], length=length, height=render_h, width=render_w,
                   seed=seed, **dict(data.get("kwargs") or {}))


def epoch_indices(length: int, seed: int, epoch: int, rank: int, world_size: int) -> list[int]:
    """A rank's sample order for an epoch: DistributedSampler's shuffle, drop_last style."""
    sampler = torch.utils.data.DistributedSampler(range(length), num_replicas=world_size,
                                                  rank=rank, shuffle=True, seed=seed,
                                                  drop_last=True)
    sampler.set_epoch(epoch)
    return list(sampler)


def batches_per_epoch(length: int, batch_size: int, world_size: int) -> int:
    """Full batches each rank draws per epoch (a partial last batch is dropped)."""
    per_rank = length // world_size
    count = per_rank // batch_size
    if count < 1:
        raise ValueError(f"dataset of {length} samples is too small for batch size "
                         f"{batch_size} on {world_size} process(es)")
    return count


def epochs_for(steps: int, per_epoch: int) -> int:
    """How many epochs ``steps`` batches span."""
    return math.ceil(steps / per_epoch)
