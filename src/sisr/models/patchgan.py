"""RR-GAN's PatchGAN-inspired discriminator.

Six conv layers; conv, batch norm, LeakyReLU and max-pooling alternate, with
conv and pooling strides of 2; the output is a map of patch logits (a 192 px
HR patch gives 12 x 12 scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class PatchGANConfig:
    channels: int = 64
    slope: float = 0.2


class PatchGAN(nn.Module):
    def __init__(self, config: PatchGANConfig) -> None:
        super().__init__()
        self.config = config
        c, a = config.channels, config.slope

        def unit(cin: int, cout: int, stride: int, bn: bool = True, pool: bool = False) -> nn.Sequential:
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=not bn)]
            if bn:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(nn.LeakyReLU(a))
            if pool:
                layers.append(nn.MaxPool2d(2, 2))
            return nn.Sequential(*layers)

        self.body = nn.ModuleList(
            [
                unit(3, c, 1, bn=False),
                unit(c, c, 2),
                unit(c, 2 * c, 1, pool=True),
                unit(2 * c, 2 * c, 2),
                unit(2 * c, 4 * c, 1, pool=True),
            ]
        )
        self.out = nn.Conv2d(4 * c, 1, 3, padding=1)

    def forward(self, x: torch.Tensor, features: bool = False):
        feats = []
        h = x
        for layer in self.body:
            h = layer(h)
            feats.append(h)
        logits = self.out(h)
        return (logits, feats) if features else logits
