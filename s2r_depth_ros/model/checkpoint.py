"""Checkpoint I/O: the project's own single-file format and the official four-file release.

Everything is read with ``torch.load(weights_only=True)``: no pickled code is ever executed.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from ..errors import first_line
from .config import S2RConfig, preset
from .network import S2RDepthNet

FORMAT = "s2r_depth_ros/checkpoint/v1"

# Official file stem -> our sub-module; only the structure encoder was saved without
# nn.DataParallel and so has no "module." prefix.
OFFICIAL_PARTS = {
    "struct_encoder": "struct_encoder",
    "struct_decoder": "struct_decoder",
    "dsamodels": "attention",
    "depthnet": "depth_net",
}
OFFICIAL_DOMAINS = {"vkitti": "paper", "suncg": "paper_indoor"}


class CheckpointError(RuntimeError):
    """A checkpoint is missing, unreadable, or does not fit the architecture."""


def _read(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for truncated/corrupt/unsafe files
        reason = first_line(exc)
        raise CheckpointError(f"cannot read checkpoint {path}: {reason}") from exc


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Strict load that tolerates only missing BatchNorm ``num_batches_tracked`` counters."""
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{source}: not a state_dict of tensors")
    expected = module.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}"
                   for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    if wrong_shape:
        problems.append(f"{len(wrong_shape)} shape mismatches (e.g. {wrong_shape[0]})")
    if problems:
        raise CheckpointError(f"{source} does not fit the model: " + "; ".join(problems))
    module.load_state_dict(state, strict=False)


def save_checkpoint(model: S2RDepthNet, path: str | Path,
                    provenance: dict[str, Any] | None = None) -> Path:
    """Write weights + configuration atomically (a crash never leaves half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = model.config.to_dict()
    config["provenance"] = dict(provenance or model.config.provenance)
    payload = {
        "format": FORMAT,
        "config": config,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(payload, tmp)
        # mkstemp makes the file private (0600); a model is shared like any file the user
        # writes (a node may run as another user), so it gets the umask's mode.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_checkpoint(path: str | Path) -> S2RDepthNet:
    """Build the model a native checkpoint describes and load its weights (eval mode)."""
    path = Path(path)
    payload = _read(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not an s2r_depth_ros checkpoint (for the official four files use "
            "--official-dir, or convert them with 's2r-depth convert-official')")
    try:
        config = S2RConfig.from_dict(payload["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad model configuration: {exc}") from exc
    model = S2RDepthNet(config)
    load_weights(model, payload.get("state_dict"), str(path))
    return model.eval()


def official_paths(directory: str | Path, domain: str) -> dict[str, Path]:
    """The four official file paths for a domain ('vkitti' or 'suncg')."""
    if domain not in OFFICIAL_DOMAINS:
        raise CheckpointError(f"unknown domain {domain!r}; choose from {sorted(OFFICIAL_DOMAINS)}")
    return {stem: Path(directory) / f"{stem}_{domain}.pth" for stem in OFFICIAL_PARTS}


def load_official(directory: str | Path, domain: str) -> S2RDepthNet:
    """Load the four files of the official release into a paper-configuration model."""
    model = S2RDepthNet(preset(OFFICIAL_DOMAINS[domain]))
    for stem, path in official_paths(directory, domain).items():
        state = _read(path)
        if isinstance(state, dict):
            state = {k.removeprefix("module."): v for k, v in state.items()}
        load_weights(getattr(model, OFFICIAL_PARTS[stem]), state, str(path))
    model.config = replace(model.config, provenance={"source": "official", "domain": domain})
    return model.eval()


def save_official(model: S2RDepthNet, directory: str | Path, domain: str) -> dict[str, Path]:
    """Write a model in the official four-file layout (used to test the loader end to end)."""
    paths = official_paths(directory, domain)
    Path(directory).mkdir(parents=True, exist_ok=True)
    for stem, path in paths.items():
        state = getattr(model, OFFICIAL_PARTS[stem]).state_dict()
        prefix = "" if stem == "struct_encoder" else "module."
        torch.save({prefix + k: v for k, v in state.items()}, path)
    return paths
