"""SRResNet generator (Ledig et al., "Photo-Realistic Single Image
Super-Resolution Using a Generative Adversarial Network", CVPR 2017).

Generator: 9x9 conv + PReLU; ``blocks`` residual blocks (conv-BN-PReLU-conv-BN,
identity skip); conv-BN with a skip over all blocks; one sub-pixel x2 stage per
factor of 2 (conv to 4C, PixelShuffle, PReLU; a single x3 stage for scale 3);
9x9 conv to RGB. 16 blocks of 64 channels in the paper. Outputs are in [0, 1]
(the paper's generator ended in tanh on [-1, 1] images; the clamp in inference
plays that role here).
The discriminator is in :mod:`sisr.models.srgan_disc`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
from torch import nn

from sisr.models.base import SRModel


@dataclass(frozen=True)
class SRResNetConfig:
    scale: int = field(default=4, metadata={"min": 1})
    channels: int = field(default=64, metadata={"min": 1})
    blocks: int = field(default=16, metadata={"min": 1})


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
        s = config.scale
        if s == 3:
            factors = [3]
        elif s >= 2 and s & (s - 1) == 0:
            factors = [2] * int(math.log2(s))
        else:
            raise ValueError(f"scale must be 2, 3, 4 or 8, got {s}")
        super().__init__(config, (s,), "lr", config.channels)
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
