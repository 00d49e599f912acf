"""DSA: depth-specific attention, a DRN-D-22 encoder with an up-projection decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import UpProjection


def conv_bn_relu(in_channels: int, out_channels: int, kernel: int = 3, stride: int = 1,
                 dilation: int = 1) -> nn.Sequential:
    """DRN's plain conv layer: unbiased conv (padding keeps size), BN, ReLU."""
    pad = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel, stride, pad, dilation, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class BasicBlock(nn.Module):
    """ResNet basic block with dilation: ``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut)``."""

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1,
                 dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, dilation, dilation,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, dilation, dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = None
        if stride != 1 or in_channels != out_channels:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + shortcut)


def residual_stage(in_channels: int, out_channels: int, stride: int,
                   dilation: int) -> nn.Sequential:
    """Two basic blocks; the first changes resolution and/or width."""
    return nn.Sequential(
        BasicBlock(in_channels, out_channels, stride, dilation),
        BasicBlock(out_channels, out_channels, 1, dilation),
    )


class AttentionEncoder(nn.Module):
    """DRN-D-22 layers 0-8 (no pooling or classifier); output at 1/8 resolution."""

    def __init__(self, widths: tuple[int, ...]) -> None:
        super().__init__()
        c = widths
        self.base = nn.Sequential(
            conv_bn_relu(3, c[0], kernel=7),
            conv_bn_relu(c[0], c[0]),
            conv_bn_relu(c[0], c[1], stride=2),
            residual_stage(c[1], c[2], stride=2, dilation=1),
            residual_stage(c[2], c[3], stride=2, dilation=1),
            residual_stage(c[3], c[4], stride=1, dilation=2),
            residual_stage(c[4], c[5], stride=1, dilation=4),
            conv_bn_relu(c[5], c[6], dilation=2),
            conv_bn_relu(c[6], c[7]),
        )
        self.out_channels = c[7]

    def forward(self, x: torch.Tensor):
        """Return the deepest feature and the sizes the decoder upsamples back to."""
        size_input = x.shape[-2:]
        x = self.base[0](x)
        x = self.base[1](x)
        x = self.base[2](x)
        size_half = x.shape[-2:]
        x = self.base[3](x)
        size_quarter = x.shape[-2:]
        for layer in self.base[4:]:
            x = layer(x)
        return x, (size_quarter, size_half, size_input)


class AttentionDecoder(nn.Module):
    """Three up-projections back to the input size, then a 3x3 conv and a sigmoid."""

    def __init__(self, in_channels: int, widths: tuple[int, int, int], kernel: int) -> None:
        super().__init__()
        self.up1 = UpProjection(in_channels, widths[0], kernel)
        self.up2 = UpProjection(widths[0], widths[1], kernel)
        self.up3 = UpProjection(widths[1], widths[2], kernel)
        self.conv = nn.Conv2d(widths[2], 1, 3)

    def forward(self, x: torch.Tensor, sizes) -> torch.Tensor:
        x = self.up1(x, tuple(sizes[0]))
        x = self.up2(x, tuple(sizes[1]))
        x = self.up3(x, tuple(sizes[2]))
        return torch.sigmoid(self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect")))


class DepthAttention(nn.Module):
    """RGB in [-1, 1] -> attention map in (0, 1) at the input resolution."""

    def __init__(self, widths: tuple[int, ...], decoder_widths: tuple[int, int, int],
                 kernel: int = 5) -> None:
        super().__init__()
        self.E = AttentionEncoder(widths)
        self.D = AttentionDecoder(widths[7], decoder_widths, kernel)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features, sizes = self.E(x)
        return self.D(features, sizes)
