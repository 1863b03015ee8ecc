"""Running a model on an image: the one inference contract.

``module(x)`` takes ``1 x C x H x W`` float in [0, 1] and returns the upscaled
image; everything around it (numpy conversion, gray and alpha handling,
clamping, later tiling and self-ensemble) happens here, so models know
nothing of files or tiles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sisr.errors import SisrError

__all__ = ["Upscaler", "load_model", "list_models"]


@dataclass
class Upscaler:
    """A loaded model bound to one output scale."""

    name: str
    module: nn.Module
    scale: int
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(self.module.scales)

    @torch.no_grad()
    def run(self, x: torch.Tensor) -> torch.Tensor:
        """Upscale a ``N x 3 x H x W`` float batch in [0, 1]; output clamped to [0, 1]."""
        forward_scale = getattr(self.module, "forward_scale", None)
        out = forward_scale(x, self.scale) if forward_scale else self.module(x)
        return out.clamp_(0.0, 1.0)

    def __call__(self, img: np.ndarray) -> np.ndarray:
        """Upscale an ``H x W x 3`` image (uint8 or float in [0, 1]); returns float32 in [0, 1]."""
        arr = np.asarray(img)
        arr = arr.astype(np.float32) / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float32)
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
        y = self.run(x)
        return y[0].permute(1, 2, 0).numpy()


def list_models() -> list[str]:
    """Names accepted by :func:`load_model`: weightless baselines and shipped trained models."""
    from sisr.models import PRETRAINED, WEIGHTLESS

    return [*WEIGHTLESS, *PRETRAINED]


def _weights_dir() -> Path:
    return Path(__file__).resolve().parent / "weights"


def load_model(name_or_path: str | Path | None = None, scale: int | None = None) -> Upscaler:
    """Load a model by name (see :func:`list_models`) or from a ``.safetensors`` path.

    ``scale`` picks the output scale for models that emit several (default:
    the largest); weightless models such as ``bicubic`` take any integer scale.
    """
    from sisr.checkpoint import build_model, load_checkpoint, model_from_checkpoint
    from sisr.models import DEFAULT_MODEL, PRETRAINED, WEIGHTLESS

    name = str(name_or_path or DEFAULT_MODEL)
    if scale is not None and (not isinstance(scale, int) or scale < 1):
        raise SisrError(f"scale must be a positive integer, got {scale!r}")
    meta: dict[str, Any] = {}
    if name in WEIGHTLESS:
        module = build_model(name, {"scale": scale or 4})
    elif name in PRETRAINED:
        ckpt = load_checkpoint(_weights_dir() / PRETRAINED[name][0])
        module, meta = model_from_checkpoint(ckpt, name), ckpt.meta
    elif name.endswith(".safetensors") or Path(name).exists():
        ckpt = load_checkpoint(name)
        module, meta = model_from_checkpoint(ckpt, name), ckpt.meta
    else:
        raise SisrError(f"unknown model '{name}' (known: {', '.join(list_models())}; or a .safetensors path)")
    if not hasattr(module, "scales"):
        raise SisrError(f"{name}: not a super-resolution model (a {type(module).__name__})")
    module.eval()
    scales = tuple(module.scales)
    chosen = scale or max(scales)
    if chosen not in scales:
        supported = ", ".join(str(s) for s in scales)
        raise SisrError(f"model '{name}' does not upscale x{chosen} (it supports x{supported})")
    return Upscaler(name=name, module=module, scale=chosen, meta=meta)
