"""The few building blocks shared by several architectures."""

from __future__ import annotations

import torch
from torch import nn


def conv3x3(cin: int, cout: int, bias: bool = True) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=bias)


def disc_unit(cin: int, cout: int, stride: int, slope: float, bn: bool = True, pool: bool = False) -> nn.Sequential:
    """A discriminator layer: 3x3 conv (no bias before batch norm), batch norm, LeakyReLU, 2x2 max-pool."""
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not bn)]
    if bn:
        layers.append(nn.BatchNorm2d(cout))
    layers.append(nn.LeakyReLU(slope))
    if pool:
        layers.append(nn.MaxPool2d(2, 2))
    return nn.Sequential(*layers)


class StackDiscriminator(nn.Module):
    """A plain stack of layers, then a head that gives logits. ``forward(x, features=True)`` also
    returns every layer's output, for a feature-matching loss."""

    def __init__(self, config, body: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        self.config = config
        self.body = nn.ModuleList(body)
        self.head = head

    def forward(self, x: torch.Tensor, features: bool = False):
        feats = []
        for layer in self.body:
            x = layer(x)
            feats.append(x)
        logits = self.head(x)
        return (logits, feats) if features else logits


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


class ScaleGenerator(nn.Module):
    """A SinGAN pyramid scale's generator: ``prev + tanh(conv(trunk(noisy)))``.

    ``noisy`` is noise plus ``prev``, the coarser scale's image upsampled (both N x 3 x H x W);
    ``zero_tail`` starts the generator as the identity on ``prev``.
    """

    def __init__(self, config, trunk: nn.Module, channels: int, zero_tail: bool = False) -> None:
        super().__init__()
        self.config = config
        self.trunk = trunk
        self.tail = nn.Sequential(nn.Conv2d(channels, 3, 3, padding=1), nn.Tanh())
        if zero_tail:
            nn.init.zeros_(self.tail[0].weight)
            nn.init.zeros_(self.tail[0].bias)

    def forward(self, noisy: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        return prev + self.tail(self.trunk(noisy))


class ScaleCritic(nn.Module):
    """A SinGAN pyramid scale's discriminator: ``conv(trunk(x))``, a map of patch scores (WGAN critic)."""

    def __init__(self, config, trunk: nn.Module, channels: int) -> None:
        super().__init__()
        self.config = config
        self.trunk = trunk
        self.tail = nn.Conv2d(channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.trunk(x))
