"""The high-level Python API: upscale an array, a PIL image or a file."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.io import ImageData, check_quality, check_size, from_pil, read_image, to_float, write_image
from sisr.metrics import gray_of
from sisr.resize import imresize

__all__ = ["upscale", "upscale_data", "upscale_file"]


def upscale(image: Any, model: str | None = None, scale: int | None = None, **options: Any) -> np.ndarray:
    """Upscale ``image`` and return float32 ``H x W x C`` in [0, 1].

    ``image``: a path, a PIL image, or an ``H x W [x C]`` numpy array (uint8,
    uint16 or float in [0, 1]). Gray stays gray (one channel); alpha is
    upscaled by bicubic interpolation and re-attached. ``options``: tile,
    overlap, ensemble, precision, backend, denoise (see :class:`sisr.infer.InferenceOptions`).
    """

    up = load_model(model, scale=scale, **options)
    if isinstance(image, (str, os.PathLike)):
        data = read_image(Path(image))
    elif hasattr(image, "mode") and hasattr(image, "size"):
        data = from_pil(image)
    else:
        arr = to_float(image)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] not in (1, 3, 4):
            raise SisrError(f"expected an H x W, H x W x 3 or H x W x 4 image, got shape {arr.shape}")
        alpha = arr[:, :, 3] if arr.shape[2] == 4 else None
        data = ImageData(pixels=arr[:, :, :3].astype(np.float32), alpha=alpha)
    return upscale_data(data, up).pixels_with_alpha()


def upscale_file(
    src, dst, up, overwrite: bool = False, on_tile=None, size=None, restore: bool = False, quality: int | None = None
) -> Path:
    """Read ``src``, upscale it with a loaded Upscaler, write ``dst`` atomically with its metadata.

    ``size``: ``(width, height)`` to reach (either may be None: the aspect ratio is kept), by a
    high-quality resize of the model's output; ``restore``: back to the input's own size;
    ``quality``: lossy JPEG or WebP output at 1-100 (see :func:`sisr.io.write_image`).
    """

    dst = Path(dst)
    if dst.exists() and not overwrite:
        raise SisrError(f"{dst}: exists (use --overwrite to replace it)")
    if Path(src).resolve() == dst.resolve():
        raise SisrError(f"{dst}: output would replace its own input")
    check_quality(quality, dst)
    data = read_image(src)
    h, w = data.pixels.shape[:2]
    if restore:
        size = (w, h)
    check_size(dst, *_sized(w * up.scale, h * up.scale, size))  # before the work, not after it
    result = upscale_data(data, up, on_tile=on_tile)
    if size is not None:
        result = resize_data(result, size)
    return write_image(dst, result, overwrite=True, quality=quality)


def _sized(w: int, h: int, size: tuple[int | None, int | None] | None) -> tuple[int, int]:
    """``(width, height)`` of a ``w x h`` image resized to ``size`` (a None side keeps the aspect)."""
    if size is None:
        return w, h
    tw, th = size
    if tw is None and th is None:
        return w, h
    if tw is None:
        tw = max(1, round(w * th / h))
    if th is None:
        th = max(1, round(h * tw / w))
    return tw, th


def resize_data(data: ImageData, size: tuple[int | None, int | None]) -> ImageData:
    """``data`` resized to ``(width, height)`` with MATLAB bicubic (antialiased when shrinking);
    a None side follows the aspect ratio."""
    h, w = data.pixels.shape[:2]
    tw, th = _sized(w, h, size)
    if (tw, th) == (w, h):
        return data

    def rs(a: np.ndarray) -> np.ndarray:
        return np.clip(imresize(a.astype(np.float64), size=(th, tw)), 0, 1).astype(np.float32)

    alpha = None if data.alpha is None else rs(data.alpha)
    return ImageData(pixels=rs(data.pixels), alpha=alpha, bits=data.bits, mode=data.mode, info=data.info)


def upscale_data(data, up, on_tile=None):
    """Upscale an :class:`~sisr.io.ImageData` with a loaded :class:`~sisr.infer.Upscaler`.

    Gray images go through the model replicated to RGB and come back gray;
    alpha is enlarged by bicubic interpolation and re-attached.
    """

    try:
        out = up(data.rgb, on_tile=on_tile)
    except MemoryError:
        raise SisrError("image too large for the available memory (try a smaller --tile)") from None
    if data.pixels.shape[2] == 1:
        out = gray_of(out)
    alpha = None
    if data.alpha is not None:
        alpha = np.clip(imresize(data.alpha.astype(np.float64), float(up.scale)), 0, 1).astype(np.float32)
    return ImageData(pixels=out.astype(np.float32), alpha=alpha, bits=data.bits, mode=data.mode, info=data.info)
