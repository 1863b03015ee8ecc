"""MATLAB-compatible bicubic ``imresize``.

Published SR results synthesise low-resolution inputs with MATLAB's
``imresize(img, 1/s, 'bicubic')``: a cubic kernel with a = -0.5 that is
stretched (antialiased) when shrinking, MATLAB's index mapping
``u = x / scale + 0.5 * (1 - 1 / scale)`` and symmetric border padding.
PIL's and OpenCV's bicubic differ from it by several tenths of a dB, so every
LR image in sisr is made here.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["imresize", "imresize_torch", "modcrop", "output_size", "upscale_int_torch", "upscale_torch"]


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * (
        (ax > 1) & (ax <= 2)
    )


def output_size(length: int, scale: float) -> int:
    """Output length MATLAB gives for ``length`` pixels resized by ``scale``."""
    # round() guards against 510 * (1/3) = 169.99999999999997 style float noise.
    return max(1, math.ceil(round(length * scale, 9)))


@lru_cache(maxsize=64)
def _contributions(in_len: int, out_len: int, scale: float, antialias: bool) -> tuple[np.ndarray, np.ndarray]:
    """Weights (out_len x P) and source indices (out_len x P) for one axis."""
    kernel_width = 4.0
    if scale < 1 and antialias:
        kernel_width /= scale

        def kernel(v: np.ndarray) -> np.ndarray:
            return scale * _cubic(scale * v)
    else:
        kernel = _cubic
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights /= weights.sum(axis=1, keepdims=True)
    # Symmetric padding: MATLAB mirrors indices including the edge pixel.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_len)]
    keep = np.any(weights != 0, axis=0)
    return np.ascontiguousarray(weights[:, keep]), np.ascontiguousarray(indices[:, keep])


_DENSE_LIMIT = 1 << 22


@lru_cache(maxsize=64)
def _dense_matrix(in_len: int, out_len: int, scale: float, antialias: bool) -> np.ndarray:
    weights, indices = _contributions(in_len, out_len, scale, antialias)
    m = np.zeros((out_len, in_len))
    np.add.at(m, (np.repeat(np.arange(out_len), weights.shape[1]), indices.ravel()), weights.ravel())
    return m


@lru_cache(maxsize=32)
def _dense_matrix_on(in_len: int, out_len: int, scale: float, antialias: bool, dtype, device):
    """:func:`_dense_matrix` as a tensor, made once per device and dtype (a copy to a GPU each call
    would wait for the GPU's queued work)."""
    import torch

    return torch.as_tensor(_dense_matrix(in_len, out_len, scale, antialias), dtype=dtype, device=device)


def _plan(
    shape: tuple[int, int], scale: float | tuple[float, float] | None, size: tuple[int, int] | None
) -> list[tuple[int, int, int, float]]:
    """(axis, in_len, out_len, scale) per axis, in MATLAB's order of passes."""
    h, w = shape
    if size is not None:
        out_h, out_w = int(size[0]), int(size[1])
        if out_h < 1 or out_w < 1:
            raise ValueError(f"output size must be positive, got {size}")
        sh, sw = out_h / h, out_w / w
    else:
        if scale is None:
            raise ValueError("give scale or size")
        sh, sw = (scale, scale) if np.isscalar(scale) else scale  # type: ignore[misc]
        sh, sw = float(sh), float(sw)
        if sh <= 0 or sw <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        out_h, out_w = output_size(h, sh), output_size(w, sw)
    # MATLAB resizes along the dimension with the smaller scale first.
    order = [(0, h, out_h, sh), (1, w, out_w, sw)]
    if sh > sw:
        order.reverse()
    return order


def imresize(
    img: np.ndarray,
    scale: float | tuple[float, float] | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
    dtype=np.float64,
) -> np.ndarray:
    """Resize an ``H x W`` or ``H x W x C`` image like MATLAB ``imresize(img, scale, 'bicubic')``.

    ``scale`` is a factor (``0.25`` shrinks by 4) or ``size`` an ``(H, W)``
    target. uint8 input gives uint8 output (rounded and clipped once, at the
    end); float input gives output of ``dtype``, not clipped: float64, as MATLAB
    (benchmarks), or float32, half the memory, for a result quantised to 16 bits or fewer.
    """
    arr = np.asarray(img)
    if arr.ndim not in (2, 3):
        raise ValueError(f"expected an H x W or H x W x C image, got shape {arr.shape}")
    is_uint8 = arr.dtype == np.uint8
    work = np.float64 if is_uint8 else np.dtype(dtype)
    out = arr.astype(work, copy=False)
    for axis, in_len, out_len, s in _plan(arr.shape[:2], scale, size):
        if in_len == out_len and s == 1.0:
            continue
        weights, indices = _contributions(in_len, out_len, s, antialias)
        weights = weights.astype(work, copy=False)
        shape = [1] * out.ndim
        shape[axis] = out_len
        acc = None
        for p in range(weights.shape[1]):
            term = np.take(out, indices[:, p], axis=axis)
            term *= weights[:, p].reshape(shape)  # in place: a full-size temporary fewer
            if acc is None:
                acc = term
            else:
                acc += term
        out = _round_uint8(acc) if is_uint8 else acc
    return out.astype(np.uint8) if is_uint8 else out


def _round_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(x + 0.5), 0, 255)


def imresize_torch(
    x,  # torch.Tensor, N x C x H x W (or C x H x W)
    scale: float | tuple[float, float] | None = None,
    *,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
):
    """Torch version of :func:`imresize` for float batches ``N x C x H x W``.

    Differentiable, runs on the tensor's device and dtype; no clipping or
    rounding.
    """
    import torch  # the numpy resize path (LR synthesis, data) works without loading torch

    if x.dim() not in (3, 4):
        raise ValueError(f"expected N x C x H x W or C x H x W, got shape {tuple(x.shape)}")
    out = x
    h_axis = x.dim() - 2
    for axis, in_len, out_len, s in _plan(tuple(x.shape[-2:]), scale, size):
        if in_len == out_len and s == 1.0:
            continue
        if in_len * out_len <= _DENSE_LIMIT:
            # A (out x in) matrix per axis: one BLAS call, much faster than gathers for patch-sized inputs.
            m = _dense_matrix_on(in_len, out_len, s, antialias, out.dtype, out.device)
            out = out @ m.T if axis == 1 else (m @ out)
            continue
        weights, indices = _contributions(in_len, out_len, s, antialias)
        dim = h_axis + axis
        w_t = torch.as_tensor(weights, dtype=out.dtype, device=out.device)
        i_t = torch.as_tensor(indices, device=out.device)
        shape = [1] * out.dim()
        shape[dim] = out_len
        acc = None
        for p in range(weights.shape[1]):
            term = out.index_select(dim, i_t[:, p]) * w_t[:, p].reshape(shape)
            acc = term if acc is None else acc + term
        out = acc
    return out


def modcrop(img: np.ndarray, s: int) -> np.ndarray:
    """Crop the bottom and right edges so that height and width are multiples of ``s``."""
    if s < 1:
        raise ValueError(f"modcrop factor must be >= 1, got {s}")
    h, w = img.shape[0], img.shape[1]
    return img[: h - h % s, : w - w % s, ...]


def _upscale_last_axis(x, r: int, q: int = 1):
    import torch  # the numpy resize path (LR synthesis, data) works without loading torch

    # Sample j = r*m + p sits at source coordinate q*m + d_p with d_p = (p + 0.5) * q / r - 0.5.
    # MATLAB's symmetric border repeats the edge pixel: 2 mirrored samples on each side. The q + 2
    # copies of the last sample after them are never weighted; they let every phase's strided
    # slice end at a fixed offset from the end, which traces for ONNX with dynamic sizes.
    xp = torch.cat([x[..., 1:2], x[..., 0:1], x, x[..., -1:], x[..., -2:-1], *[x[..., -1:]] * (q + 2)], dim=-1)
    end = -(q + 6)  # xp is q + 6 samples longer than x
    phases = []
    for p in range(r):
        d = (p + 0.5) * q / r - 0.5
        f = math.floor(d)
        t = d - f
        w = _cubic(np.array([t + 1, t, t - 1, t - 2]))
        w = w / w.sum()
        acc = None
        for k, wk in zip(range(-1, 3), w):
            a = 2 + f + k  # start in the padded array, 0..q + 3
            term = xp[..., a : a + end : q] * float(wk)
            acc = term if acc is None else acc + term
        phases.append(acc)
    out = torch.stack(phases, dim=-1)
    return out.flatten(-2)


def upscale_torch(x, r: int, q: int = 1):
    """Bicubic upscaling by ``r / q`` (``q`` divides the height and width), choosing the fastest exact
    path: BLAS normally, slices under ONNX export."""
    import torch  # the numpy resize path (LR synthesis, data) works without loading torch

    if torch.onnx.is_in_onnx_export() or torch.jit.is_tracing():
        return upscale_int_torch(x, r, q)
    return _imresize_ratio(x, r, q)


def _imresize_ratio(x, r: int, q: int):
    # The output size, not the factor: exactly r / q times the input, as the cascade needs.
    return imresize_torch(x, size=(x.shape[-2] * r // q, x.shape[-1] * r // q))


def upscale_int_torch(x, r: int, q: int = 1):
    """MATLAB bicubic upscaling by ``r / q`` (an integer factor, or a ratio such as 3 / 2 where ``q``
    divides the height and width) for ``N x C x H x W`` tensors.

    Equal to :func:`imresize_torch` (up to float rounding) but made of slices
    and sums only, so it is fast, traces for ONNX with dynamic sizes, and needs
    no per-size tables. Inputs smaller than 3 pixels fall back to imresize_torch.
    """
    if r == q:
        return x
    if min(x.shape[-2:]) < 3:
        return _imresize_ratio(x, r, q)
    rows = _upscale_last_axis(x.transpose(-1, -2), r, q).transpose(-1, -2)
    return _upscale_last_axis(rows, r, q)
