"""Exact inference rewrites: folded BatchNorm, fused parallel convs, depthwise heads.

Every rewrite is algebraically exact (up to float rounding); approximate modes (reduced
precision) are not applied here. The rewritten model keeps the same forward interface.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from ..model.attention import BasicBlock
from ..model.depth_net import InceptionBlock
from ..model.layers import UpProjection
from ..model.network import S2RDepthNet


@torch.no_grad()
def fold_bn(conv: nn.Conv2d | nn.ConvTranspose2d, bn: nn.BatchNorm2d,
            channels: slice = slice(None)) -> None:
    """Fold an eval-mode BatchNorm (or a channel slice of one) into the conv before it."""
    scale = bn.weight[channels] / torch.sqrt(bn.running_var[channels] + bn.eps)
    shift = bn.bias[channels] - bn.running_mean[channels] * scale
    if isinstance(conv, nn.ConvTranspose2d):  # weight is [in, out, k, k]
        conv.weight.mul_(scale.view(1, -1, 1, 1))
    else:
        conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    conv.bias = nn.Parameter(bias * scale + shift)


class FusedUpProjection(nn.Module):
    """UpProjection with BN folded and its two wide convs (same input) run as one conv."""

    def __init__(self, block: UpProjection) -> None:
        super().__init__()
        for conv, bn in ((block.conv1, block.bn1), (block.conv1_2, block.bn1_2),
                         (block.conv2, block.bn2)):
            fold_bn(conv, bn)
        self.out_channels = block.conv1.out_channels
        weight = block.conv1.weight  # the fused conv lives where the block does (CPU, GPU)
        self.wide = nn.Conv2d(block.conv1.in_channels, 2 * self.out_channels,
                              block.conv1.kernel_size, padding=block.conv1.padding,
                              device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.wide.weight.copy_(torch.cat([block.conv1.weight, block.conv2.weight]))
            self.wide.bias.copy_(torch.cat([block.conv1.bias, block.conv2.bias]))
        self.conv1_2 = block.conv1_2

    def forward(self, x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=True)
        both = self.wide(x)
        branch, shortcut = both[:, : self.out_channels], both[:, self.out_channels:]
        return torch.relu(self.conv1_2(torch.relu(branch)) + shortcut)


class ChannelSumConv(nn.Module):
    """A conv with one output channel, run as a depthwise conv followed by a channel sum.

    Same products and sums in another order (exact up to float rounding). CPU convolution
    kernels vectorise over output channels, so a one-output conv fills 1/16 of an AVX-512
    vector: the lite model's depth and map heads ran at 14-21 GFLOP/s against 250-400 for
    its other layers (BENCHMARKS.md). The depthwise form vectorises over input channels.
    The sum is a 1x1 conv with weights 1 (multiplying by 1 is exact), which OpenVINO and
    oneDNN ran faster than a reduction over channels (about 0.5 ms per lite frame).
    """

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        weight = conv.weight  # [1, C, kh, kw] -> one [1, kh, kw] filter per channel
        self.depthwise = nn.Conv2d(conv.in_channels, conv.in_channels, conv.kernel_size,
                                   conv.stride, conv.padding, conv.dilation,
                                   groups=conv.in_channels, bias=False,
                                   padding_mode=conv.padding_mode,
                                   device=weight.device, dtype=weight.dtype)
        self.channel_sum = nn.Conv2d(conv.in_channels, 1, 1, bias=conv.bias is not None,
                                     device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.depthwise.weight.copy_(weight.transpose(0, 1))
            self.channel_sum.weight.fill_(1.0)
            if conv.bias is not None:
                self.channel_sum.bias.copy_(conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.channel_sum(self.depthwise(x))

    @staticmethod
    def applies_to(module: nn.Module) -> bool:
        """A plain (ungrouped) conv with one output channel and a kernel wider than 1x1."""
        return (type(module) is nn.Conv2d and module.out_channels == 1 and module.groups == 1
                and module.kernel_size != (1, 1))


def _fold_sequential(seq: nn.Sequential) -> None:
    """Fold each (conv, BatchNorm) pair that follows directly inside a Sequential."""
    for i in range(len(seq) - 1):
        if isinstance(seq[i], nn.Conv2d | nn.ConvTranspose2d) and isinstance(seq[i + 1],
                                                                             nn.BatchNorm2d):
            fold_bn(seq[i], seq[i + 1])
            seq[i + 1] = nn.Identity()


@torch.no_grad()
def fold_model(model: S2RDepthNet, depthwise_heads: bool = True) -> S2RDepthNet:
    """A copy of ``model`` (eval mode) with every exact rewrite applied.

    BatchNorm folded into the convs, up-projections fused and, with ``depthwise_heads``,
    single-output convs run depthwise (:class:`ChannelSumConv`: measured faster on CPUs;
    the estimator leaves it off on a GPU, where it has not been measured).
    """
    model = copy.deepcopy(model).eval()
    for module in list(model.modules()):
        if isinstance(module, BasicBlock):
            fold_bn(module.conv1, module.bn1)
            fold_bn(module.conv2, module.bn2)
            module.bn1, module.bn2 = nn.Identity(), nn.Identity()
            if module.downsample is not None:
                _fold_sequential(module.downsample)
        elif isinstance(module, InceptionBlock):
            channels = module.norm2.num_features
            for i in range(module.width):
                fold_bn(getattr(module, f"layer{i}")[1], module.norm1,
                        slice(i * channels, (i + 1) * channels))
            fold_bn(module.branch1x1[1], module.norm2)
            module.norm1, module.norm2 = nn.Identity(), nn.Identity()
        elif isinstance(module, nn.Sequential):
            _fold_sequential(module)
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, UpProjection):
                setattr(parent, name, FusedUpProjection(child))
            elif depthwise_heads and ChannelSumConv.applies_to(child):
                setattr(parent, name, ChannelSumConv(child))
    return model
