"""SRResNet generator and SRGAN discriminator (Ledig et al., "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network", CVPR 2017).

Generator: 9x9 conv + PReLU; ``blocks`` residual blocks (conv-BN-PReLU-conv-BN,
identity skip); conv-BN with a skip over all blocks; one sub-pixel x2 stage per
factor of 2 (conv to 4C, PixelShuffle, PReLU; a single x3 stage for scale 3);
9x9 conv to RGB. 16 blocks of 64 channels in the paper. Outputs are in [0, 1]
(the paper's generator ended in tanh on [-1, 1] images; the clamp in inference
plays that role here).

Discriminator: eight 3x3 convs with LeakyReLU 0.2 (batch norm on all but the
first), strides alternating 1, 2, channels 64 to 512, then dense 1024 and
dense 1. The dense layers see a 6 x 6 map as in the paper's 96 px input; other
patch sizes are average-pooled to 6 x 6 first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from sisr.models.base import SRModel


@dataclass(frozen=True)
class SRResNetConfig:
    scale: int = 4
    channels: int = 64
    blocks: int = 16


class _ResBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
            nn.PReLU(c),
            nn.Conv2d(c, c, 3, padding=1, bias=False),
            nn.BatchNorm2d(c),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SRResNet(SRModel):
    def __init__(self, config: SRResNetConfig) -> None:
        super().__init__()
        s = config.scale
        if s == 3:
            factors = [3]
        elif s >= 2 and s & (s - 1) == 0:
            factors = [2] * int(math.log2(s))
        else:
            raise ValueError(f"scale must be 2, 3, 4 or 8, got {s}")
        self.config = config
        self.scales = (s,)
        self.feature_channels = config.channels
        c = config.channels
        self.head = nn.Sequential(nn.Conv2d(3, c, 9, padding=4), nn.PReLU(c))
        self.body = nn.Sequential(*[_ResBlock(c) for _ in range(config.blocks)])
        self.body_tail = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        up: list[nn.Module] = []
        for f in factors:
            up += [nn.Conv2d(c, c * f * f, 3, padding=1), nn.PixelShuffle(f), nn.PReLU(c)]
        self.upsample = nn.Sequential(*up)
        self.tail = nn.Conv2d(c, 3, 9, padding=4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.body_tail(self.body(h))
        return self.tail(self.upsample(h))


@dataclass(frozen=True)
class SRGANDiscriminatorConfig:
    channels: int = 64
    dense: int = 1024
    slope: float = 0.2


class SRGANDiscriminator(nn.Module):
    def __init__(self, config: SRGANDiscriminatorConfig) -> None:
        super().__init__()
        self.config = config
        c, a = config.channels, config.slope
        widths = [c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c]
        layers = []
        cin = 3
        for i, w in enumerate(widths):
            mods: list[nn.Module] = [nn.Conv2d(cin, w, 3, stride=1 + i % 2, padding=1, bias=i == 0)]
            if i:
                mods.append(nn.BatchNorm2d(w))
            mods.append(nn.LeakyReLU(a))
            layers.append(nn.Sequential(*mods))
            cin = w
        self.body = nn.ModuleList(layers)
        self.pool = nn.AdaptiveAvgPool2d(6)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(cin * 36, config.dense), nn.LeakyReLU(a), nn.Linear(config.dense, 1)
        )

    def forward(self, x: torch.Tensor, features: bool = False):
        feats = []
        h = x
        for layer in self.body:
            h = layer(h)
            feats.append(h)
        logits = self.head(self.pool(h))
        return (logits, feats) if features else logits
