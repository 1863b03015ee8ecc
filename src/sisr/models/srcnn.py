"""SRCNN (Dong et al., "Image Super-Resolution Using Deep Convolutional Networks", ECCV 2014 / TPAMI 2016).

Three convolutions on the bicubic-enlarged image: patch extraction (f1 x f1, n1
filters), non-linear mapping (f2 x f2, n2 filters) and reconstruction (f3 x f3).
The paper's 9-5-5 with 64/32 filters is the default; ``f2 = 1`` gives 9-1-5.
Differences from the paper, stated: 'same' zero padding (the paper's 'valid'
convolutions shrink the output), and RGB in and out (the paper works on Y) unless
``luma``: then the network sees and predicts the luma only, as in the paper, and
chroma stays bicubic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from sisr.models.base import SRModel
from sisr.resize import upscale_torch


@dataclass(frozen=True)
class SRCNNConfig:
    scale: int = field(default=4, metadata={"min": 1})
    f1: int = field(default=9, metadata={"min": 1})
    f2: int = field(default=5, metadata={"min": 1})
    f3: int = field(default=5, metadata={"min": 1})
    n1: int = field(default=64, metadata={"min": 1})
    n2: int = field(default=32, metadata={"min": 1})
    luma: bool = False  # the paper's Y-only network; chroma stays bicubic


class SRCNN(SRModel):
    def __init__(self, config: SRCNNConfig) -> None:
        if any(k % 2 == 0 for k in (config.f1, config.f2, config.f3)):  # "same" padding needs a centre
            raise ValueError(f"f1, f2, f3 must be odd, got {config.f1}, {config.f2}, {config.f3}")
        super().__init__(config, (config.scale,), "hr", config.n1)
        c = config
        io = 1 if c.luma else 3
        self.body = nn.Sequential(
            nn.Conv2d(io, c.n1, c.f1, padding=c.f1 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c.n1, c.n2, c.f2, padding=c.f2 // 2),
            nn.ReLU(inplace=True),
            nn.Conv2d(c.n2, io, c.f3, padding=c.f3 // 2),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        up = upscale_torch(x, self.config.scale)
        if not self.config.luma:
            return self.body(up)
        y = self.luma(up)
        return up + (self.body(y) - y)  # the new luma, the bicubic chroma
