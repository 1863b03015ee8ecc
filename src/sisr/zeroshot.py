"""Zero-shot SR inference: settings, presets, and a trained pyramid that enlarges its image.

A pyramid (see :mod:`sisr.train.zeroshot` for how one is trained on the image
itself) enlarges by ``s`` with its finest generator, applied ``k`` times, each
time after a bicubic upscale by the pyramid ratio ``s**(1/k)``, where ``k =
round(steps_per_octave log2 s)``: SinGAN's SR mode takes 3 steps per octave
(about 1.26 per step); fewer, larger steps (1.5 per octave: x2 in 2 steps, x4
in 3) measured better on Set5 with son/father pairs.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from sisr.checkpoint import load_tensors, save_tensors
from sisr.config import build_dataclass
from sisr.errors import SisrError
from sisr.models.drsingan import DRSinGANDiscriminator, DRSinGANGenerator, DRSinGANScaleConfig
from sisr.models.singan import SinGANDiscriminator, SinGANGenerator, SinGANScaleConfig
from sisr.precision import autocast
from sisr.resize import imresize_torch
from sisr.transforms import dihedral, undihedral

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "Pyramid",
    "ZeroShotConfig",
    "apply_generator",
    "build_scale",
    "load_pyramid",
    "preset_values",
    "receptive_radius",
    "pyramid_sizes",
    "sr_cost",
    "sr_settings",
    "conv_macs",
    "generator_macs",
    "sr_steps",
]


_NOT_NEGATIVE = {"min": 0}  # a field bound (sisr.config checks them as settings load)


@dataclass(frozen=True)
class ZeroShotConfig:
    method: str = "drsingan"  # "singan" or "drsingan"
    iters: int = field(default=2000, metadata={"min": 1})  # per scale (SinGAN's reference); CPU budgets use fewer
    finest_iters: int = field(default=0, metadata={"min": 0})  # iterations at the finest scale; 0: ``iters``
    min_size: int = field(default=25, metadata={"min": 4})  # coarsest pyramid side
    # SR steps (and pyramid scales) per doubling: SinGAN's 3 (ratio ~1.26)
    steps_per_octave: float = field(default=3.0, metadata={"above": 0})
    channels: int = field(default=32, metadata={"min": 1})  # doubled every 4 scales, capped at max_channels
    max_channels: int = field(default=128, metadata={"min": 1})
    # DR-SinGAN: base_layers + n convs in the dense block at scale n
    base_layers: int = field(default=2, metadata={"min": 1})
    growth: int = field(default=16, metadata={"min": 1})
    lr: float = field(default=5e-4, metadata={"above": 0})
    betas: tuple[float, ...] = field(default=(0.5, 0.999), metadata={"min": 0, "below": 1, "length": 2})
    # learning rate x0.1 after this fraction of a scale's iterations
    decay_at: float = field(default=0.8, metadata={"above": 0, "max": 1})
    d_steps: int = field(default=3, metadata={"min": 1})
    g_steps: int = field(default=3, metadata={"min": 1})
    gp_weight: float = field(default=0.1, metadata=_NOT_NEGATIVE)
    adv_weight: float = field(default=1.0, metadata=_NOT_NEGATIVE)  # c
    mse_weight: float = field(default=10.0, metadata=_NOT_NEGATIVE)  # b (SinGAN's alpha)
    vgg_weight: float = field(default=0.0, metadata=_NOT_NEGATIVE)  # a
    vgg_weights: str = ""
    noise_amp: float = field(default=0.1, metadata=_NOT_NEGATIVE)
    # train on random crops of this side at scales larger than it (0: whole image)
    crop: int = field(default=0, metadata={"min": 0})
    pairs: bool = False
    pair_batch: int = field(default=8, metadata={"min": 1})
    pair_weight: float = field(default=10.0, metadata=_NOT_NEGATIVE)
    pair_loss: str = field(default="mse", metadata={"choices": ("mse", "l1")})  # the son/father term
    # noise at SR time, in units of the finest scale's amplitude
    sr_noise: float = field(default=0.0, metadata=_NOT_NEGATIVE)
    # reconstruction input: coarser reconstruction ("chain", SinGAN) or real image ("real")
    rec_input: str = field(default="chain", metadata={"choices": ("chain", "real")})
    # >0: draw this many random coarser images per scale once and reuse them (0: fresh each step)
    pool: int = field(default=0, metadata={"min": 0})
    # >0: a reconstruction MSE (images in [-1, 1]) above this, once a scale has been below it, is a
    # divergence: the scale goes back to its weights of 25 to 50 iterations before (0: off)
    diverge_mse: float = field(default=0.0, metadata=_NOT_NEGATIVE)
    # "bf16": bfloat16 autocast for training and SR (about 1.3-2x faster where supported)
    precision: str = field(default="fp32", metadata={"choices": ("auto", "fp32", "bf16")})
    ensemble: bool = False  # SR: average the 8 flips/rotations at every SR step
    # SR: iterations of back-projection onto the input at the end
    back_projection: int = field(default=0, metadata={"min": 0})
    bp_each_step: bool = False  # back-project after every SR step, not only the last
    step_ensemble: bool = False  # SR: average the results of k - 1, k and k + 1 SR steps (same generator)
    # SR work cap (GMAC): ensembles are dropped in SR_CHOICES' order to fit (0: no cap)
    sr_gmacs: float = field(default=0.0, metadata=_NOT_NEGATIVE)
    seed: int = 0
    threads: int = field(default=0, metadata={"min": 0})
    device: str = "cpu"  # where training runs ("cuda", "cuda:1"); SR runs where the generators are
    preset: str = "paper"  # the preset these values started from (a label: zero_shot_config applies presets)


# The papers' settings are ZeroShotConfig's defaults ("paper": 2000 iterations per scale, hours
# per image on a CPU), with SinGAN's SR mode as its reference code runs it (tamarott/SinGAN: SR.py,
# functions.post_config and adjust_scales2image_SR): reconstruction weight alpha 100, not the 10 of
# its other tasks; coarsest side 18; noise of the finest scale's amplitude before each SR step.
# "fast" is the default of `sisr upscale` / `sisr bench`: DR-SinGAN's networks and losses at a CPU
# budget, with our son/father pairs and SR-time ensembles; its values were chosen on held-out images
# (T91:val, in no test set; README, Zero-shot). SinGAN's "fast" is its SR procedure at a CPU budget.
SINGAN_SR: dict[str, Any] = {"method": "singan", "mse_weight": 100.0, "min_size": 18, "sr_noise": 1.0}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "singan": {
        "paper": dict(SINGAN_SR),
        "fast": {**SINGAN_SR, "iters": 100, "d_steps": 1, "g_steps": 1, "crop": 48, "precision": "auto"},
    },
    "drsingan": {
        "paper": {"method": "drsingan"},
        "fast": {
            "method": "drsingan",
            "iters": 10,
            "finest_iters": 600,
            "steps_per_octave": 1.5,
            "max_channels": 64,
            "lr": 1e-3,
            "d_steps": 1,
            "g_steps": 1,
            "adv_weight": 0.01,
            "crop": 48,
            "pairs": True,
            "pair_loss": "l1",
            "rec_input": "real",
            "pool": 1,
            "diverge_mse": 0.05,
            "precision": "auto",
            "ensemble": True,
            "back_projection": 8,
            "bp_each_step": True,
            "step_ensemble": True,
            "sr_gmacs": 1500.0,  # about a minute of SR on 2 AVX2 cores; only inputs over ~250x250 px lose ensembles
        },
    },
}
DEFAULT_PRESET = "fast"


def preset_values(method: str, preset: str = DEFAULT_PRESET) -> dict[str, Any]:
    """The settings of ``preset`` for zero-shot ``method`` (``preset`` recorded among them)."""
    if method not in PRESETS:
        raise SisrError(f"unknown zero-shot method '{method}' (known: {', '.join(PRESETS)})")
    if preset not in PRESETS[method]:
        raise SisrError(f"preset must be {' or '.join(repr(p) for p in PRESETS[method])}, got '{preset}'")
    return {**PRESETS[method][preset], "preset": preset}


def sr_steps(scale: float, per_octave: float = 3.0) -> tuple[int, float]:
    """(number of SR steps k, ratio) for an enlargement by ``scale``: ``round(per_octave log2 s)``,
    at least one; SinGAN's is 3 per octave (ratio about 1.26)."""
    if scale <= 1:
        raise SisrError(f"scale must be above 1, got {scale}")
    if per_octave <= 0:
        raise SisrError(f"steps_per_octave must be positive, got {per_octave}")
    k = max(1, round(per_octave * math.log2(scale)))
    return k, scale ** (1.0 / k)


def pyramid_sizes(h: int, w: int, ratio: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest (the image itself); the coarsest has min side >= ``min_size``."""
    if min(h, w) < min_size:
        raise SisrError(f"image is {w}x{h}: zero-shot SR needs at least {min_size} px on each side")
    n = int(math.floor(math.log(min(h, w) / min_size) / math.log(ratio))) + 1
    return [(max(1, round(h / ratio**k)), max(1, round(w / ratio**k))) for k in range(n - 1, -1, -1)]


def to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float() * 2 - 1


def to_image(x: torch.Tensor) -> np.ndarray:
    """The inverse of :func:`to_tensor`, clipped to [0, 1]."""
    return ((x[0].permute(1, 2, 0).cpu().numpy() + 1) / 2).clip(0, 1)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return imresize_torch(x, size=size)


def build_scale(cfg: ZeroShotConfig, n: int) -> tuple[nn.Module, nn.Module]:
    c = min(cfg.channels * 2 ** (n // 4), cfg.max_channels)
    if cfg.method == "singan":
        sc = SinGANScaleConfig(channels=c)
        return SinGANGenerator(sc), SinGANDiscriminator(sc)
    if cfg.method == "drsingan":
        sc = DRSinGANScaleConfig(channels=c, growth=cfg.growth, layers=cfg.base_layers + n)
        return DRSinGANGenerator(sc), DRSinGANDiscriminator(sc)
    raise SisrError(f"method must be 'singan' or 'drsingan', got '{cfg.method}'")


def sr_paths(scale: int, cfg: ZeroShotConfig) -> list[int]:
    """The numbers of SR steps whose results are averaged: ``k``, or ``k - 1, k, k + 1`` (``step_ensemble``)."""
    k, _ = sr_steps(scale, cfg.steps_per_octave)
    return [j for j in (k - 1, k, k + 1) if j >= 1] if cfg.step_ensemble else [k]


def sr_cost(h: int, w: int, scale: int, cfg: ZeroShotConfig) -> int:
    """Pixels the finest generator processes to enlarge an ``h`` x ``w`` image (the unit of
    :func:`sisr.train.zeroshot.train_cost`, so that one progress bar covers training and SR)."""
    views = 8 if cfg.ensemble else 1
    total = 0
    for k in sr_paths(scale, cfg):
        ratio = scale ** (1.0 / k)
        for j in range(1, k + 1):
            size = (h * scale, w * scale) if j == k else (round(h * ratio**j), round(w * ratio**j))
            total += views * size[0] * size[1]
    return total


# The SR-time ensembles in order of preference, each one cheaper than the one before. On held-out
# images (T91:val, benchmarks/results/zeroshot_tuning/drsingan_sr_options.json) the step ensemble
# alone beat the x8 ensemble alone at x2 and x4 for under half its work, so x8 alone is never chosen.
SR_CHOICES: tuple[dict[str, bool], ...] = (
    {},
    {"ensemble": False},
    {"ensemble": False, "step_ensemble": False},
)


def conv_macs(g: nn.Module) -> int:
    """Multiply-adds per output pixel of a fully convolutional, stride-1 network."""
    return sum(m.weight.numel() for m in g.modules() if isinstance(m, nn.Conv2d))


def generator_macs(cfg: ZeroShotConfig, n: int) -> int:
    """:func:`conv_macs` of scale ``n``'s generator, built on the meta device: estimating work must
    not draw from the random generator that training's weights are drawn from next."""
    with torch.device("meta"):
        return conv_macs(build_scale(cfg, n)[0])


def sr_settings(h: int, w: int, scale: int, cfg: ZeroShotConfig, macs: int | None = None) -> ZeroShotConfig:
    """``cfg`` with the SR-time ensembles its ``sr_gmacs`` cap allows for an ``h`` x ``w`` input:
    the first of :data:`SR_CHOICES` within the cap (the last one if none is). ``macs``: the finest
    generator's multiply-adds per pixel (default: those of the generator this input's pyramid gets)."""
    if cfg.sr_gmacs <= 0 or not (cfg.ensemble or cfg.step_ensemble):
        return cfg
    if macs is None:
        _, ratio = sr_steps(scale, cfg.steps_per_octave)
        macs = generator_macs(cfg, len(pyramid_sizes(h, w, ratio, cfg.min_size)) - 1)
    for drop in SR_CHOICES:
        chosen = dataclasses.replace(cfg, **drop)
        if sr_cost(h, w, scale, chosen) * macs <= cfg.sr_gmacs * 1e9:
            break
    return chosen


SR_TILE = 384  # generator input side per piece at SR time: bounded memory for large outputs


def receptive_radius(g: nn.Module) -> int:
    """Pixels of context one output pixel of ``g`` sees on each side (its convolutions' reach)."""
    r = 0
    for m in g.modules():
        if isinstance(m, nn.Conv2d):
            r += (m.kernel_size[0] - 1) // 2 * m.dilation[0]
    return r


@torch.no_grad()
def apply_generator(
    g: nn.Module, x: torch.Tensor, prev: torch.Tensor, precision: str = "fp32", tile: int = SR_TILE
) -> torch.Tensor:
    """``g(x, prev)`` computed in pieces of ``tile`` px, each with the generator's whole receptive
    field of real context around it, so the result equals the one-piece pass while memory stays
    bounded (a 4096 x 3072 output would otherwise hold gigabytes of dense-block features)."""
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        with autocast(precision, x.device):
            return g(x, prev).float()
    r = receptive_radius(g)
    out = torch.empty_like(x)
    for y0 in range(0, h, tile):
        for x0 in range(0, w, tile):
            y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
            a, b = max(0, y0 - r), max(0, x0 - r)
            win = (..., slice(a, min(h, y1 + r)), slice(b, min(w, x1 + r)))
            with autocast(precision, x.device):
                piece = g(x[win], prev[win]).float()
            out[..., y0:y1, x0:x1] = piece[..., y0 - a : y0 - a + (y1 - y0), x0 - b : x0 - b + (x1 - x0)]
    return out


@torch.no_grad()
def sr_chain(
    g: nn.Module,
    lr: torch.Tensor,
    scale: int,
    cfg: ZeroShotConfig,
    amp: float,
    generator: torch.Generator | None = None,
    steps: int = 0,
    tick: Callable[[int], None] | None = None,
    on_step: Callable[[int, torch.Tensor, torch.Tensor], None] | None = None,
) -> torch.Tensor:
    """SinGAN's SR: ``k`` times (bicubic x ratio, ``g``), from ``lr`` (1 x 3 x H x W in [-1, 1]),
    with the SR-time options: x8 self-ensemble, back-projection. ``steps``: ``k`` (0: from the settings).
    ``tick(pixels)`` follows the work done (see :func:`sr_cost`); ``on_step(j, up, x)`` sees each
    step's enlarged input and its result (benchmarks/singan_steps.py)."""
    k, ratio = (steps, scale ** (1.0 / steps)) if steps else sr_steps(scale, cfg.steps_per_octave)
    h, w = lr.shape[-2:]
    x = lr
    for j in range(1, k + 1):
        size = (h * scale, w * scale) if j == k else (round(h * ratio**j), round(w * ratio**j))
        up = resize(x, size)
        noise = torch.randn(up.shape, generator=generator).to(up.device) * amp * cfg.sr_noise
        views = range(8) if cfg.ensemble else (0,)
        acc = torch.zeros_like(up)
        for v in views:
            y = apply_generator(g, dihedral(up + noise, v), dihedral(up, v), cfg.precision)
            acc += undihedral(y, v)
            if tick is not None:
                tick(size[0] * size[1])
        x = acc / len(views)
        if j == k or cfg.bp_each_step:
            for _ in range(cfg.back_projection):
                # Back-projection: the result shrunk to the input's size should be the input.
                x = x + resize(lr - resize(x, (h, w)), size)
        if on_step is not None:
            on_step(j, up, x)
    return x


@dataclass
class Pyramid:
    """A trained pyramid: generators coarse to fine, noise amplitudes, and the settings."""

    cfg: ZeroShotConfig
    ratio: float
    sizes: list[tuple[int, int]]
    gens: list[nn.Module]
    amps: list[float]
    seconds: float = 0.0
    log: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None  # the name of the file it was trained on, where it came from one

    @torch.no_grad()
    def enlarge(
        self,
        img: np.ndarray,
        scale: int,
        generator: torch.Generator | None = None,
        tick: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Enlarge ``img`` (H x W x 3 float in [0, 1]) by ``scale`` with the finest generator."""
        g = self.gens[-1].eval().to(memory_format=torch.channels_last)
        lr = to_tensor(img).to(next(g.parameters()).device)
        cfg = sr_settings(img.shape[0], img.shape[1], scale, self.cfg, conv_macs(g))
        paths = sr_paths(scale, cfg)
        x = sum(sr_chain(g, lr, scale, cfg, self.amps[-1], generator, j, tick) for j in paths) / len(paths)
        return to_image(x)

    def save(self, folder: str | Path) -> Path:
        """Write the pyramid as ``folder/pyramid.safetensors``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"g{n}.{k}": v.cpu() for n, g in enumerate(self.gens) for k, v in g.state_dict().items()}
        header = {
            "config": dataclasses.asdict(self.cfg),
            "ratio": self.ratio,
            "sizes": self.sizes,
            "amps": self.amps,
            "seconds": self.seconds,
            **({"source": self.source} if self.source else {}),
        }
        return save_tensors(folder / "pyramid.safetensors", tensors, "pyramid", header)


def load_pyramid(path: str | Path) -> Pyramid:
    """Load a pyramid written by :meth:`Pyramid.save` (a folder or its ``pyramid.safetensors``)."""
    p = Path(path)
    if p.is_dir():
        p = p / "pyramid.safetensors"
    tensors, header = load_tensors(p, "pyramid")
    if header["version"] == 1:  # version-1 SinGAN generators named their trunk "body"
        tensors = {k.replace(".body.", ".trunk.", 1): v for k, v in tensors.items()}
    cfg = build_dataclass(ZeroShotConfig, header["config"], f"{p} settings")
    sizes = [tuple(s) for s in header["sizes"]]
    gens = []
    for n in range(len(sizes)):
        g, _ = build_scale(cfg, n)
        prefix = f"g{n}."
        g.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        gens.append(g.eval())
    amps, seconds = list(header["amps"]), float(header["seconds"])
    return Pyramid(cfg, float(header["ratio"]), sizes, gens, amps, seconds, source=header.get("source"))
