"""SinGAN's per-scale generator and discriminator (Shaham et al., "SinGAN: Learning a Generative
Model from a Single Natural Image", ICCV 2019).

Both are five 3x3 convolutions; conv, batch norm and LeakyReLU 0.2 alternate
in the first four. The generator adds its output (tanh) to the upsampled image
of the coarser scale; the discriminator's last conv gives a map of patch
scores (WGAN critic). Channels start at 32 and double every 4 scales (capped at
128), as in the reference code. The pyramid and its training live in
:mod:`sisr.train.zeroshot`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SinGANScaleConfig:
    channels: int = 32
    layers: int = 5
    slope: float = 0.2


def _body(cin: int, c: int, layers: int, slope: float) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers - 1):
        mods += [nn.Conv2d(cin if i == 0 else c, c, 3, padding=1), nn.BatchNorm2d(c), nn.LeakyReLU(slope)]
    return nn.Sequential(*mods)


class SinGANGenerator(nn.Module):
    def __init__(self, config: SinGANScaleConfig) -> None:
        super().__init__()
        self.config = config
        self.body = _body(3, config.channels, config.layers, config.slope)
        self.tail = nn.Sequential(nn.Conv2d(config.channels, 3, 3, padding=1), nn.Tanh())

    def forward(self, noisy: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """``noisy`` = noise + ``prev`` (the coarser scale's image, upsampled); both N x 3 x H x W."""
        return prev + self.tail(self.body(noisy))


class SinGANDiscriminator(nn.Module):
    def __init__(self, config: SinGANScaleConfig) -> None:
        super().__init__()
        self.config = config
        self.body = _body(3, config.channels, config.layers, config.slope)
        self.tail = nn.Conv2d(config.channels, 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tail(self.body(x))
