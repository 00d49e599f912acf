"""STE: the structure encoder (style-free structure code) and the structure-map decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import UpProjection


class ConvBlock(nn.Module):
    """Reflection pad, biased conv, InstanceNorm (no affine), LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int,
                 pad: int) -> None:
        super().__init__()
        self.pad = pad
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.pad(x, (self.pad,) * 4, mode="reflect"))
        return F.leaky_relu(F.instance_norm(x), 0.2)


class ResBlock(nn.Module):
    """``x + IN(conv2(pad(lrelu(IN(conv1(pad(x)))))))``; no activation after the sum."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3)
        self.conv2 = nn.Conv2d(channels, channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.leaky_relu(F.instance_norm(self.conv1(F.pad(x, (1, 1, 1, 1), mode="reflect"))), 0.2)
        y = F.instance_norm(self.conv2(F.pad(y, (1, 1, 1, 1), mode="reflect")))
        return x + y


class ResBlocks(nn.Module):
    """A plain chain of residual blocks (kept as a module for the checkpoint's key names)."""

    def __init__(self, count: int, channels: int) -> None:
        super().__init__()
        self.model = nn.Sequential(*[ResBlock(channels) for _ in range(count)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class StructureEncoder(nn.Module):
    """Image in [-1, 1] -> structure code at 1/4 resolution with ``4 * dim`` channels."""

    def __init__(self, dim: int = 64, res_blocks: int = 4) -> None:
        super().__init__()
        self.conv = ConvBlock(3, dim, 7, 1, 3)
        self.conv1 = ConvBlock(dim, 2 * dim, 4, 2, 1)
        self.conv2 = ConvBlock(2 * dim, 4 * dim, 4, 2, 1)
        self.resblock = ResBlocks(res_blocks, 4 * dim)
        self.out_channels = 4 * dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblock(self.conv2(self.conv1(self.conv(x))))


class StructureDecoder(nn.Module):
    """Structure code -> structure map in (0, 1) at 4x the code's resolution."""

    def __init__(self, in_channels: int = 256, widths: tuple[int, int] = (128, 64),
                 kernel: int = 5, out_channels: int = 1) -> None:
        super().__init__()
        self.up1 = UpProjection(in_channels, widths[0], kernel)
        self.up2 = UpProjection(widths[0], widths[1], kernel)
        self.conv = nn.Conv2d(widths[1], out_channels, 3)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        h, w = code.shape[-2:]
        x = self.up1(code, (2 * h, 2 * w))
        x = self.up2(x, (4 * h, 4 * w))
        return torch.sigmoid(self.conv(F.pad(x, (1, 1, 1, 1), mode="reflect")))
