"""SinGAN's per-scale generator and discriminator (Shaham et al., "SinGAN: Learning a Generative
Model from a Single Natural Image", ICCV 2019).

Both are five 3x3 convolutions; conv, batch norm and LeakyReLU 0.2 alternate
in the first four. The generator adds its output (tanh) to the upsampled image
of the coarser scale; the discriminator's last conv gives a map of patch
scores (WGAN critic). Channels start at 32 and double every 4 scales (capped at
128), as in the reference code. Weights start as the reference starts them
(``weights_init``: conv weights N(0, 0.02), batch-norm scales N(1, 0.02) and
shifts 0; conv biases keep PyTorch's draw, as there), not PyTorch's larger
default conv weights. The pyramid and its training live in
:mod:`sisr.train.zeroshot`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from sisr.models.blocks import ScaleCritic, ScaleGenerator


@dataclass(frozen=True)
class SinGANScaleConfig:
    channels: int = field(default=32, metadata={"min": 1})
    layers: int = field(default=5, metadata={"min": 1})
    slope: float = 0.2


def _body(cin: int, c: int, layers: int, slope: float) -> nn.Sequential:
    mods: list[nn.Module] = []
    for i in range(layers - 1):
        mods += [nn.Conv2d(cin if i == 0 else c, c, 3, padding=1), nn.BatchNorm2d(c), nn.LeakyReLU(slope)]
    return nn.Sequential(*mods)


def _reference_init(m: nn.Module) -> None:
    if isinstance(m, nn.Conv2d):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class SinGANGenerator(ScaleGenerator):
    def __init__(self, config: SinGANScaleConfig) -> None:
        super().__init__(config, _body(3, config.channels, config.layers, config.slope), config.channels)
        self.apply(_reference_init)


class SinGANDiscriminator(ScaleCritic):
    def __init__(self, config: SinGANScaleConfig) -> None:
        super().__init__(config, _body(3, config.channels, config.layers, config.slope), config.channels)
        self.apply(_reference_init)
