"""A seeded second-order degradation model after Real-ESRGAN, for blind SR training and benchmarks.

Wang et al., "Real-ESRGAN: Training Real-World Blind Super-Resolution with Pure
Synthetic Data" (ICCVW 2021): each stage blurs (isotropic or anisotropic
Gaussian, generalized Gaussian, plateau, or a sinc kernel), resizes at random
(area, bilinear or bicubic), adds Gaussian or Poisson noise (colour or gray)
and JPEG-compresses; after two stages the image is resized to the LR size and
sinc-filtered, and JPEG-compressed, in random order. The default ranges in
:class:`DegradeConfig` are the published ones (the paper's Section 3 and its
``train_realesrgan_x4plus.yml``). Every random choice comes from the generator
passed in, so ``degrade(hr, scale, np.random.default_rng(seed))`` is
reproducible; each stage can be switched off.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

__all__ = ["DegradeConfig", "degrade", "degrade_batch", "random_kernel", "sinc_kernel"]

KERNELS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


@dataclass(frozen=True)
class DegradeConfig:
    # stage switches
    blur: bool = True
    resize: bool = True
    noise: bool = True
    jpeg: bool = True
    second_stage: bool = True
    final_sinc: bool = True
    # first stage
    kernel_prob: tuple[float, ...] = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)  # over KERNELS
    kernel_sizes: tuple[int, ...] = (7, 9, 11, 13, 15, 17, 19, 21)
    sinc_prob: float = 0.1
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    betag_range: tuple[float, float] = (0.5, 4.0)
    betap_range: tuple[float, float] = (1.0, 2.0)
    resize_prob: tuple[float, float, float] = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple[float, float] = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5  # else Poisson
    noise_range: tuple[float, float] = (1.0, 30.0)  # sigma, 8-bit units
    poisson_scale_range: tuple[float, float] = (0.05, 3.0)
    gray_noise_prob: float = 0.4
    jpeg_range: tuple[float, float] = (30.0, 95.0)
    # second stage
    second_blur_prob: float = 0.8
    sinc_prob2: float = 0.1
    blur_sigma2: tuple[float, float] = (0.2, 1.5)
    resize_prob2: tuple[float, float, float] = (0.3, 0.4, 0.3)
    resize_range2: tuple[float, float] = (0.3, 1.2)
    noise_range2: tuple[float, float] = (1.0, 25.0)
    poisson_scale_range2: tuple[float, float] = (0.05, 2.5)
    jpeg_range2: tuple[float, float] = (30.0, 95.0)
    # final
    final_sinc_prob: float = 0.8


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """A circular low-pass (2-D sinc) kernel of odd ``size`` with cutoff ``cutoff`` (radians per pixel)."""
    r = np.hypot(*np.meshgrid(np.arange(size) - size // 2, np.arange(size) - size // 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        j1 = torch.special.bessel_j1(torch.from_numpy(cutoff * r)).numpy()
        k = cutoff * j1 / (2 * np.pi * r)
    k[size // 2, size // 2] = cutoff**2 / (4 * np.pi)
    return k / k.sum()


def _gaussian_family(size: int, kind: str, rng: np.random.Generator, sigma: tuple, cfg: DegradeConfig) -> np.ndarray:
    sx = rng.uniform(*sigma)
    sy, theta = (
        (sx, 0.0)
        if kind.endswith("iso") and not kind.endswith("aniso")
        else (rng.uniform(*sigma), rng.uniform(-math.pi, math.pi))
    )
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    inv = np.linalg.inv(rot @ np.diag([sx**2, sy**2]) @ rot.T)
    ax = np.arange(size) - size // 2
    xy = np.stack(np.meshgrid(ax, ax), -1)
    q = np.einsum("...i,ij,...j->...", xy, inv, xy)
    if kind.startswith("generalized"):
        beta = rng.uniform(*cfg.betag_range) if rng.random() < 0.5 else rng.uniform(1.0, cfg.betag_range[1])
        k = np.exp(-0.5 * q**beta)
    elif kind.startswith("plateau"):
        k = 1.0 / (1.0 + q ** rng.uniform(*cfg.betap_range))
    else:
        k = np.exp(-0.5 * q)
    return k / k.sum()


def random_kernel(rng: np.random.Generator, cfg: DegradeConfig, second: bool = False) -> np.ndarray:
    """A blur kernel drawn as Real-ESRGAN draws one (sinc with probability ``sinc_prob``)."""
    size = int(rng.choice(cfg.kernel_sizes))
    if rng.random() < (cfg.sinc_prob2 if second else cfg.sinc_prob):
        cutoff = rng.uniform(math.pi / 3, math.pi) if size < 13 else rng.uniform(math.pi / 5, math.pi)
        return sinc_kernel(size, cutoff)
    kind = KERNELS[int(rng.choice(len(KERNELS), p=np.asarray(cfg.kernel_prob) / sum(cfg.kernel_prob)))]
    return _gaussian_family(size, kind, rng, cfg.blur_sigma2 if second else cfg.blur_sigma, cfg)


def _filter(x: torch.Tensor, k: np.ndarray) -> torch.Tensor:
    kt = torch.from_numpy(k).float()[None, None].repeat(x.shape[1], 1, 1, 1)
    pad = k.shape[0] // 2
    # Reflection (Real-ESRGAN's filter2D) needs a side longer than the pad; tiny images edge-extend.
    mode = "reflect" if pad < min(x.shape[-2:]) else "replicate"
    return F.conv2d(F.pad(x, (pad,) * 4, mode=mode), kt, groups=x.shape[1])


def _resize(x: torch.Tensor, size: tuple[int, int], rng: np.random.Generator) -> torch.Tensor:
    mode = ("area", "bilinear", "bicubic")[int(rng.integers(0, 3))]
    return (
        F.interpolate(x, size=size, mode=mode)
        if mode == "area"
        else F.interpolate(x, size=size, mode=mode, align_corners=False)
    )


def _noise(x: torch.Tensor, rng: np.random.Generator, cfg: DegradeConfig, second: bool) -> torch.Tensor:
    gray = rng.random() < cfg.gray_noise_prob
    shape = (1, 1, *x.shape[-2:]) if gray else tuple(x.shape)
    g = torch.Generator().manual_seed(int(rng.integers(0, 2**62)))
    if rng.random() < cfg.gaussian_noise_prob:
        sigma = rng.uniform(*(cfg.noise_range2 if second else cfg.noise_range)) / 255.0
        return x + torch.randn(shape, generator=g) * sigma
    scale = rng.uniform(*(cfg.poisson_scale_range2 if second else cfg.poisson_scale_range))
    src = (
        x.clamp(0, 1)
        if not gray
        else (x.clamp(0, 1) * torch.tensor([0.299, 0.587, 0.114])[:, None, None]).sum(1, keepdim=True)
    )
    noisy = torch.poisson(src * 255.0, generator=g) / 255.0
    return x + (noisy - src) * scale


def _jpeg(x: torch.Tensor, quality: float) -> torch.Tensor:
    arr = (x[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=int(round(quality)))
    buf.seek(0)
    back = np.asarray(Image.open(buf).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(back).permute(2, 0, 1)[None]


def _stage(x: torch.Tensor, rng: np.random.Generator, cfg: DegradeConfig, size0: tuple[int, int], second: bool):
    if cfg.blur and (not second or rng.random() < cfg.second_blur_prob):
        x = _filter(x, random_kernel(rng, cfg, second))
    if cfg.resize:
        probs = cfg.resize_prob2 if second else cfg.resize_prob
        lo, hi = cfg.resize_range2 if second else cfg.resize_range
        kind = int(rng.choice(3, p=np.asarray(probs) / sum(probs)))
        f = rng.uniform(1, hi) if kind == 0 else (rng.uniform(lo, 1) if kind == 1 else 1.0)
        h, w = x.shape[-2:]
        if second:  # the second stage resizes relative to the LR size, as in Real-ESRGAN
            h, w = size0
        x = _resize(x, (max(1, int(h * f)), max(1, int(w * f))), rng)
    if cfg.noise:
        x = _noise(x, rng, cfg, second).clamp(0, 1)
    if cfg.jpeg:
        x = _jpeg(x, rng.uniform(*(cfg.jpeg_range2 if second else cfg.jpeg_range)))
    return x


def degrade(hr: np.ndarray, scale: int, rng: np.random.Generator, cfg: DegradeConfig | None = None) -> np.ndarray:
    """LR of an ``H x W x 3`` HR image (uint8 or float in [0, 1]): ``H // scale x W // scale x 3`` float32
    in [0, 1], rounded to 8 bits as a saved image would be."""
    cfg = cfg or DegradeConfig()
    arr = hr.astype(np.float32) / 255.0 if hr.dtype == np.uint8 else hr.astype(np.float32)
    x = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]
    h, w = x.shape[-2:]
    lr_size = (h // scale, w // scale)
    x = _stage(x, rng, cfg, lr_size, second=False)
    if cfg.second_stage:
        x = _stage(x, rng, cfg, lr_size, second=True)
    sinc = (
        sinc_kernel(21, rng.uniform(math.pi / 3, math.pi))
        if cfg.final_sinc and rng.random() < cfg.final_sinc_prob
        else None
    )

    def resize_and_sinc(t: torch.Tensor) -> torch.Tensor:
        t = _resize(t, lr_size, rng)
        return _filter(t, sinc) if sinc is not None else t

    if cfg.jpeg and rng.random() < 0.5:
        x = _jpeg(resize_and_sinc(x), rng.uniform(*cfg.jpeg_range2))
    elif cfg.jpeg:
        x = resize_and_sinc(_jpeg(x, rng.uniform(*cfg.jpeg_range2)))
    else:
        x = resize_and_sinc(x)
    x = (x.clamp(0, 1) * 255.0).round() / 255.0
    return x[0].permute(1, 2, 0).numpy()


def degrade_batch(hr: np.ndarray, scale: int, rng: np.random.Generator, cfg: DegradeConfig | None = None) -> np.ndarray:
    """:func:`degrade` over an ``N x H x W x 3`` batch, one set of random draws per image."""
    return np.stack([degrade(img, scale, rng, cfg) for img in hr])
