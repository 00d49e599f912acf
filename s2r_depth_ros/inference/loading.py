"""Turn what a user names (a file, a shipped model, the official release) into an estimator."""

from __future__ import annotations

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
    return DepthEstimator.from_checkpoint(model, **kwargs)
