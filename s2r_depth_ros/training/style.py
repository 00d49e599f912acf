"""Stage 0 helpers: a MUNIT-style style encoder and an AdaIN decoder (training only).

The inference model keeps only the structure encoder; these two networks exist so that the
encoder can learn, by reconstruction, a code that carries the image's layout and none of
its appearance (see README.md in this folder).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _conv(in_channels: int, out_channels: int, kernel: int, stride: int = 1) -> nn.Module:
    return nn.Sequential(nn.ReflectionPad2d(kernel // 2 if stride == 1 else 1),
                         nn.Conv2d(in_channels, out_channels, kernel, stride))


class StyleEncoder(nn.Module):
    """Image -> global style vector. No normalisation layers: they would remove the style."""

    def __init__(self, dim: int = 16, style_dim: int = 8, downsamples: int = 4) -> None:
        super().__init__()
        # Style is global, so the first layer already halves the resolution (cheap on CPU).
        layers: list[nn.Module] = [_conv(3, dim, 4, 2), nn.LeakyReLU(0.2)]
        channels = dim
        for i in range(downsamples):
            out = min(channels * 2, dim * 4) if i < 2 else channels
            layers += [_conv(channels, out, 4, 2), nn.LeakyReLU(0.2)]
            channels = out
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, style_dim, 1)
        self.style_dim = style_dim

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        pooled = F.adaptive_avg_pool2d(self.body(image), 1)
        return self.head(pooled).flatten(1)


class AdaINResBlock(nn.Module):
    """Residual block whose two normalisations take scale and shift from the style (AdaIN)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = _conv(channels, channels, 3)
        self.conv2 = _conv(channels, channels, 3)
        self.channels = channels

    def forward(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        g1, b1, g2, b2 = params.split(self.channels, dim=1)
        y = F.instance_norm(self.conv1(x)) * (1 + g1[..., None, None]) + b1[..., None, None]
        y = F.instance_norm(self.conv2(F.leaky_relu(y, 0.2)))
        return x + y * (1 + g2[..., None, None]) + b2[..., None, None]


class AdaINDecoder(nn.Module):
    """Structure code (1/4 resolution) + style vector -> image in [-1, 1].

    An MLP maps the style to per-channel AdaIN scales/shifts for the residual blocks; two
    nearest x2 upsamplings with convolutions return to full resolution (MUNIT's decoder).
    """

    def __init__(self, code_channels: int, style_dim: int = 8, res_blocks: int = 2,
                 mlp_dim: int = 64) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(AdaINResBlock(code_channels) for _ in range(res_blocks))
        self.mlp = nn.Sequential(
            nn.Linear(style_dim, mlp_dim), nn.ReLU(),
            nn.Linear(mlp_dim, mlp_dim), nn.ReLU(),
            nn.Linear(mlp_dim, 4 * code_channels * res_blocks),
        )
        half, quarter = max(code_channels // 2, 8), max(code_channels // 4, 8)
        # 3x3 instead of MUNIT's 5x5/7x7: the full-resolution convolutions dominate the cost.
        self.up1 = _conv(code_channels, half, 3)
        self.up2 = _conv(half, quarter, 3)
        self.out = _conv(quarter, 3, 3)

    def forward(self, code: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        params = self.mlp(style).chunk(len(self.blocks), dim=1)
        x = code
        for block, block_params in zip(self.blocks, params):
            x = block(x, block_params)
        # Layer norm (no affine) keeps the upsampling path free of per-channel statistics.
        x = self.up1(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = F.leaky_relu(F.group_norm(x, 1), 0.2)
        x = self.up2(F.interpolate(x, scale_factor=2, mode="nearest"))
        x = F.leaky_relu(F.group_norm(x, 1), 0.2)
        return torch.tanh(self.out(x))
