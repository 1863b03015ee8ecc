"""The few building blocks shared by several architectures."""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


class ResidualUnit(nn.Module):
    """Pre-activation ``relu-conv-relu-conv`` with no batch norm (DRRN's unit)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = conv3x3(channels, channels)
        self.conv2 = conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(torch.relu(self.conv1(torch.relu(x))))


class RecursiveBlock(nn.Module):
    """One residual unit applied ``recursions`` times with shared weights.

    Each recursion adds back the block input (DRRN's multi-path local residual):
    ``h_u = unit(h_{u-1}) + x``.
    """

    def __init__(self, channels: int, recursions: int) -> None:
        super().__init__()
        self.unit = ResidualUnit(channels)
        self.recursions = recursions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        for _ in range(self.recursions):
            h = self.unit(h) + x
        return h


class SubPixelHead(nn.Module):
    """``conv -> PixelShuffle(r)``: features in LR space to a ``out_ch``-channel image at r x."""

    def __init__(self, channels: int, scale: int, out_channels: int = 3) -> None:
        super().__init__()
        self.conv = conv3x3(channels, out_channels * scale * scale)
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.conv(x))


class DenseResidualBlock(nn.Module):
    """Residual dense block: ``layers`` densely connected 3x3 convs (each sees the block input and
    every earlier output, adds ``growth`` channels), 1x1 local feature fusion back to
    ``channels``, and a local residual connection."""

    def __init__(self, channels: int, growth: int, layers: int, slope: float = 0.2) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels + i * growth, growth, 3, padding=1) for i in range(layers))
        self.fuse = nn.Conv2d(channels + layers * growth, channels, 1)
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for conv in self.convs:
            feats.append(nn.functional.leaky_relu(conv(torch.cat(feats, 1)), self.slope))
        return x + self.fuse(torch.cat(feats, 1))
