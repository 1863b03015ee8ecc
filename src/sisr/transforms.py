"""The eight dihedral views of an image (4 rotations x 2 flips) and the x8 self-ensemble."""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["dihedral", "self_ensemble", "undihedral"]


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """View ``k`` (0..7) of ``x``: ``k % 4`` quarter turns, then a horizontal flip when ``k >= 4``."""
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def undihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`dihedral`."""
    x = x.flip(-1) if k >= 4 else x
    return torch.rot90(x, -(k % 4), dims=(-2, -1))


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """x8 geometric self-ensemble: the mean of ``fn`` over the 8 views, each undone on the output."""

    def run(x: torch.Tensor) -> torch.Tensor:
        return sum(undihedral(fn(dihedral(x, k)).float(), k) for k in range(8)) / 8

    return run
