"""Offline training of S2R-DepthNet: stage 0 (structure encoder), 1 (decoder), 2 (attention)."""

from .augment import AugmentConfig, joint_augment, random_style
from .config import load_config, stage_settings
from .losses import multiscale_l1, struct_weighted_loss
from .trainer import StageResult, TrainingDiverged, train

__all__ = [
    "AugmentConfig", "StageResult", "TrainingDiverged", "joint_augment", "load_config",
    "multiscale_l1", "random_style", "stage_settings", "struct_weighted_loss", "train",
]
