"""The full S2R-DepthNet: structure (STE), attention (DSA) and depth prediction (DP)."""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from .attention import DepthAttention
from .config import S2RConfig
from .depth_net import DepthNet
from .structure import StructureDecoder, StructureEncoder


class S2ROutputs(NamedTuple):
    """Every intermediate a trainer or a visualiser may want."""

    structure: torch.Tensor  # B x 1 x H x W in (0, 1)
    attention: torch.Tensor  # B x 1 x H x W in (0, 1)
    depths: list[torch.Tensor]  # tanh maps at 1/8, 1/4, 1/2, 1 of the input size


class S2RDepthNet(nn.Module):
    """Image normalised to [-1, 1] -> depth in tanh units ([-1, 1] maps to [0, max_depth])."""

    def __init__(self, config: S2RConfig) -> None:
        super().__init__()
        self.config = config
        k = config.upproj_kernel
        self.struct_encoder = StructureEncoder(config.encoder_dim, config.encoder_res_blocks)
        self.struct_decoder = StructureDecoder(self.struct_encoder.out_channels,
                                               config.decoder_widths, k)
        self.attention = DepthAttention(config.dsa_widths, config.dsa_decoder_widths, k)
        self.depth_net = DepthNet(config.depth_ngf, config.depth_center_blocks)

    def structure_map(self, image: torch.Tensor) -> torch.Tensor:
        """STE: the depth-specific structure map in (0, 1)."""
        return self.struct_decoder(self.struct_encoder(image))

    def forward_all(self, image: torch.Tensor) -> S2ROutputs:
        """Run all three parts and return every intermediate."""
        structure = self.structure_map(image)
        attention = self.attention(image)
        return S2ROutputs(structure, attention, self.depth_net(structure * attention))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Full-resolution depth in tanh units, B x 1 x H x W."""
        return self.forward_all(image).depths[-1]

    def to_metres(self, tanh_depth: torch.Tensor) -> torch.Tensor:
        """Map the network's [-1, 1] output linearly to [0, max_depth] metres."""
        return (tanh_depth + 1.0) * (0.5 * self.config.max_depth)
