"""SRGAN's discriminator (Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
Generative Adversarial Network", CVPR 2017).

Eight 3x3 convs with LeakyReLU 0.2 (batch norm on all but the first), strides
alternating 1, 2, channels 64 to 512, then dense 1024 and dense 1. The dense
layers see a 6 x 6 map as in the paper's 96 px input; other patch sizes are
average-pooled to 6 x 6 first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from sisr.models.blocks import StackDiscriminator, disc_unit


@dataclass(frozen=True)
class SRGANDiscriminatorConfig:
    channels: int = field(default=64, metadata={"min": 1})
    dense: int = field(default=1024, metadata={"min": 1})
    slope: float = 0.2


class SRGANDiscriminator(StackDiscriminator):
    def __init__(self, config: SRGANDiscriminatorConfig) -> None:
        c, a = config.channels, config.slope
        widths = [c, c, 2 * c, 2 * c, 4 * c, 4 * c, 8 * c, 8 * c]
        body = [disc_unit(i, w, 1 + k % 2, a, bn=k > 0) for k, (i, w) in enumerate(zip([3, *widths[:-1]], widths))]
        head = nn.Sequential(
            nn.AdaptiveAvgPool2d(6),
            nn.Flatten(),
            nn.Linear(widths[-1] * 36, config.dense),
            nn.LeakyReLU(a),
            nn.Linear(config.dense, 1),
        )
        super().__init__(config, body, head)
