"""The interface every image-to-image SR module implements, so no caller probes with hasattr.

``forward_scale(x, s)`` maps ``N x 3 x H x W`` in [0, 1] to ``N x 3 x sH x sW`` for each ``s``
in ``scales``; ``forward_supervised`` gives the training targets' predictions, weighted, per
scale. ``feature_space`` says where a model's features live: ``"lr"`` (at the input's size:
RR-GAN, SRResNet) or ``"hr"`` (the input is enlarged first: SRCNN, VDSR, DRCN), which sets how
much memory a tile needs.

``luma`` models (SRCNN, VDSR, DRCN with ``luma = True``) work as their papers do: the network
sees only the luma of the bicubic enlargement and changes only it; chroma stays bicubic.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import nn

from sisr.metrics import Y_WEIGHTS

__all__ = ["SRModel", "has_luma"]

_LUMA = Y_WEIGHTS / Y_WEIGHTS.sum()  # full-range luma weights (they sum to 1)


def has_luma(config: Any) -> bool:
    """Whether a model config has the ``luma`` (Y-only) option."""
    return "luma" in {f.name for f in dataclasses.fields(config)}


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

    @staticmethod
    def luma(x: torch.Tensor) -> torch.Tensor:
        """``N x 1 x H x W`` BT.601 luma of ``N x 3 x H x W`` RGB, full range: its weights sum to 1,
        so adding ``d`` to R, G and B adds ``d`` to it and leaves Cb and Cr unchanged."""
        # Python-float weights: no tensor made per call (on a GPU, that copy would wait for queued work).
        r, g, b = (float(v) for v in _LUMA)
        return x[:, 0:1] * r + x[:, 1:2] * g + x[:, 2:3] * b

    def start_as(self, config: Any, grow: bool = False) -> SRModel:
        """This trained model as the start of a run whose model is ``config``, from this one's function:
        itself when the configs match, its exact ``to_luma`` form when ``config`` is this RGB config with
        ``luma`` on, and with ``grow`` its ``grow(config)``. Any other change raises ``ValueError``."""
        if config == self.config:
            return self
        if has_luma(self.config) and not self.config.luma and config == dataclasses.replace(self.config, luma=True):
            return self.to_luma()
        if grow:
            return self.grow(config)
        raise ValueError(f"{type(self).__name__} cannot start {config} from {self.config}")

    def grow(self, config: Any) -> SRModel:
        """A bigger copy that starts from this model's function, where the architecture can grow."""
        raise ValueError(f"{type(self).__name__} cannot grow")

    def to_luma(self) -> SRModel:
        """This RGB network as a ``luma`` one that computes exactly what it does on gray images
        (R = G = B): the input conv sums its three input weights, the output conv gives the luma of
        its three outputs."""
        if not has_luma(self.config):
            raise ValueError(f"{type(self).__name__} has no luma form")
        new = type(self)(dataclasses.replace(self.config, luma=True))
        w = torch.tensor(_LUMA, dtype=torch.float32)
        state = {}
        for k, t in new.state_dict().items():
            v = self.state_dict()[k].float()
            if v.shape == t.shape:
                state[k] = v
            elif v.shape[0] == t.shape[0] and v.shape[1] == 3 and t.shape[1] == 1:
                state[k] = v.sum(1, keepdim=True)
            elif v.shape[0] == 3 and t.shape[0] == 1:
                state[k] = (v * w.view(3, *[1] * (v.dim() - 1))).sum(0, keepdim=True)
            else:
                raise ValueError(f"{k}: {tuple(v.shape)} has no luma form {tuple(t.shape)}")
        new.load_state_dict(state)
        return new
