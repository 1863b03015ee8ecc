"""The interface every image-to-image SR module implements, so no caller probes with hasattr.

``forward_scale(x, s)`` maps ``N x 3 x H x W`` in [0, 1] to ``N x 3 x sH x sW`` for each ``s``
in ``scales``; ``forward_supervised`` gives the training targets' predictions, weighted, per
scale. ``feature_space`` says where a model's features live: ``"lr"`` (at the input's size:
RR-GAN, SRResNet) or ``"hr"`` (the input is enlarged first: SRCNN, VDSR, DRCN), which sets how
much memory a tile needs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["SRModel"]


class SRModel(nn.Module):
    def __init__(self, config: Any, scales: tuple[int, ...], feature_space: str, feature_channels: int) -> None:
        super().__init__()
        self.config = config
        self.scales = tuple(scales)
        self.feature_space = feature_space
        self.feature_channels = feature_channels

    def forward_scale(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        if scale != self.scales[-1]:
            raise ValueError(f"{type(self).__name__} does not upscale x{scale}")
        return self(x)

    def forward_all(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Outputs at every scale the model emits, keyed by scale."""
        return {s: self.forward_scale(x, s) for s in self.scales}

    def forward_supervised(self, x: torch.Tensor) -> dict[int, list[tuple[float, torch.Tensor]]]:
        """``{scale: [(weight, prediction), ...]}``; the first of each list is the output itself."""
        return {s: [(1.0, y)] for s, y in self.forward_all(x).items()}
