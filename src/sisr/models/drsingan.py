"""DR-SinGAN's per-scale generator and discriminator (Zheng & Zhang, "Unsupervised image super
resolution reconstruction based on generative adversarial network").

SinGAN's layout with the plain conv stack replaced by a dense residual block
(dense connections, 1x1 local feature fusion, local residual), in both the
generator and the discriminator, with ``base_layers + n`` convs in the block at
pyramid scale ``n`` (0 = coarsest): finer scales are deeper. No batch norm.
The generator adds its output (tanh) to the upsampled coarser image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from sisr.models.blocks import DenseResidualBlock, ScaleCritic, ScaleGenerator


@dataclass(frozen=True)
class DRSinGANScaleConfig:
    channels: int = field(default=32, metadata={"min": 1})
    growth: int = field(default=16, metadata={"min": 1})
    layers: int = field(default=3, metadata={"min": 1})  # convs in the dense block at this scale: base_layers + n
    slope: float = 0.2


def _trunk(config: DRSinGANScaleConfig) -> nn.Sequential:
    """``conv -> LeakyReLU -> dense residual block``: the body shared by G and D."""
    c = config.channels
    return nn.Sequential(
        nn.Conv2d(3, c, 3, padding=1),
        nn.LeakyReLU(config.slope),
        DenseResidualBlock(c, config.growth, config.layers, config.slope),
    )


class DRSinGANGenerator(ScaleGenerator):
    def __init__(self, config: DRSinGANScaleConfig) -> None:
        super().__init__(config, _trunk(config), config.channels, zero_tail=True)

    @property
    def block(self) -> DenseResidualBlock:
        return self.trunk[2]


class DRSinGANDiscriminator(ScaleCritic):
    def __init__(self, config: DRSinGANScaleConfig) -> None:
        super().__init__(config, _trunk(config), config.channels)

    @property
    def block(self) -> DenseResidualBlock:
        return self.trunk[2]
