"""Offline training of S2R-DepthNet: stage 0 (structure encoder), 1 (decoder), 2 (attention)."""

from .augment import AugmentConfig, joint_augment, random_style
from .config import load_config, stage_settings
from .losses import depth_loss, struct_weighted_loss
from .trainer import StageResult, TrainingDiverged, train

__all__ = [
    "AugmentConfig", "StageResult", "TrainingDiverged", "joint_augment", "load_config",
    "depth_loss", "random_style", "stage_settings", "struct_weighted_loss", "train",
]
