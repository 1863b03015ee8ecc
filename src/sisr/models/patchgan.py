"""RR-GAN's PatchGAN-inspired discriminator.

Six conv layers; conv, batch norm, LeakyReLU and max-pooling alternate, with
conv and pooling strides of 2; the output is a map of patch logits (a 192 px
HR patch gives 12 x 12 scores).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from sisr.models.blocks import StackDiscriminator, disc_unit


@dataclass(frozen=True)
class PatchGANConfig:
    channels: int = field(default=64, metadata={"min": 1})
    slope: float = 0.2


class PatchGAN(StackDiscriminator):
    def __init__(self, config: PatchGANConfig) -> None:
        c, a = config.channels, config.slope
        body = [
            disc_unit(3, c, 1, a, bn=False),
            disc_unit(c, c, 2, a),
            disc_unit(c, 2 * c, 1, a, pool=True),
            disc_unit(2 * c, 2 * c, 2, a),
            disc_unit(2 * c, 4 * c, 1, a, pool=True),
        ]
        super().__init__(config, body, nn.Conv2d(4 * c, 1, 3, padding=1))
