"""VDSR (Kim et al., "Accurate Image Super-Resolution Using Very Deep Convolutional Networks", CVPR 2016).

``depth`` 3x3 convolutions of ``channels`` filters (20 and 64 in the paper),
ReLU between them, predicting the residual that is added to the bicubic
enlargement of the input (of its luma only with ``luma``, as in the paper; RGB
otherwise). The network never sees the scale, only the enlargement, so one network
can serve several (``scales``; the paper's multi-scale model is trained on x2, x3
and x4 at once, the trainer's targets for each). The paper's adjustable gradient clipping belongs to its SGD schedule
(learning rate 0.1, clip to theta / lr); with Adam, the training recipe clips
the gradient norm instead (``grad_clip``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch
from torch import nn

from sisr.models.base import SRModel
from sisr.resize import upscale_torch


@dataclass(frozen=True)
class VDSRConfig:
    scale: int = field(default=4, metadata={"min": 1})
    depth: int = field(default=20, metadata={"min": 2})
    channels: int = field(default=64, metadata={"min": 1})
    luma: bool = False  # the paper's Y-only network; chroma stays bicubic
    scales: tuple[int, ...] = ()  # the scales one network serves, ``scale`` the largest; () is (scale,)


class VDSR(SRModel):
    def __init__(self, config: VDSRConfig) -> None:
        scales = tuple(config.scales) or (config.scale,)
        if list(scales) != sorted(set(scales)) or scales[0] < 2 or scales[-1] != config.scale:
            raise ValueError(f"scales must be increasing integers >= 2 ending at scale {config.scale}, got {scales}")
        super().__init__(config, scales, "hr", config.channels)
        c = config.channels
        io = 1 if config.luma else 3
        layers: list[nn.Module] = [nn.Conv2d(io, c, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(config.depth - 2):
            layers += [nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(c, io, 3, padding=1))
        self.body = nn.Sequential(*layers)
        # He initialisation as in the paper; the last layer starts at zero so training starts from bicubic.
        for m in self.body:
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.zeros_(self.body[-1].weight)

    def forward_scale(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale not in self.scales:
            raise ValueError(f"VDSR does not upscale x{scale} (it serves {self.scales})")
        up = upscale_torch(x, scale)
        return up + self.body(self.luma(up) if self.config.luma else up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_scale(x, self.config.scale)

    def grow(self, config: VDSRConfig) -> VDSR:
        """The same network serving more scales (``config`` is this config with more ``scales``):
        its weights carry over unchanged, as the network never sees the scale."""
        mine = set(self.scales)
        if replace(self.config, scales=config.scales) != config or not mine <= set(config.scales or (config.scale,)):
            raise ValueError(f"cannot grow {self.config} into {config}: only more scales")
        grown = VDSR(config)
        grown.load_state_dict(self.state_dict())
        return grown
