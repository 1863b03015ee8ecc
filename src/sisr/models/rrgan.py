"""RR-GAN generator: recursive residual learning in a multi-cascade layout.

Wang et al., "Image super-resolution reconstruction based on improved
generative adversarial network" (2020). Every stage works in LR space (the
recursions are where the compute goes; running them at 2x resolution costs
3.5-4.7x more here), continues from the previous stage's features, and predicts
a residual by sub-pixel convolution that is added to the bicubic enlargement
of the previous stage's image (global residual learning). With scales (2, 4)
one model emits the x2 and the x4 image; with (2, 3, 4), x2, x3 and x4.
No batch norm anywhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
from torch import nn

from sisr.models.base import SRModel
from sisr.models.blocks import RecursiveBlock, SubPixelHead, conv3x3
from sisr.resize import upscale_torch


@dataclass(frozen=True)
class RRGANConfig:
    channels: int = field(default=64, metadata={"min": 1})
    blocks: int = field(default=2, metadata={"min": 1})  # recursive blocks per stage, each with its own weights
    recursions: int = field(default=3, metadata={"min": 1})  # applications of each block's shared residual unit
    scales: tuple[int, ...] = (2, 4)  # cumulative output scales, one per stage


class RRGAN(SRModel):
    def __init__(self, config: RRGANConfig) -> None:
        if not config.scales or list(config.scales) != sorted(set(config.scales)) or config.scales[0] < 2:
            raise ValueError(f"scales must be increasing integers >= 2, got {config.scales}")
        super().__init__(config, config.scales, "lr", config.channels)
        c = config.channels
        self.head = conv3x3(3, c)
        self.stages = nn.ModuleList(
            nn.Sequential(*[RecursiveBlock(c, config.recursions) for _ in range(config.blocks)]) for _ in self.scales
        )
        self.tails = nn.ModuleList(SubPixelHead(c, s) for s in self.scales)

    def grow(self, config: RRGANConfig) -> RRGAN:
        """A copy with ``config`` (this config with more blocks per stage, more output scales, or
        both) that starts from this model's function.

        The existing blocks come first; each new block's last conv starts at zero, so every one of
        its recursions returns the block input (an identity) until training moves it. This is
        function-preserving growth (Chen et al., "Net2Net", 2016): a bigger model continues from a
        trained smaller one instead of starting again from random weights. A new scale gets a stage
        of identity blocks and a zero tail, so it starts as the bicubic enlargement of the stage
        before it; the stages after it keep their weights, but their base is now resized in two
        steps (x2 -> x3 -> x4 instead of x2 -> x4), so they start close to, not exactly at, the old
        output. Any other change of config raises ``ValueError``.
        """
        same_else = replace(self.config, blocks=config.blocks, scales=config.scales) == config
        if config.blocks < self.config.blocks or not set(self.config.scales) <= set(config.scales) or not same_else:
            raise ValueError(f"cannot grow {self.config} into {config}: only more blocks per stage or more scales")
        grown = RRGAN(config)
        old = {s: (stage, tail) for s, stage, tail in zip(self.scales, self.stages, self.tails)}
        for s, new, tail in zip(grown.scales, grown.stages, grown.tails):
            old_stage, old_tail = old.get(s, ((), None))
            for i, block in enumerate(new):
                if i < len(old_stage):
                    block.load_state_dict(old_stage[i].state_dict())
                else:
                    nn.init.zeros_(block.unit.conv2.weight)
                    nn.init.zeros_(block.unit.conv2.bias)
            if old_tail is not None:
                tail.load_state_dict(old_tail.state_dict())
            else:
                nn.init.zeros_(tail.conv.weight)
                nn.init.zeros_(tail.conv.bias)
        grown.head.load_state_dict(self.head.state_dict())
        return grown

    def forward_all(self, x: torch.Tensor, upto: int | None = None) -> dict[int, torch.Tensor]:
        """Outputs of every stage up to scale ``upto`` (default: all), keyed by scale."""
        feats = self.head(x)
        prev, prev_scale = x, 1
        outs: dict[int, torch.Tensor] = {}
        for scale, stage, tail in zip(self.scales, self.stages, self.tails):
            feats = stage(feats)
            g = math.gcd(scale, prev_scale)  # x2 -> x3 is 3 / 2; prev is prev_scale x the input, so 2 divides it
            base = upscale_torch(prev, scale // g, prev_scale // g)
            prev, prev_scale = base + tail(torch.relu(feats)), scale
            outs[scale] = prev
            if upto is not None and scale >= upto:
                break
        return outs

    def forward_scale(self, x: torch.Tensor, scale: int) -> torch.Tensor:
        return self.forward_all(x, upto=scale)[scale]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_all(x)[self.scales[-1]]
