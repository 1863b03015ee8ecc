"""DRCN (Kim et al., "Deeply-Recursive Convolutional Network for Image Super-Resolution", CVPR 2016).

Embedding net (two 3x3 convs), one 3x3 conv applied ``recursions`` times with
shared weights (the inference net), and a shared reconstruction net (two 3x3
convs) that turns every recursion's features into a prediction, each with a
skip connection from the bicubic-enlarged input. The output is the weighted
average of the D predictions with learned weights. Recursive supervision: in
training, every intermediate prediction is also compared with the target
(``forward_supervised``; weight ``alpha`` shared over the D predictions, ``1 - alpha``
on the average). The paper's 256 filters and 16 recursions are the default
config; the CPU recipe (``configs/drcn_x4.toml``) states its smaller size.
The paper decays alpha during training; a fixed alpha is used here. The paper works on Y:
``luma`` does so (chroma stays bicubic), RGB otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from sisr.models.base import SRModel
from sisr.resize import upscale_torch


@dataclass(frozen=True)
class DRCNConfig:
    scale: int = field(default=4, metadata={"min": 1})
    channels: int = field(default=256, metadata={"min": 1})
    recursions: int = field(default=16, metadata={"min": 1})
    # weight of the intermediate predictions in the training loss
    alpha: float = field(default=0.5, metadata={"min": 0, "max": 1})
    luma: bool = False  # the paper's Y-only network; chroma stays bicubic


class DRCN(SRModel):
    def __init__(self, config: DRCNConfig) -> None:
        super().__init__(config, (config.scale,), "hr", config.channels)
        c = config.channels
        io = 1 if config.luma else 3
        self.embed = nn.Sequential(
            nn.Conv2d(io, c, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True)
        )
        self.recursive = nn.Conv2d(c, c, 3, padding=1)
        self.reconstruct = nn.Sequential(
            nn.Conv2d(c, c, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(c, io, 3, padding=1)
        )
        self.weights = nn.Parameter(torch.full((config.recursions,), 1.0 / config.recursions))
        nn.init.zeros_(self.reconstruct[-1].weight)
        nn.init.zeros_(self.reconstruct[-1].bias)

    def predictions(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor], Callable]:
        """(weighted output, the D intermediate predictions, the map of either to RGB) for LR input
        ``x``; with ``luma`` the predictions are luma, which ``to_rgb`` puts on bicubic's chroma."""
        up = upscale_torch(x, self.config.scale)
        base = self.luma(up) if self.config.luma else up
        h = self.embed(base)
        preds = []
        for _ in range(self.config.recursions):
            h = torch.relu(self.recursive(h))
            preds.append(self.reconstruct(h) + base)
        out = sum(w * p for w, p in zip(self.weights, preds))
        return out, preds, (lambda p: up + (p - base)) if self.config.luma else (lambda p: p)

    def forward_supervised(self, x: torch.Tensor) -> dict[int, list[tuple[float, torch.Tensor]]]:
        out, preds, to_rgb = self.predictions(x)
        a, d = self.config.alpha, len(preds)
        return {self.config.scale: [(1.0 - a, to_rgb(out))] + [(a / d, to_rgb(p)) for p in preds]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _, to_rgb = self.predictions(x)
        return to_rgb(out)  # the D predictions themselves only in training
