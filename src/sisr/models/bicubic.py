"""MATLAB bicubic interpolation as a model: the baseline every table starts from."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from sisr.models.base import SRModel
from sisr.resize import upscale_torch


@dataclass(frozen=True)
class BicubicConfig:
    scale: int = field(default=4, metadata={"min": 1})


class Bicubic(SRModel):
    """``imresize(x, scale)``; no parameters, any integer scale."""

    any_scale = True

    def __init__(self, config: BicubicConfig) -> None:
        super().__init__(config, (config.scale,), "hr", 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upscale_torch(x, self.config.scale)
