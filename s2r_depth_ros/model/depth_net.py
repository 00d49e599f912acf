"""DP: the depth-prediction U-Net (T2Net/GASDA generator) on attention x structure.

One single PReLU instance is shared by every nonlinearity, as in the original; it is
registered under each path where it is used, so ``state_dict()`` lists it once per path
exactly like the official checkpoints do.
"""

from __future__ import annotations

import torch
from torch import nn

# The reference damps the encoder's skip features before concatenation: e3 (1/8 scale) by
# w, e2 by w/2, e1 by w/10, with w = 0.1. Adam moves every weight at about the same rate, so
# the layers reading them keep weights of the same size as on the main path and the finest
# skip reaches them at about 1 %. Our own models may set w = 1 (S2RConfig.depth_skip_weight)
# to give the skips equal footing; BENCHMARKS.md, "Depth edges and DP's skips", measures it.
REFERENCE_SKIP_WEIGHT = 0.1
# Each skip's share of w, from coarse (e3) to fine (e1).
SKIP_SHARES = (1.0, 0.5, 0.1)


class EncoderBlock(nn.Module):
    """[3x3 conv, BN, PReLU] x 2, then 2x2 average pooling."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int,
                 act: nn.PReLU) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(mid_channels),
            act,
            nn.Conv2d(mid_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            act,
        )
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.model(x))


class InceptionBlock(nn.Module):
    """Three dilated 3x3 branches (1, 3, 5), BN+PReLU, 3x3 fuse, BN, residual PReLU."""

    def __init__(self, channels: int, act: nn.PReLU, width: int = 3) -> None:
        super().__init__()
        for i in range(width):
            dilation = 2 * i + 1
            setattr(self, f"layer{i}", nn.Sequential(
                nn.ReflectionPad2d(dilation),
                nn.Conv2d(channels, channels, 3, dilation=dilation, bias=False),
            ))
        self.width = width
        self.norm1 = nn.BatchNorm2d(channels * width)
        self.norm2 = nn.BatchNorm2d(channels)
        self.nonlinearity = act
        # Named "1x1" in the original although it is a 3x3 conv; the name is kept for loading.
        self.branch1x1 = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(channels * width, channels, 3, bias=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = [getattr(self, f"layer{i}")(x) for i in range(self.width)]
        y = self.nonlinearity(self.norm1(torch.cat(branches, 1)))
        y = self.norm2(self.branch1x1(y))
        return self.nonlinearity(y + x)


class DecoderUpBlock(nn.Module):
    """Pad, 3x3 conv, BN, PReLU, stride-2 transposed conv (with bias), BN, PReLU."""

    def __init__(self, in_channels: int, mid_channels: int, out_channels: int,
                 act: nn.PReLU) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(1),
            nn.Conv2d(in_channels, mid_channels, 3, bias=False),
            nn.BatchNorm2d(mid_channels),
            act,
            nn.ConvTranspose2d(mid_channels, out_channels, 3, 2, 1, output_padding=1),
            nn.BatchNorm2d(out_channels),
            act,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class OutputHead(nn.Module):
    """Reflection pad, unbiased conv to one channel, tanh."""

    def __init__(self, in_channels: int, kernel: int = 3) -> None:
        super().__init__()
        self.model = nn.Sequential(
            nn.ReflectionPad2d(kernel // 2),
            nn.Conv2d(in_channels, 1, kernel, bias=False),
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class DepthNet(nn.Module):
    """Structure x attention -> four tanh depth maps at 1/8, 1/4, 1/2 and full resolution.

    The input has ``in_channels`` channels: the structure map's (one in the paper).
    ``skip_weight`` scales the encoder's skip features (see ``REFERENCE_SKIP_WEIGHT``).
    """

    def __init__(self, ngf: int = 64, center_blocks: int = 3, in_channels: int = 1,
                 skip_weight: float = REFERENCE_SKIP_WEIGHT) -> None:
        super().__init__()
        self.skip_scales = tuple(skip_weight * share for share in SKIP_SHARES)
        act = nn.PReLU()
        self.conv1 = nn.Sequential(
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ngf, 7, bias=False),
            nn.BatchNorm2d(ngf),
            act,
            nn.AvgPool2d(2, 2),
        )
        self.conv2 = EncoderBlock(ngf, 2 * ngf, 2 * ngf, act)
        self.conv3 = EncoderBlock(2 * ngf, 4 * ngf, 4 * ngf, act)
        self.conv4 = EncoderBlock(4 * ngf, 8 * ngf, 8 * ngf, act)
        self.center = nn.Sequential(
            *[InceptionBlock(8 * ngf, act) for _ in range(center_blocks)],
            DecoderUpBlock(8 * ngf, 8 * ngf, 4 * ngf, act),
        )
        self.deconv4 = DecoderUpBlock(8 * ngf, 8 * ngf, 2 * ngf, act)
        self.output4 = OutputHead(8 * ngf)
        self.deconv3 = DecoderUpBlock(2 * ngf + 2 * ngf + 1, 4 * ngf, ngf, act)
        self.output3 = OutputHead(4 * ngf + 1)
        self.deconv2 = DecoderUpBlock(ngf + ngf + 1, 2 * ngf, ngf // 2, act)
        self.output2 = OutputHead(2 * ngf + 1)
        self.output1 = OutputHead(ngf // 2 + 1, kernel=7)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        e1 = self.conv1(x)
        e2 = self.conv2(e1)
        e3 = self.conv3(e2)
        center = self.center(self.conv4(e3))

        scale3, scale2, scale1 = self.skip_scales
        skip = torch.cat([center, e3 * scale3], 1)
        out4 = self.output4(skip)
        d4 = self.deconv4(skip)

        skip = torch.cat([d4, e2 * scale2, self.upsample(out4)], 1)
        out3 = self.output3(skip)
        d3 = self.deconv3(skip)

        skip = torch.cat([d3, e1 * scale1, self.upsample(out3)], 1)
        out2 = self.output2(skip)
        d2 = self.deconv2(skip)

        out1 = self.output1(torch.cat([d2, self.upsample(out2)], 1))
        return [out4, out3, out2, out1]

    def skip_readers(self) -> list[tuple[nn.Conv2d, slice]]:
        """Each convolution that reads a skip feature, with the input channels it reads."""
        ngf = self.conv1[1].out_channels
        e3 = slice(4 * ngf, 8 * ngf)  # cat[center (4 ngf), e3 (4 ngf)]
        e2 = slice(2 * ngf, 4 * ngf)  # cat[d4 (2 ngf), e2 (2 ngf), out4]
        e1 = slice(ngf, 2 * ngf)  # cat[d3 (ngf), e1 (ngf), out3]
        return [(self.output4.model[1], e3), (self.deconv4.model[1], e3),
                (self.output3.model[1], e2), (self.deconv3.model[1], e2),
                (self.output2.model[1], e1), (self.deconv2.model[1], e1)]
