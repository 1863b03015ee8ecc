"""Reading and writing images.

Images travel through sisr as float32 ``H x W x C`` arrays in [0, 1]. Reading
keeps what a faithful writer needs later (bit depth, original mode, alpha,
ICC profile, EXIF) beside the pixels, in :class:`ImageData`.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sisr.errors import SisrError

__all__ = ["ImageData", "read_image", "read_rgb", "to_uint8", "write_image"]

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp")


@dataclass
class ImageData:
    """Pixels plus what is needed to write them back faithfully.

    ``pixels``: float32 ``H x W x C`` in [0, 1], C = 1 (gray) or 3 (RGB).
    ``alpha``: float32 ``H x W`` in [0, 1] or None. ``bits``: 8 or 16.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    bits: int = 8
    mode: str = "RGB"
    info: dict = field(default_factory=dict)

    @property
    def rgb(self) -> np.ndarray:
        """The pixels as ``H x W x 3`` (gray replicated)."""
        if self.pixels.shape[2] == 1:
            return np.repeat(self.pixels, 3, axis=2)
        return self.pixels

    def pixels_with_alpha(self) -> np.ndarray:
        """``H x W x (C + 1)`` when there is alpha, else the pixels."""
        if self.alpha is None:
            return self.pixels
        return np.concatenate([self.pixels, self.alpha[:, :, None]], axis=2)


def read_image(path: str | os.PathLike) -> ImageData:
    """Decode an image file; raises :class:`SisrError` with a one-line cause on failure."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise SisrError(f"{p}: no such file")
    if p.is_dir():
        raise SisrError(f"{p}: is a folder, not an image")
    try:
        with Image.open(p) as im:
            im.load()
            return _from_pil(im)
    except UnidentifiedImageError:
        raise SisrError(f"{p}: not a readable image") from None
    except Image.DecompressionBombError as e:
        raise SisrError(f"{p}: {e}") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise SisrError(f"{p}: cannot decode image ({_first_line(e)})") from None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _from_pil(im) -> ImageData:
    info = {k: im.info[k] for k in ("icc_profile", "exif") if k in im.info}
    mode = im.mode
    alpha = None
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        pixels = (arr / peak)[:, :, None]
        bits = 16 if peak > 255 else 8
    elif mode == "F":
        pixels = np.clip(np.asarray(im, dtype=np.float64), 0, 1)[:, :, None]
        bits = 16
    else:
        bits = 8
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
            rgba = im.convert("RGBA" if mode != "LA" else "LA")
            arr = np.asarray(rgba, dtype=np.float64) / 255.0
            alpha = arr[:, :, -1]
            pixels = arr[:, :, :-1]
        elif mode in ("L", "1"):
            pixels = (np.asarray(im.convert("L"), dtype=np.float64) / 255.0)[:, :, None]
        else:
            pixels = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    return ImageData(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        alpha=None if alpha is None else alpha.astype(np.float32),
        bits=bits,
        mode=mode,
        info=info,
    )


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 ``H x W x 3`` RGB (gray replicated, alpha dropped).

    The benchmark path: files are 8-bit and metrics work on 8-bit values.
    """
    data = read_image(path)
    return to_uint8(data.rgb)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float [0, 1] to uint8 with clamping and round-half-up."""
    return np.floor(np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def write_image(path: str | os.PathLike, img: np.ndarray | ImageData, *, overwrite: bool = True) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename).

    ``img`` is a float ``H x W x C`` array in [0, 1] (C = 1 or 3), a uint8
    array, or an :class:`ImageData`. A failure leaves no partial file behind.
    """
    from PIL import Image

    p = Path(path)
    if p.exists() and not overwrite:
        raise SisrError(f"{p}: exists (use --overwrite to replace it)")
    data = img if isinstance(img, ImageData) else ImageData(pixels=_as_float(img))
    arr = to_uint8(data.pixels)
    pil = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    if data.alpha is not None:
        pil.putalpha(Image.fromarray(to_uint8(data.alpha)))
    fmt = _format_for(p)
    if fmt == "JPEG" and pil.mode in ("RGBA", "LA"):
        pil = pil.convert("RGB" if pil.mode == "RGBA" else "L")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".part", dir=p.parent)
    except OSError as e:
        raise SisrError(f"{p}: cannot write ({e.strerror or _first_line(e)})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            pil.save(fh, format=fmt, **{k: v for k, v in data.info.items() if v})
        os.replace(tmp, p)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise SisrError(f"{p}: cannot write ({e.strerror or _first_line(e)})") from None
        raise
    return p


def _as_float(img: np.ndarray) -> np.ndarray:
    arr = np.asarray(img)
    if arr.dtype == np.uint8:
        arr = arr.astype(np.float32) / 255.0
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


def _format_for(p: Path) -> str:
    formats = {
        ".png": "PNG",
        ".jpg": "JPEG",
        ".jpeg": "JPEG",
        ".bmp": "BMP",
        ".tif": "TIFF",
        ".tiff": "TIFF",
        ".webp": "WEBP",
    }
    try:
        return formats[p.suffix.lower()]
    except KeyError:
        raise SisrError(f"{p}: unknown output format '{p.suffix}' (use one of {', '.join(formats)})") from None
