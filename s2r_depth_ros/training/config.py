"""Training configuration: YAML files in ``config/train_*.yaml`` merged over these defaults.

Layout (every key optional)::

    model:  {preset, input_height, input_width, init, canonical_focal, max_depth}
    data:   {source, domain, length, seed, height, width, val_length, val_seed, num_workers,
             factory, kwargs}
    augment: {flip, rotate, color, ...}           # see AugmentConfig
    train:  {seed, batch_size, lr, betas, lr_step, lr_step_unit, lr_gamma, steps, threads,
             device, log_every, preview_every, checkpoint_every, val_every, precision,
             channels_last, ema_decay}
    stage0 / stage1 / stage2: any ``train`` key (per-stage override) plus the stage's
             loss weights
    real_frames: {manifest, rgb_dir, depth_dir, depth_scale, group, every, limit}
    debug:  {broken_indices}

Unknown keys are errors, so a typo never silently trains with a default.
"""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "model": {
        "preset": "lite",
        "input_height": None,  # None: the preset's size
        "input_width": None,
        "init": None,  # native checkpoint to start from when no previous stage's output exists
        # Camera-aware metric depth: targets normalised to this focal length (pixels of the
        # network input); the model then needs the camera's intrinsics at inference.
        "canonical_focal": None,
        # Metres at the network's full output (tanh = 1): None keeps the preset's, or the init
        # checkpoint's. Setting it on an init model rescales what its output means, so only
        # a fine-tune into another domain (outdoor weights to an indoor range) wants it.
        "max_depth": None,
        # Channels of the structure map (model/config.py): None keeps the preset's or the init
        # checkpoint's (1); more widens an init model without changing its output.
        "structure_channels": None,
        # Scale of DP's encoder skips (model/depth_net.py): None keeps the preset's or the
        # init checkpoint's (0.1, the paper's); 1 lets DP use its fine skips. An init model
        # is re-parametrised to the new scale without changing its output.
        "depth_skip_weight": None,
    },
    "data": {
        "source": "synthetic",  # or "factory": data.factory = "package.module:callable"
        "domain": "outdoor",
        "length": 2000,
        "seed": 0,
        "height": None,  # rendering size of the synthetic scenes; None: the model input size
        "width": None,
        "val_length": 16,
        "val_seed": None,  # None: seed + 1000003 (frames never seen in training)
        "num_workers": 0,
        # Synthetic frames rendered once are kept here and read back (about 0.9 MB a 192x640
        # frame; rendering one costs about 125 ms of a CPU): for long and resumed runs.
        "cache_dir": None,
        "factory": None,
        "kwargs": {},
    },
    "augment": {
        "flip": True, "rotate": True, "color": True,
        "flip_p": 0.5, "rotate_p": 0.5, "rotate_degrees": 5.0, "color_p": 0.5,
        "color_low": 0.8,
        "crop_scale": None,  # [low, high]: random windows of the network's aspect (AugmentConfig)
        "aspect_range": None,  # [low, high]: full-height windows of other aspects, squashed
        "aspect_p": 1.0,  # ... for this share of the images (the rest: whole images)
        "input_scale": None,  # [low, high]: each batch at the input size times a random scale
        "input_aspects": None,  # [low, high]: ... and a random aspect, windows unsquashed
        "style_p": 0.0,  # stages 1-2: share of images restyled (AugmentConfig)
        "dapple_p": 0.0,  # share of images with dappled shade and sun (AugmentConfig)
        "texture_p": 0.0,  # share of images with fine texture over parts (AugmentConfig)
    },
    "train": {
        "seed": 0,
        "batch_size": 4,
        "lr": 1.0e-4,
        "betas": [0.9, 0.999],
        "lr_step": 10,  # StepLR period ...
        "lr_step_unit": "epoch",  # ... counted in epochs (reference) or optimiser steps
        "lr_gamma": 0.5,
        "steps": 1000,
        "threads": None,
        "device": "auto",
        "log_every": 10,
        "preview_every": 200,
        "checkpoint_every": 200,
        "val_every": 500,
        # bf16 autocast where fast (CPUs with bf16 units, GPUs), else fp32; or force one
        "precision": "auto",
        # NHWC tensors: faster convolutions on CPUs, but refused for models with a layer
        # oneDNN's NHWC backward pass corrupts memory on (check_channels_last: the lite DSA)
        "channels_last": False,
        # Keep an exponential moving average of the weights and deliver it (model.pt,
        # snapshots, real_frames scores); 0: off. 0.999 averages about the last 1000 steps
        # (the last tenth of the run while that is shorter: WeightAverage).
        "ema_decay": 0.0,
    },
    "stage0": {
        "style_dim": 8,
        "style_encoder_dim": 16,
        "decoder_res_blocks": 2,
        "recon_weight": 10.0,
        "cross_weight": 10.0,
        "structure_weight": 1.0,
        "latent_structure_weight": 1.0,
        "latent_style_weight": 1.0,
        "crop": None,  # [height, width]: train on random windows (multiples of 4) for speed
    },
    "stage1": {
        "struct_lambda": 1.0,
        "struct_beta": 0.001,
        "struct_depth_unit": "cm",  # "cm" or "unit" (the reference's raw [-1, 1] depth)
        "log_weight": 0.0,  # weight of the log-depth L1 beside the L1 (0: the reference)
        "grad_weight": 0.0,  # weight of the log-depth gradient matching term (0: the reference)
    },
    "stage2": {
        "log_weight": 0.0,
        "grad_weight": 0.0,
        "fresh_depth_net": True,  # False: fine-tune the loaded model's DepthNet (model.init)
        # What of the structure branch learns in stage 2 too: none (the reference), decoder,
        # or all (encoder and decoder: the whole network fine-tunes end to end)
        "train_structure": "none",
        # Weight of the signed-step loss on the structure map's last two channels
        # (losses.signed_structure_loss; needs train_structure and 3+ structure channels)
        "signed_structure_weight": 0.0,
    },
    # Stage 2: depth metrics on real RGB-D frames every ``every`` steps, logged to
    # stage2/real_frames.csv (training/real_frames.py): a manifest.json (as
    # ../shared/real_rgbd) or an image folder with a same-stem depth folder.
    "real_frames": {
        "manifest": None,
        "rgb_dir": None,
        "depth_dir": None,
        "depth_scale": 0.001,  # metres per raw depth unit of depth_dir's files
        "group": "outdoor",  # the S2R protocol (and the manifest's frames) to use
        "every": 500,
        "limit": None,  # at most this many frames
    },
    "debug": {
        "broken_indices": [],  # dataset indices whose loading raises (tests the skip path)
    },
}

STAGE_KEYS = {0: "stage0", 1: "stage1", 2: "stage2"}
# stage2.train_structure -> the structure-branch modules stage 2 trains as well.
STRUCTURE_PARTS = {"none": (), "decoder": ("struct_decoder",),
                   "all": ("struct_encoder", "struct_decoder")}


def _merge(base: dict[str, Any], update: dict[str, Any], where: str = "") -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in update.items():
        allowed = set(base)
        if where.rstrip(".") in STAGE_KEYS.values():  # stage sections may override train keys
            allowed |= set(DEFAULTS["train"])
        if key not in allowed:
            raise ValueError(f"unknown training config key {where}{key}")
        if isinstance(base.get(key), dict) and key != "kwargs":
            if not isinstance(value, dict):
                raise ValueError(f"training config {where}{key} must be a mapping")
            out[key] = _merge(base[key], value, f"{where}{key}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config(path: str | Path | None = None,
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the YAML file, then ``overrides``; records the file's path and hash."""
    config = copy.deepcopy(DEFAULTS)
    source: dict[str, Any] = {"file": None, "sha256": None}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config not found: {path}")
        text = path.read_text()
        try:
            loaded = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: the top level must be a mapping")
        config = _merge(config, loaded)
        source = {"file": str(path.resolve()), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    if overrides:
        config = _merge(config, overrides)
    config["source"] = source
    _validate(config)
    return config


def stage_settings(config: dict[str, Any], stage: int) -> dict[str, Any]:
    """The ``train`` settings with the stage's own overrides and loss weights on top."""
    key = STAGE_KEYS[stage]
    return {**config["train"], **DEFAULTS[key], **config[key]}


def _validate(config: dict[str, Any]) -> None:
    for stage in STAGE_KEYS:
        settings = stage_settings(config, stage)
        for name in ("batch_size", "steps", "log_every", "checkpoint_every", "lr_step"):
            if not isinstance(settings[name], int) or settings[name] < 1:
                raise ValueError(f"stage {stage}: {name} must be a positive integer, "
                                 f"got {settings[name]!r}")
        if settings["lr_step_unit"] not in ("epoch", "step"):
            raise ValueError(f"stage {stage}: lr_step_unit must be 'epoch' or 'step'")
        if not float(settings["lr"]) > 0:
            raise ValueError(f"stage {stage}: lr must be positive")
        if not 0.0 <= float(settings["ema_decay"] or 0.0) < 1.0:
            raise ValueError(f"stage {stage}: ema_decay must be in [0, 1), got "
                             f"{settings['ema_decay']!r}")
        if settings["precision"] not in ("auto", "fp32", "bf16"):
            raise ValueError(f"stage {stage}: precision must be 'auto', 'fp32' or 'bf16'")
    for key, name in (("stage1", "log_weight"), ("stage1", "grad_weight"),
                      ("stage2", "log_weight"), ("stage2", "grad_weight"),
                      ("stage2", "signed_structure_weight")):
        value = config[key][name]
        if isinstance(value, bool) or not (isinstance(value, (int, float)) and value >= 0):
            raise ValueError(f"{key}.{name} must be a number >= 0, got {value!r}")
    for name in ("canonical_focal", "max_depth"):
        value = config["model"][name]
        if value is not None and not (isinstance(value, (int, float)) and value > 0):
            raise ValueError(f"model.{name} must be a positive number or null, got {value!r}")
    skip = config["model"]["depth_skip_weight"]
    if skip is not None and (isinstance(skip, bool) or not isinstance(skip, (int, float))
                             or not skip > 0):
        raise ValueError(f"model.depth_skip_weight must be a positive number or null, got "
                         f"{skip!r}")
    channels = config["model"]["structure_channels"]
    if channels is not None and (isinstance(channels, bool) or not isinstance(channels, int)
                                 or channels < 1):
        raise ValueError(f"model.structure_channels must be an integer >= 1 or null, got "
                         f"{channels!r}")
    real = config["real_frames"]
    if real["group"] not in ("outdoor", "indoor"):
        raise ValueError("real_frames.group must be 'outdoor' or 'indoor'")
    if not isinstance(real["every"], int) or real["every"] < 1:
        raise ValueError(f"real_frames.every must be a positive integer, got {real['every']!r}")
    if real["manifest"] and real["rgb_dir"]:
        raise ValueError("real_frames: give a manifest or rgb_dir/depth_dir, not both")
    if bool(real["rgb_dir"]) != bool(real["depth_dir"]):
        raise ValueError("real_frames: rgb_dir and depth_dir go together")
    if config["stage2"]["train_structure"] not in STRUCTURE_PARTS:
        raise ValueError(f"stage2.train_structure must be one of {sorted(STRUCTURE_PARTS)}, got "
                         f"{config['stage2']['train_structure']!r}")
    if config["stage1"]["struct_depth_unit"] not in ("cm", "unit"):
        raise ValueError("stage1.struct_depth_unit must be 'cm' or 'unit'")
    if config["data"]["source"] not in ("synthetic", "factory"):
        raise ValueError("data.source must be 'synthetic' or 'factory'")
    if config["data"]["source"] == "factory" and not config["data"]["factory"]:
        raise ValueError("data.source 'factory' needs data.factory = 'module:callable'")
