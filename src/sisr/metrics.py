"""PSNR and SSIM exactly as published SR tables compute them.

Conventions (docs/benchmark-rules.md): images are ``H x W x C``
(or ``H x W``) arrays, float in [0, 1] or uint8 in 0..255; metrics are taken
on the BT.601 luma ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (R, G, B in
[0, 1]) kept as an unrounded float in [16, 235], after cropping ``crop``
pixels from every edge.

Gray (one-channel) images are measured on their gray values in [0, 255]:
the MATLAB scripts behind the published tables only convert colour images
(``if size(im, 3) > 1, im = rgb2ycbcr(im)``). Replicating gray to RGB first
would squeeze it into [16, 235] and add 20 log10(255 / 219) = 1.32 dB to
its PSNR (Set14's bridge: 27.89 instead of the published 26.58 at x2).
PSNR uses peak 255; SSIM is Wang et al.'s with an 11 x 11 Gaussian window
(sigma 1.5), K1 = 0.01, K2 = 0.03, L = 255, 'valid' filtering, mean of the map.
Torch tensors (``C x H x W`` or ``1 x C x H x W``, float in [0, 1]) and image
files' paths are accepted too and converted.
"""

from __future__ import annotations

import math
import os
from typing import Any

import numpy as np

from sisr.io import read_image, to_float, to_uint8, to_uint16

__all__ = ["Y_WEIGHTS", "crop_border", "gray_of", "psnr", "quantize", "rgb_to_y", "ssim", "to_float_image"]

Y_WEIGHTS = np.array([65.481, 128.553, 24.966])  # BT.601 (MATLAB rgb2ycbcr); they sum to 219


def to_float_image(img: Any) -> np.ndarray:
    """Return ``img`` as a float64 ``H x W x C`` array in [0, 1], C = 1 (gray) or 3; alpha dropped.
    A path is read as ``sisr upscale`` reads it (at its depth, oriented, gray kept gray)."""
    if isinstance(img, (str, os.PathLike)):
        data = read_image(img)  # its float32 pixels, back at the file's depth: as exact as its array
        return to_float_image(to_uint8(data.pixels) if data.bits == 8 else to_uint16(data.pixels))
    if hasattr(img, "detach"):  # torch tensor, C x H x W or 1 x C x H x W
        t = img.detach().float().cpu()
        if t.dim() == 4:
            if t.shape[0] != 1:
                raise ValueError(f"expected a single image, got a batch of {t.shape[0]}")
            t = t[0]
        if t.dim() != 3:
            raise ValueError(f"expected C x H x W, got shape {tuple(t.shape)}")
        arr = t.permute(1, 2, 0).numpy().astype(np.float64)
    else:
        arr = to_float(img, np.float64)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {arr.shape}")
    c = arr.shape[2]
    if c in (2, 4):
        arr = arr[:, :, : c - 1]
    elif c not in (1, 3):
        raise ValueError(f"expected 1 to 4 channels, got {c}")
    return arr


def quantize(img: Any) -> np.ndarray:
    """Clamp to [0, 1] and round to 8 bits, as a saved image would be; float output."""
    arr = to_float_image(img)
    return np.floor(np.clip(arr, 0.0, 1.0) * 255.0 + 0.5) / 255.0


def rgb_to_y(img: Any) -> np.ndarray:
    """BT.601 luma (MATLAB ``rgb2ycbcr``) as float in [16, 235], not rounded. Shape ``H x W``.

    A gray image gives its own values in [0, 255] (see the module notes).
    """
    arr = to_float_image(img)
    if arr.shape[2] == 1:
        return arr[:, :, 0] * 255.0
    return 16.0 + arr @ Y_WEIGHTS


def gray_of(img: Any) -> np.ndarray:
    """Full-range BT.601 luma ``H x W x 1`` in [0, 1]: how a gray image is read back from RGB output."""
    arr = to_float_image(img)
    if arr.shape[2] == 1:
        return arr
    return (arr @ (Y_WEIGHTS / 219.0))[:, :, None]


def crop_border(img: np.ndarray, crop: int) -> np.ndarray:
    """Remove ``crop`` pixels from every edge of an ``H x W [x C]`` array."""
    if crop < 0:
        raise ValueError(f"crop must be >= 0, got {crop}")
    if crop == 0:
        return img
    if img.shape[0] <= 2 * crop or img.shape[1] <= 2 * crop:
        raise ValueError(f"image of shape {img.shape[:2]} is too small to crop {crop} px per edge")
    return img[crop:-crop, crop:-crop, ...]


def _hwc(arr: np.ndarray) -> str:
    return " x ".join(map(str, arr.shape))


def _prepare(sr: Any, hr: Any, crop: int, y_only: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = to_float_image(sr), to_float_image(hr)
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {_hwc(a)} vs {_hwc(b)} (H x W x C)")
    if y_only:
        a, b = rgb_to_y(a), rgb_to_y(b)
    else:
        a, b = a * 255.0, b * 255.0
    return crop_border(a, crop), crop_border(b, crop)


def psnr(sr: Any, hr: Any, crop: int = 0, y_only: bool = True) -> float:
    """Peak signal-to-noise ratio in dB (peak 255) on Y, or on RGB when ``y_only=False``.

    Identical images give ``math.inf``.
    """
    a, b = _prepare(sr, hr, crop, y_only)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of a 2-D array with the 1-D window ``g``."""
    k = g.size
    h, w = img.shape
    rows = sum(g[i] * img[i : h - k + 1 + i, :] for i in range(k))
    return sum(g[j] * rows[:, j : w - k + 1 + j] for j in range(k))


def _ssim_2d(a: np.ndarray, b: np.ndarray) -> float:
    c1, c2 = (0.01 * 255.0) ** 2, (0.03 * 255.0) ** 2
    g = _gaussian_window()
    if a.shape[0] < g.size or a.shape[1] < g.size:
        raise ValueError(f"SSIM needs at least 11 x 11 pixels after cropping, got {a.shape}")
    mu_a, mu_b = _filter_valid(a, g), _filter_valid(b, g)
    var_a = _filter_valid(a * a, g) - mu_a**2
    var_b = _filter_valid(b * b, g) - mu_b**2
    cov = _filter_valid(a * b, g) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def ssim(sr: Any, hr: Any, crop: int = 0, y_only: bool = True) -> float:
    """Structural similarity in [-1, 1] on Y, or the mean over channels when ``y_only=False``."""
    a, b = _prepare(sr, hr, crop, y_only)
    if y_only:
        return _ssim_2d(a, b)
    return float(np.mean([_ssim_2d(a[..., c], b[..., c]) for c in range(a.shape[2])]))
