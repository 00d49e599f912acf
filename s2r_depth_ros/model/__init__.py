"""S2R-DepthNet in PyTorch: paper-exact and lite configurations, checkpoint I/O."""

from .checkpoint import (
                         CheckpointError,
                         load_checkpoint,
                         load_official,
                         save_checkpoint,
                         save_official,
)
from .config import PRESETS, S2RConfig, preset
from .network import S2RDepthNet, S2ROutputs

__all__ = [
    "PRESETS", "CheckpointError", "S2RConfig", "S2RDepthNet", "S2ROutputs", "load_checkpoint",
    "load_official", "preset", "save_checkpoint", "save_official",
]
