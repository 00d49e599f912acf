"""Inference on numpy images: the estimator, model selection and depth colourisation."""

from .colorize import COLORMAPS, colorize_depth
from .estimator import MIN_DEPTH, DepthEstimator, EstimatorOptions, resolve_device
from .loading import ModelSpecError, open_estimator

__all__ = ["COLORMAPS", "MIN_DEPTH", "DepthEstimator", "EstimatorOptions", "ModelSpecError",
           "colorize_depth", "open_estimator", "resolve_device"]
