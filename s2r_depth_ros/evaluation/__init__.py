"""Depth evaluation: the S2R protocol, no-learning baselines, folder/manifest/bag evaluation.

Bag reading and writing live in :mod:`.bag_io` (imported on demand: it needs rosbags and the
message helpers of :mod:`s2r_depth_ros.ros.conversions`).
"""

from .baselines import (
    BASELINES,
    baseline_depth,
    constant_depth,
    ground_plane_depth,
    indoor_depth,
)
from .metrics import (
    INDOOR,
    METRIC_NAMES,
    OUTDOOR,
    PROTOCOLS,
    DepthMetrics,
    ErrorByDistance,
    FrameResult,
    Protocol,
    Summary,
    compute_metrics,
    crop_mask,
    evaluate_frame,
    protocol_for_domain,
    score_frame,
    summarize,
    valid_mask,
)
from .runner import Evaluation, Frame, baseline_method, model_method

__all__ = [
    "BASELINES", "INDOOR", "METRIC_NAMES", "OUTDOOR", "PROTOCOLS", "DepthMetrics", "Evaluation",
    "ErrorByDistance", "Frame", "FrameResult", "Protocol", "Summary",
    "baseline_depth", "baseline_method", "compute_metrics", "constant_depth", "crop_mask",
    "evaluate_frame", "ground_plane_depth", "indoor_depth", "model_method", "protocol_for_domain",
    "score_frame", "summarize", "valid_mask",
]
