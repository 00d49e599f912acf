"""Turn what a user names (a file, a shipped model, the official release) into an estimator."""

from __future__ import annotations

import difflib
from pathlib import Path

from ..weights import SHIPPED, shipped_model
from .estimator import DepthEstimator, EstimatorOptions  # noqa: F401 (docstring)


class ModelSpecError(ValueError):
    """The user's model choice cannot be satisfied."""


def open_estimator(model: str | Path | None = None, official_dir: str | Path | None = None,
                   domain: str = "vkitti", **kwargs) -> DepthEstimator:
    """Open a model by file path, shipped name ('outdoor', 'indoor'), or official directory.

    With neither ``model`` nor ``official_dir`` the shipped outdoor model is used.
    Keyword arguments: ``options`` (an :class:`EstimatorOptions`) or its fields (device,
    precision, threads, backend, workers, resize, spin_wait, input_size).
    """
    if model and official_dir:
        raise ModelSpecError("give either a model file or an official directory, not both")
    if official_dir:
        return DepthEstimator.from_official(official_dir, domain, **kwargs)
    name = str(model) if model else "outdoor"
    if name in SHIPPED:
        path = shipped_model(name)
        if path is None:
            raise ModelSpecError(f"this build ships no '{name}' model; pass a model file")
        return DepthEstimator.from_checkpoint(path, **kwargs)
    return DepthEstimator.from_checkpoint(check_model_file(name), **kwargs)


# How a file written by torch.save begins: a zip archive (torch >= 1.6) or a pickle.
_CHECKPOINT_STARTS = (b"PK\x03\x04", b"\x80")


def check_model_file(model: str) -> Path:
    """``model`` as a checkpoint path, or a one-line :class:`ModelSpecError` a user understands.

    Covers a misspelt shipped name, a folder, a missing file and a file that is not a
    checkpoint at all; a checkpoint with the wrong contents is the loader's to explain.
    """
    path = Path(model)
    shipped = ", ".join(SHIPPED)
    if path.is_dir():
        raise ModelSpecError(f"model {model!r} is a directory; give a checkpoint file (.pt), a "
                             f"shipped model ({shipped}) or --official-dir for the official "
                             "release")
    if not path.exists():
        close = difflib.get_close_matches(model, list(SHIPPED), n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise ModelSpecError(f"model {model!r}: no such file and no shipped model of that name; "
                             f"{hint}shipped models: {shipped}")
    try:
        with open(path, "rb") as handle:
            start = handle.read(4)
    except OSError as exc:
        raise ModelSpecError(f"model {model!r}: cannot read it ({exc.strerror})") from exc
    if not start.startswith(_CHECKPOINT_STARTS):
        raise ModelSpecError(f"model {model!r} is not a PyTorch checkpoint (expected a .pt "
                             "file written by s2r-depth train or convert-official)")
    return path
