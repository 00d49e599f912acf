"""Building blocks shared by the structure decoder and the attention decoder."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class UpProjection(nn.Module):
    """Up-projection block (Laina et al.): bilinear upsample, then a residual pair of wide convs.

    ``relu(bn1_2(conv1_2(relu(bn1(conv1(x))))) + bn2(conv2(x)))`` on the upsampled ``x``.
    Parameter names match the official checkpoints.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 5) -> None:
        super().__init__()
        pad = kernel // 2
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel, padding=pad, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv1_2 = nn.Conv2d(out_channels, out_channels, 3, padding=1, bias=False)
        self.bn1_2 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel, padding=pad, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=True)
        branch = F.relu(self.bn1(self.conv1(x)))
        branch = self.bn1_2(self.conv1_2(branch))
        return F.relu(branch + self.bn2(self.conv2(x)))
