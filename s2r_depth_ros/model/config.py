"""Architecture configurations: the paper network and lighter variants with the same structure."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# DRN-D-22 channel widths for layer0..layer7 (layer8 repeats the last one).
DRN_D22_WIDTHS = (16, 32, 64, 128, 256, 512, 512, 512)


@dataclass(frozen=True)
class S2RConfig:
    """Everything needed to rebuild an S2R-DepthNet and run it on images.

    The defaults are the paper configuration (Chen et al., CVPR 2021), whose state_dict
    keys and shapes equal the official checkpoints.
    """

    name: str = "paper"
    # STE structure encoder (MUNIT-style content encoder).
    encoder_dim: int = 64
    encoder_res_blocks: int = 4
    # STE structure decoder: two up-projections, then a 3x3 conv to one channel.
    decoder_widths: tuple[int, int] = (128, 64)
    # Channels of the structure map handed (times the attention map) to the depth network:
    # 1 in the paper, an edge-like map with nothing to read inside an object's outline. More
    # channels are an option for this project's own models; official checkpoints keep 1.
    structure_channels: int = 1
    # Kernel of the up-projection's wide convolutions (5 in the paper) for both decoders.
    upproj_kernel: int = 5
    # DSA: DRN-D-22 encoder widths and the attention decoder's three up-projection widths.
    dsa_widths: tuple[int, ...] = DRN_D22_WIDTHS
    dsa_decoder_widths: tuple[int, int, int] = (256, 128, 64)
    # DP: U-Net base width and number of dilated Inception blocks at 1/16 resolution.
    depth_ngf: int = 64
    depth_center_blocks: int = 3
    # Scale of DP's encoder skips (0.1 in the paper, which damps the finest to about 1 %:
    # model/depth_net.py). Our own models may set 1; official checkpoints keep 0.1.
    depth_skip_weight: float = 0.1
    # Image handling.
    input_height: int = 192
    input_width: int = 640
    max_depth: float = 80.0
    # Camera-aware metric models: the focal length (pixels of the network-sized image) the
    # training targets were normalised to. Depth predicted in that canonical camera is scaled
    # by f / canonical_focal for a camera whose network-sized focal is f. None: the model
    # predicts metres directly, as the reference and the official checkpoints do.
    canonical_focal: float | None = None
    # The aspects (width / height) of the images the model was trained on, each squashed to
    # the input size: (low, high). None: only the input size's own (the reference recipe).
    # A model that has seen other aspects runs better at the camera's own aspect than
    # squashed (BENCHMARKS.md, "Other cameras"), so the estimator's input_aspect 'auto'
    # keeps the camera's aspect for it, within this range.
    aspect_range: tuple[float, float] | None = None
    # The input scales (sides relative to the input size) the model was trained at: (low,
    # high). None: the input size only. A model trained at one size reads the scene's layout,
    # so a camera's focal counts at the trained size; one trained on many sizes reads objects'
    # size in pixels, so it counts at the size the network runs at (estimator.metric_scale).
    input_scale_range: tuple[float, float] | None = None
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.input_height % 16 or self.input_width % 16:
            raise ValueError(
                f"input size {self.input_height}x{self.input_width} must be divisible by 16"
            )
        # The widest dilated reflection pad (5) runs at 1/16 scale and needs 6+ pixels there.
        if self.input_height < 96 or self.input_width < 96:
            raise ValueError(
                f"input size {self.input_height}x{self.input_width} is below the 96x96 minimum")
        if not self.max_depth > 0:
            raise ValueError(f"max_depth must be positive, got {self.max_depth}")
        if self.canonical_focal is not None and not self.canonical_focal > 0:
            raise ValueError(f"canonical_focal must be positive, got {self.canonical_focal}")
        if self.aspect_range is not None and not (
                len(self.aspect_range) == 2 and 0 < self.aspect_range[0] <= self.aspect_range[1]):
            raise ValueError(f"aspect_range must be (low, high) with 0 < low <= high, got "
                             f"{self.aspect_range!r}")
        if self.input_scale_range is not None and not (
                len(self.input_scale_range) == 2
                and 0 < self.input_scale_range[0] <= self.input_scale_range[1]):
            raise ValueError(f"input_scale_range must be (low, high) with 0 < low <= high, "
                             f"got {self.input_scale_range!r}")
        if len(self.dsa_widths) != 8:
            raise ValueError("dsa_widths needs 8 entries (DRN layer0..layer7)")
        if not (isinstance(self.structure_channels, int) and self.structure_channels >= 1):
            raise ValueError(f"structure_channels must be an integer >= 1, got "
                             f"{self.structure_channels!r}")
        if not self.depth_skip_weight > 0:
            raise ValueError(f"depth_skip_weight must be positive, got {self.depth_skip_weight}")
        if self.upproj_kernel % 2 == 0:
            raise ValueError("upproj_kernel must be odd")

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python form (lists, not tuples) that survives ``torch.load(weights_only=True)``."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> S2RConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, so typos do not pass silently."""
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model configuration keys: {sorted(unknown)}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        return cls(**kwargs)

    def with_input(self, height: int, width: int) -> S2RConfig:
        """Same network for another input size (weights do not depend on it)."""
        return replace(self, input_height=height, input_width=width)


LITE = S2RConfig(
    name="lite",
    encoder_dim=12,
    encoder_res_blocks=2,
    decoder_widths=(16, 8),
    upproj_kernel=3,
    dsa_widths=(8, 8, 16, 32, 48, 64, 64, 64),
    dsa_decoder_widths=(24, 16, 8),
    depth_ngf=12,
    depth_center_blocks=1,
)

# About 2.5x the lite network's compute, for the camera-aware v2 models: wider STE decoder,
# DSA and DP, two Inception blocks. bf16 on CPUs with AMX runs it at the lite network's f32
# speed (BENCHMARKS.md).
BASE = replace(
    LITE,
    name="base",
    encoder_dim=16,
    decoder_widths=(24, 12),
    dsa_widths=(16, 16, 32, 48, 64, 96, 96, 96),
    dsa_decoder_widths=(32, 24, 16),
    depth_ngf=20,
    depth_center_blocks=2,
)

PRESETS: dict[str, S2RConfig] = {
    # Exactly the official architecture (vKITTI set-up: 192x640, 80 m).
    "paper": S2RConfig(),
    "paper_indoor": S2RConfig(name="paper_indoor", input_width=256, max_depth=8.0),
    # Same three-part structure at about 1/75 of the compute: narrow widths, 3x3
    # up-projections, two residual blocks and one Inception block.
    "lite": LITE,
    "lite_indoor": replace(LITE, name="lite_indoor", input_height=192, input_width=256,
                           max_depth=8.0),
    "base": replace(BASE, input_height=128, input_width=416),
    "base_indoor": replace(BASE, name="base_indoor", input_height=192, input_width=256,
                           max_depth=8.0),
}


def preset(name: str) -> S2RConfig:
    """Look up a named configuration."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose from {sorted(PRESETS)}") from None
