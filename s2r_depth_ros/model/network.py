"""The full S2R-DepthNet: structure (STE), attention (DSA) and depth prediction (DP)."""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

import torch
from torch import nn

from .attention import DepthAttention
from .config import S2RConfig
from .depth_net import DepthNet
from .structure import StructureDecoder, StructureEncoder


class S2ROutputs(NamedTuple):
    """Every intermediate a trainer or a visualiser may want."""

    structure: torch.Tensor  # B x structure_channels x H x W in (0, 1)
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
                                               config.decoder_widths, k,
                                               config.structure_channels)
        self.attention = DepthAttention(config.dsa_widths, config.dsa_decoder_widths, k)
        self.depth_net = DepthNet(config.depth_ngf, config.depth_center_blocks,
                                  config.structure_channels, config.depth_skip_weight)

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

    def with_structure_channels(self, channels: int, generator: torch.Generator | None = None
                                ) -> S2RDepthNet:
        """A copy with a structure map of ``channels`` channels that computes the same depth.

        The existing channels keep their weights; each new one gets a small random filter in
        the structure decoder and zero weights where the depth network reads it, so training
        starts from this model's exact output and can learn to use the new channels.
        """
        old = self.config.structure_channels
        if channels < old:
            raise ValueError(f"cannot narrow the structure map from {old} to {channels} "
                             "channels")
        wider = S2RDepthNet(replace(self.config, structure_channels=channels))
        state = wider.state_dict()
        for name, value in self.state_dict().items():
            if state[name].shape == value.shape:
                state[name] = value.clone()
        decoder_w = state["struct_decoder.conv.weight"]
        decoder_w[:old] = self.struct_decoder.conv.weight.detach()
        decoder_w[old:] = torch.randn(decoder_w[old:].shape, generator=generator) * 0.02
        state["struct_decoder.conv.bias"][:old] = self.struct_decoder.conv.bias.detach()
        state["struct_decoder.conv.bias"][old:] = 0.0
        reader = state["depth_net.conv1.1.weight"]
        reader[:, :old] = self.depth_net.conv1[1].weight.detach()
        reader[:, old:] = 0.0
        wider.load_state_dict(state)
        return wider.train(self.training)

    def with_depth_skip_weight(self, weight: float) -> S2RDepthNet:
        """A copy whose DP scales its skips by ``weight`` and computes the same depth.

        The layers reading each skip get their weights for it multiplied by old / new, so
        only the optimisation changes: with ``weight`` 1 a fine-tune moves the weights on the
        skips as fast, relative to their effect, as every other weight.
        """
        ratio = self.config.depth_skip_weight / weight
        copy = S2RDepthNet(replace(self.config, depth_skip_weight=weight))
        copy.load_state_dict(self.state_dict())
        with torch.no_grad():
            for conv, channels in copy.depth_net.skip_readers():
                conv.weight[:, channels] *= ratio
        return copy.train(self.training)

    def to_metres(self, tanh_depth: torch.Tensor) -> torch.Tensor:
        """Map the network's [-1, 1] output linearly to [0, max_depth] metres."""
        return (tanh_depth + 1.0) * (0.5 * self.config.max_depth)
