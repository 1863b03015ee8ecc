"""Running a model on an image: the one inference contract.

``module(x)`` takes ``1 x C x H x W`` float in [0, 1] and returns the upscaled
image; everything around it (numpy conversion, gray and alpha handling,
clamping, later tiling and self-ensemble) happens here, so models know
nothing of files or tiles.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sisr.errors import SisrError
from sisr.io import to_float

__all__ = ["Upscaler", "auto_tile", "list_models", "load_model", "run_tiled", "self_ensemble"]


def _window(length: int, blend_start: int, blend_end: int) -> torch.Tensor:
    """1-D blending weights: a raised-cosine ramp up over the first ``blend_start`` samples and
    down over the last ``blend_end``. Two neighbours' ramps over the same span sum to one."""
    w = torch.ones(length)
    if blend_start:
        q = (torch.arange(blend_start, dtype=torch.float32) + 0.5) / blend_start
        w[:blend_start] = 0.5 - 0.5 * torch.cos(math.pi * q)
    if blend_end:
        q = (torch.arange(blend_end, dtype=torch.float32) + 0.5) / blend_end
        w[length - blend_end :] = 0.5 + 0.5 * torch.cos(math.pi * q)
    return w


def _spans(n: int, tile: int) -> list[tuple[int, int]]:
    """``ceil(n / tile)`` core spans of near-equal length covering ``0..n``.

    Equal spans (rather than full tiles and a remainder) keep every core at least half a tile
    long, so the blend ramps on its two sides (each at most half the overlap, which is at most
    a quarter tile) never overrun it, whatever the image size.
    """
    k = -(-n // tile)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int = 16,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn`` (``1 x C x h x w`` -> ``1 x C x h*s x w*s``) tile by tile.

    The image is cut into cores of at most ``tile`` x ``tile`` LR pixels, of
    near-equal size along each axis. Each tile is run with ``overlap`` pixels
    of context around its core, and neighbouring outputs are blended with
    raised-cosine weights over ``overlap`` pixels centred on the boundary, so
    there are no seams and the result matches the untiled one closely.
    ``tile <= 0`` or an image no larger than one tile runs in one piece.
    """
    _, c, h, w = x.shape
    if tile <= 0 or (h <= tile and w <= tile):
        if on_tile:
            on_tile(1, 1)
        return fn(x)
    overlap = max(0, min(overlap, tile // 2))
    half = overlap // 2
    s = scale
    out = torch.zeros(1, c, h * s, w * s)
    wsum = torch.zeros(1, 1, h * s, w * s)
    ys, xs = _spans(h, tile), _spans(w, tile)
    total, done = len(ys) * len(xs), 0
    for y0, y1 in ys:
        for x0, x1 in xs:
            iy0, iy1, ix0, ix1 = max(0, y0 - overlap), min(h, y1 + overlap), max(0, x0 - overlap), min(w, x1 + overlap)
            ky0, ky1, kx0, kx1 = max(0, y0 - half), min(h, y1 + half), max(0, x0 - half), min(w, x1 + half)
            y = fn(x[..., iy0:iy1, ix0:ix1])
            y = y[..., (ky0 - iy0) * s : (ky1 - iy0) * s, (kx0 - ix0) * s : (kx1 - ix0) * s].float()
            wy = _window((ky1 - ky0) * s, 2 * half * s if y0 > 0 else 0, 2 * half * s if y1 < h else 0)
            wx = _window((kx1 - kx0) * s, 2 * half * s if x0 > 0 else 0, 2 * half * s if x1 < w else 0)
            weight = (wy[:, None] * wx[None, :])[None, None]
            out[..., ky0 * s : ky1 * s, kx0 * s : kx1 * s] += y * weight
            wsum[..., ky0 * s : ky1 * s, kx0 * s : kx1 * s] += weight
            done += 1
            if on_tile:
                on_tile(done, total)
    return out.div_(wsum)


def self_ensemble(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
    """x8 geometric self-ensemble: the mean over the 4 rotations x 2 flips, each undone on the output."""

    def run(x: torch.Tensor) -> torch.Tensor:
        acc = None
        for flip in (False, True):
            xf = x.flip(-1) if flip else x
            for k in range(4):
                y = torch.rot90(fn(torch.rot90(xf, k, dims=(-2, -1))).float(), -k, dims=(-2, -1))
                y = y.flip(-1) if flip else y
                acc = y if acc is None else acc + y
        return acc / 8

    return run


def _available_memory() -> int:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def auto_tile(module: nn.Module, scale: int, memory: int | None = None) -> int:
    """LR tile side that keeps one tile's activations within a quarter of the free memory."""
    channels = getattr(getattr(module, "config", None), "channels", 64)
    per_px = 4 * (8 * channels + 4 * 3 * scale * scale)
    budget = (memory if memory is not None else _available_memory()) // 4
    side = int(math.sqrt(max(budget, 1) / per_px)) // 16 * 16
    return max(64, min(1024, side))


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or "out of memory" in str(e) or "can't allocate memory" in str(e)


@dataclass
class Upscaler:
    """A loaded model bound to one output scale, with its inference options.

    ``tile``: LR tile side (``None``: chosen from free memory; ``0``: no tiling);
    ``overlap``: context and blend width in LR pixels; ``ensemble``: x8
    self-ensemble; ``precision``: ``"fp32"`` or ``"bf16"`` (autocast).
    """

    name: str
    module: nn.Module
    scale: int
    meta: dict[str, Any] = field(default_factory=dict)
    tile: int | None = None
    overlap: int = 16
    ensemble: bool = False
    precision: str = "fp32"
    backend: str = "torch"
    _onnx: Any = field(default=None, repr=False)

    @property
    def scales(self) -> tuple[int, ...]:
        return tuple(self.module.scales)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "onnx":
            if self._onnx is None:
                from sisr.export import onnx_session

                self._onnx = onnx_session(self)
            y = self._onnx.run(None, {"lr": x.float().contiguous().numpy()})[0]
            return torch.from_numpy(y)
        x = x.contiguous(memory_format=torch.channels_last)
        forward_scale = getattr(self.module, "forward_scale", None)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16"):
            out = forward_scale(x, self.scale) if forward_scale else self.module(x)
        return out.float()

    @torch.no_grad()
    def run(self, x: torch.Tensor, on_tile: Callable[[int, int], None] | None = None) -> torch.Tensor:
        """Upscale a ``1 x 3 x H x W`` float tensor in [0, 1]; output clamped to [0, 1]."""
        if self.precision not in ("fp32", "bf16"):
            raise SisrError(f"precision must be fp32 or bf16, got '{self.precision}'")
        fn = self_ensemble(self._forward) if self.ensemble else self._forward
        tile = auto_tile(self.module, self.scale) if self.tile is None else self.tile
        while True:
            try:
                out = run_tiled(fn, x, self.scale, tile, self.overlap, on_tile)
                break
            except (RuntimeError, MemoryError) as e:
                if not _is_oom(e) or tile == 32:
                    raise
                tile = max(32, tile // 2 if tile else 512)
        return out.clamp_(0.0, 1.0)

    def __call__(self, img: np.ndarray, on_tile: Callable[[int, int], None] | None = None) -> np.ndarray:
        """Upscale an ``H x W x 3`` image (uint8 or float in [0, 1]); returns float32 in [0, 1]."""
        arr = to_float(img)
        x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
        y = self.run(x, on_tile)
        return y[0].permute(1, 2, 0).numpy()


def list_models() -> list[str]:
    """Names accepted by :func:`load_model`: weightless baselines, shipped trained models, zero-shot methods."""
    from sisr.models import PRETRAINED, WEIGHTLESS, ZEROSHOT

    return [*WEIGHTLESS, *PRETRAINED, *ZEROSHOT]


@dataclass
class ZeroShotUpscaler:
    """A zero-shot method bound to a scale: each call trains a pyramid on the image, then enlarges it.

    ``settings``: :class:`sisr.train.zeroshot.ZeroShotConfig` values over the method's preset;
    a nested ``{method: {...}}`` entry applies to that method only (``--set drsingan.lr=0.001``);
    ``save_model``: folder where each trained pyramid is kept (one sub-folder per image).
    """

    name: str
    scale: int
    settings: dict[str, Any] = field(default_factory=dict)
    save_model: str | None = None
    progress: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    last: Any = field(default=None, repr=False)  # the last trained pyramid
    calls: int = 0

    scales = (2, 3, 4, 8)

    def config(self):
        from sisr.config import build_dataclass
        from sisr.train.zeroshot import PRESETS, ZeroShotConfig

        # ``method.key`` settings (nested tables) apply to that method only, the rest to every method.
        common = {k: v for k, v in self.settings.items() if not isinstance(v, dict)}
        for k, v in self.settings.items():
            if isinstance(v, dict) and k not in PRESETS:
                raise SisrError(
                    f"setting '{k}.{next(iter(v), '')}': '{k}' is not a zero-shot method ({', '.join(PRESETS)})"
                )
        own = self.settings.get(self.name, {})
        return build_dataclass(ZeroShotConfig, {**PRESETS[self.name], **common, **own}, f"{self.name} settings")

    def __call__(self, img: np.ndarray, on_tile: Callable[[int, int], None] | None = None) -> np.ndarray:
        from sisr.train.zeroshot import upscale_zero_shot

        arr = to_float(img)
        save = None
        if self.save_model:
            save = str(Path(self.save_model) / f"image{self.calls:04d}")
        self.calls += 1
        out, self.last = upscale_zero_shot(arr, self.scale, self.config(), progress=self.progress, save_dir=save)
        if on_tile is not None:
            on_tile(1, 1)
        return out


def _weights_dir() -> Path:
    return Path(__file__).resolve().parent / "weights"


def load_model(
    name_or_path: str | Path | None = None, scale: int | None = None, **options: Any
) -> Upscaler | ZeroShotUpscaler:
    """Load a model by name (see :func:`list_models`) or from a ``.safetensors`` path.

    ``scale`` picks the output scale for models that emit several (default:
    the largest); weightless models such as ``bicubic`` take any integer scale.
    ``options`` are :class:`Upscaler` fields (tile, overlap, ensemble, precision, backend).
    """
    from sisr.checkpoint import build_model, load_checkpoint, model_from_checkpoint
    from sisr.models import DEFAULT_MODEL, PRETRAINED, WEIGHTLESS, ZEROSHOT

    name = str(name_or_path or DEFAULT_MODEL)
    if scale is not None and (not isinstance(scale, int) or scale < 1):
        raise SisrError(f"scale must be a positive integer, got {scale!r}")
    meta: dict[str, Any] = {}
    if name in ZEROSHOT:
        bad = [k for k in ("ensemble", "backend") if options.get(k) not in (None, False, "torch")]
        if bad:
            raise SisrError(f"{name} is zero-shot (trained on each input): --{bad[0]} does not apply")
        return ZeroShotUpscaler(
            name,
            scale or 4,
            settings=dict(options.get("settings") or {}),
            save_model=options.get("save_model"),
            progress=bool(options.get("progress", False)),
            meta={"zero_shot": True},
        )
    options.pop("settings", None)
    options.pop("save_model", None)
    options.pop("progress", None)
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
    if options.get("backend", "torch") not in ("torch", "onnx"):
        raise SisrError(f"backend must be torch or onnx, got '{options['backend']}'")
    module.to(memory_format=torch.channels_last)
    return Upscaler(name=name, module=module, scale=chosen, meta=meta, **options)
