"""The high-level Python API: upscale an array, a PIL image, a file, or files and folders in a batch
(resumable, sharded under torchrun)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from sisr.atomic import check_writable
from sisr.errors import SisrError, collected, warn
from sisr.infer import (
    PyramidUpscaler,
    ScaleError,
    TileMemo,
    ZeroShotUpscaler,
    load_model,
    models_for_scale,
    still_share,
)
from sisr.io import (
    CAMERA_RAW_SUFFIXES,
    IMAGE_SUFFIXES,
    RESULT_SUFFIXES,
    ImageData,
    check_animation_target,
    check_pages_target,
    check_quality,
    check_size,
    from_pil,
    in_unit_range,
    iter_pages,
    jpeg_quality,
    openable_suffixes,
    output_format,
    read_animation,
    read_image,
    result_suffix_of,
    sequence_of,
    stored_size,
    to_float,
    to_uint8,
    write_animation,
    write_image,
    write_pages,
)
from sisr.metrics import gray_of
from sisr.precision import known_free_memory
from sisr.resize import imresize

__all__ = [
    "Batch",
    "Outcome",
    "check_animation",
    "check_file",
    "check_result",
    "jpeg_advice",
    "load_upscaler",
    "sizing",
    "fitted_size",
    "plan_batch",
    "result_size",
    "upscale",
    "upscale_batch",
    "upscale_data",
    "upscale_file",
    "upscale_folder",
]


def upscale(
    image: Any, model: str | None = None, scale: float | None = None, *, size=None, **options: Any
) -> np.ndarray:
    """Upscale ``image`` and return float32 ``H x W x C`` in [0, 1]. ``scale``: the model's scale
    (default its largest); 1 restores at the input's size; a fraction (2.5) runs the model's
    smallest scale above it, then resizes to that many times the input's size. ``size``:
    ``(width, height)`` to reach after the model's scale (either may be None: the aspect ratio is
    kept), as ``--width``/``--height``.

    ``image``: a path, a file's bytes or an open binary file, a PIL image, or an
    ``H x W [x C]`` numpy array (C: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; bool,
    uint8, uint16 or float in [0, 1], outside which floats are clipped, with a
    warning). Gray stays gray (one channel); alpha is upscaled by bicubic
    interpolation and re-attached. A torch tensor is taken in torch's layout,
    ``C x H x W`` or ``1 x C x H x W``, and the result comes back as a float32
    tensor in that layout on its device (an ``H x W`` one as ``1 x sH x sW``).
    ``options``: tile, overlap, ensemble, precision, backend, denoise, device (see
    :class:`sisr.infer.InferenceOptions`).
    """

    up = load_upscaler(model, scale, **options)
    _, size, restore = sizing(scale, up, size)
    batched, device, source = None, None, None
    if isinstance(image, (str, os.PathLike)):
        data = read_image(_path(image, "the image's path"))
        source = image
    elif isinstance(image, (bytes, bytearray, memoryview)) or hasattr(image, "read"):
        data, quality = _encoded_data(image)
        source = ("image", quality)
    elif _is_pil(image):
        data = from_pil(image)
        source = ("image", jpeg_quality(image))
    elif hasattr(image, "detach"):
        arr, batched, device = _tensor_array(image)
        data = _array_data(arr)
    else:
        data = _array_data(image)
    if 0 in data.pixels.shape[:2]:
        raise SisrError(f"an empty image ({data.pixels.shape[1]} x {data.pixels.shape[0]} pixels)")
    if source is not None and (advice := jpeg_advice([source], up)):
        warn(advice)
    out = upscale_sized(data, up, size, restore).pixels_with_alpha()
    if device is None:
        return out
    import torch

    t = torch.from_numpy(np.ascontiguousarray(out.transpose(2, 0, 1)))
    return (t[None] if batched else t).to(device)


def _path(path: str | os.PathLike, what: str) -> Path:
    """``path`` as a Path, refused when empty: Path("") is the current folder, an unset variable's."""
    if not str(path).strip():
        raise SisrError(f"{what} is empty ('')")
    return Path(path)


def _is_pil(image: Any) -> bool:
    from PIL import Image

    return isinstance(image, Image.Image)


def _encoded_data(image: Any) -> tuple[ImageData, int | None]:
    """An image file's bytes (or an open binary file), read as the file would be (errors say
    "image"), and its JPEG quality (None for other formats)."""
    import tempfile

    if isinstance(image, io.TextIOBase):
        raise SisrError("an open file must be opened in binary mode ('rb')")
    raw = image.read() if hasattr(image, "read") else bytes(image)
    if not isinstance(raw, bytes):
        raise SisrError("an open file must be opened in binary mode ('rb')")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "image"
        p.write_bytes(raw)
        said: list[str] = []
        try:
            with collected(said):
                return read_image(p), jpeg_quality(p)
        except SisrError as e:
            raise SisrError(str(e).replace(str(p), "image")) from None
        finally:
            for message in said:
                warn(message.replace(str(p), "image"), stacklevel=3)


def _tensor_array(t: Any) -> tuple[np.ndarray, bool, Any]:
    """A torch tensor, ``C x H x W`` or ``1 x C x H x W`` (torch's layout, as ``sisr.psnr`` takes it),
    as an ``H x W x C`` array of its values; whether it had the batch axis; its device."""
    batched = t.dim() == 4
    if batched and t.shape[0] != 1:
        raise SisrError(f"expected one image, got a batch of {t.shape[0]} (upscale each: t[i])")
    c = t[0] if batched else t
    c = c.detach().cpu()
    if not c.dtype.is_floating_point or c.dtype.itemsize >= 4:
        arr = c.numpy()
    else:  # bf16 has no numpy type, and half is widened all the same
        arr = c.float().numpy()
    if arr.ndim == 3 and not 1 <= arr.shape[0] <= 4:
        last = " (channels last? t.permute(2, 0, 1))" if arr.shape[2] <= 4 else ""
        raise SisrError(f"expected a C x H x W tensor (C: 1 to 4), got shape {tuple(t.shape)}{last}")
    return (arr.transpose(1, 2, 0) if arr.ndim == 3 else arr), batched, t.device


def _array_data(image: Any) -> ImageData:
    """An ``H x W [x C]`` array (C: 1 gray, 2 gray + alpha, 3 RGB, 4 RGBA) as ImageData; floats
    outside [0, 1] are clipped, with a warning (a 0-255 float array would otherwise come out white)."""
    arr = to_float(image)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        first = arr.ndim == 3 and arr.shape[0] in (1, 2, 3, 4) and arr.shape[2] > 4
        hint = " (channels first? give H x W x C, e.g. arr.transpose(1, 2, 0))" if first else ""
        if arr.ndim == 4 and arr.shape[0] == 1:
            hint = " (a batch of one? give arr[0])"
        raise SisrError(f"expected an H x W or H x W x C image (C: 1 to 4), got shape {arr.shape}{hint}")
    if not np.isfinite(arr).all():  # it would come back NaN everywhere the kernels reach
        raise SisrError("the image holds NaN or infinite values")
    if np.issubdtype(np.asarray(image).dtype, np.floating):
        arr = in_unit_range(arr, "image", "float values")
    colour = 3 if arr.shape[2] >= 3 else 1
    alpha = np.ascontiguousarray(arr[:, :, colour]) if arr.shape[2] > colour else None
    return ImageData(pixels=np.ascontiguousarray(arr[:, :, :colour], dtype=np.float32), alpha=alpha)


def upscale_file(
    src,
    dst,
    up,
    overwrite: bool = False,
    on_tile=None,
    size=None,
    restore: bool = False,
    quality: int | None = None,
    strip_metadata: bool = False,
) -> Path:
    """Read ``src``, upscale it with a loaded Upscaler, write ``dst`` atomically with its metadata.
    An animated GIF, PNG, WebP or AVIF is upscaled frame by frame into an animation (``dst`` a GIF, PNG, AVIF or
    WebP), with its timing and loop count; a multi-page TIFF page by page into one (``dst`` a TIFF).

    ``size``: ``(width, height)`` to reach (either may be None: the aspect ratio is kept), or a
    number, that many times the input's size (a fractional scale: :func:`load_upscaler`), by a
    high-quality resize of the model's output; ``restore``: back to the input's own size;
    ``quality``: lossy JPEG, WebP or AVIF output at 1-100 (see :func:`sisr.io.write_image`);
    ``strip_metadata``: leave out EXIF, XMP, IPTC, PNG text and comments
    (see :meth:`sisr.io.ImageData.without_metadata`).
    """

    _path(src, "the input")
    dst = _path(dst, "the output")
    kind, n = check_file(src, dst, up, overwrite=overwrite, size=size, restore=restore, quality=quality)
    zero_shot = up if isinstance(up, ZeroShotUpscaler) else None
    if zero_shot is not None:  # a pyramid it keeps is named after the file (this call's only)
        zero_shot.source = str(src)
    try:
        return _upscale_read(src, dst, up, kind, n, on_tile, size, restore, quality, strip_metadata)
    finally:
        if zero_shot is not None:
            zero_shot.source = None


def _upscale_read(src, dst: Path, up, kind: str, n: int, on_tile, size, restore, quality, strip_metadata) -> Path:
    """:func:`upscale_file`'s work, once its checks are done: read, upscale, write."""

    def done(data: ImageData, tiles, memo: TileMemo | None = None) -> ImageData:
        result = upscale_sized(data, up, size, restore, on_tile=tiles, memo=memo)
        return result.without_metadata() if strip_metadata else result

    def planned(h: int, w: int, alpha: bool) -> None:  # a result the format cannot hold: before the work
        result_size(w, h, up, size=size, restore=restore, dst=dst, alpha=alpha)

    if kind == "animation":
        anim = read_animation(src)
        planned(*anim.frames[0].shape[:2], anim.frames[0].shape[2] == 4)
        part, memo, up = _parts(on_tile, len(anim.frames)), TileMemo(), _for_animation(up, anim.frames)
        results = _each_once(anim.frames, lambda i: done(anim.frame(i), part(i), memo), part)
        return write_animation(dst, results, anim.durations, anim.loop, quality=quality)
    if kind == "pages":
        part = _parts(on_tile, n)
        return write_pages(dst, (done(page, part(i)) for i, page in enumerate(iter_pages(src))))
    data = read_image(src)
    planned(*data.pixels.shape[:2], data.alpha is not None)
    return write_image(dst, done(data, on_tile), overwrite=True, quality=quality)


def check_file(src, dst: Path, up, *, overwrite=False, size=None, restore=False, quality=None) -> tuple[str, int]:
    """Refuse, before any pixel is decoded, what :func:`upscale_file` cannot do with ``src`` into
    ``dst``; returns :func:`sisr.io.sequence_of` of ``src`` (the result's size is checked once the
    input's is known: :func:`result_size`)."""
    if dst.exists() and not overwrite:
        raise SisrError(f"{dst}: exists (use --overwrite to replace it)")
    if Path(src).resolve() == dst.resolve():
        raise SisrError(f"{dst}: output would replace its own input")
    if restore and size is not None and size != (None, None):
        raise SisrError("scale 1 keeps the input's size: a width or height does not apply")
    kind, n = sequence_of(src)
    check_result(up, dst, kind, n, src, quality=quality)
    return kind, n


def check_result(up, dst: Path, kind: str, n: int, src: str | os.PathLike, *, quality=None) -> None:
    """Refuse, before any work, what ``up`` or ``dst``'s format cannot make of an input of ``kind``
    (:func:`sisr.io.sequence_of`) with ``n`` frames or pages; ``src`` names the input in messages."""
    check_quality(quality, dst)
    if kind == "animation":
        check_animation(up, dst, n, src)
    if kind == "pages":
        check_pages_target(dst, n)


def result_size(
    w: int, h: int, up, *, size=None, restore: bool = False, dst: Path | None = None, alpha: bool = False
) -> tuple[int, int]:
    """``(width, height)`` of the result of a ``w x h`` input: the model's scale, then ``size``;
    with ``dst``, a size its format cannot hold, or (with ``alpha`` if it has alpha) that the free
    memory cannot, is refused (before the work), as is another image than a saved pyramid's own."""
    if isinstance(up, PyramidUpscaler):
        up.check_size(h, w)
    out = (w, h) if restore else fitted_size(w * up.scale, h * up.scale, _absolute(size, w, h))
    if dst is not None:
        check_size(dst, *out)
        check_memory(dst, *out, values=4 if alpha else 3)
        made = (w * up.scale, h * up.scale)  # a result resized down (x2.5 from x4) is first the model's
        direct = up.descriptor.kind == "interpolation" and (restore or size is not None)  # one resize
        if not direct and made[0] * made[1] > out[0] * out[1]:
            check_memory(dst, *made, values=4 if alpha else 3, what=f"x{up.scale} output (resized after)")
    return out


# Bytes per value of a result (an RGB pixel has 3) at its peak: its float32 pixels, a resized channel's
# working copies and the quantised copy the encoder takes (benchmarks/results/large_image.md).
_RESULT_BYTES_PER_VALUE = 10


def check_memory(dst: Path, width: int, height: int, values: int = 3, what: str = "result") -> None:
    """Refuse, before the work, a result (or ``what``) of ``values`` a pixel (RGB 3; with alpha, 4:
    gray is enlarged as RGB) that cannot fit in the free memory (a --width of 99999), where the
    system says how much is free (elsewhere, such as macOS, nothing is refused)."""
    need, free = width * height * values * _RESULT_BYTES_PER_VALUE, known_free_memory()
    if free is not None and need > free:
        raise SisrError(
            f"{dst}: a {width} x {height} {what} needs about {need / 2**30:.3g} GiB of memory, "
            f"and {free / 2**30:.3g} GiB is free"
        )


_REUSE_TILE = 96  # LR pixels: small enough that a still background covers most tiles


def _for_animation(up, frames: list[np.ndarray]):
    """``up``, or a copy cut into tiles of _REUSE_TILE when the frames' still parts make enough
    tiles reusable (a :class:`TileMemo` runs them once) to outweigh the tiles' overlaps: about
    1.4-1.5x the work when every tile changes, so it takes 40% unchanged (benchmarks/animation_memo.py).
    A tile the user chose stands; a larger frame is tiled anyway and its tiles are reused as they are."""
    h, w = frames[0].shape[:2]
    if up.tile is not None or not up.descriptor.tiling or (h <= _REUSE_TILE and w <= _REUSE_TILE):
        return up
    if still_share(frames, _REUSE_TILE, up.overlap) < 0.4:
        return up
    return dataclasses.replace(up, tile=_REUSE_TILE)


def _each_once(frames: list[np.ndarray], make: Callable[[int], ImageData], part) -> Iterator[ImageData]:
    """``make(i)`` for each frame, except that a frame the same as an earlier one (the way back of
    a ping-pong loop, a frame shown twice) takes that one's result, which is the same. A result is
    kept only until its frame's last repeat, at 8 bits: the writer keeps no more than that."""
    keys = [hashlib.blake2b(f.tobytes(), digest_size=16).digest() for f in frames]  # all one shape
    last = {k: i for i, k in enumerate(keys)}
    kept: dict[bytes, tuple[np.ndarray, np.ndarray | None, ImageData]] = {}
    for i, k in enumerate(keys):
        if k in kept:
            pixels, alpha, like = kept[k] if last[k] > i else kept.pop(k)
            result = dataclasses.replace(
                like, pixels=to_float(pixels), alpha=None if alpha is None else to_float(alpha)
            )
            if report := part(i):
                report(1, 1)
        else:
            result = make(i)
            if last[k] > i:
                alpha = None if result.alpha is None else to_uint8(result.alpha)
                kept[k] = (to_uint8(result.pixels), alpha, dataclasses.replace(result, pixels=None, alpha=None))
        yield result


def _parts(on_tile, n: int):
    """``on_tile`` for part ``i`` of ``n`` (the frames of an animation, the pages of a TIFF): the
    parts' tiles as one count, in units of the first part's tiles (pages differ in size)."""
    unit: list[int] = []

    def part(i: int):
        if on_tile is None:
            return None

        def report(done: int, total: int) -> None:
            if not unit:
                unit.append(total)
            t = unit[0]
            on_tile(i * t + min(t, round(done * t / total)), n * t)

        return report

    return part


def check_animation(up, dst: Path, frames: int, src: str | os.PathLike) -> None:
    """Refuse, before any work, an animation of ``frames`` that ``up`` or ``dst``'s format cannot take."""
    if up.descriptor.kind == "zero-shot":
        raise SisrError(f"{src}: an animation of {frames} frames; {up.name} trains on each image: use a trained model")
    check_animation_target(Path(dst), frames)


def fitted_size(w: int, h: int, size: tuple[int | None, int | None] | None) -> tuple[int, int]:
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
    tw, th = fitted_size(w, h, size)
    if (tw, th) == (w, h):
        return data

    def rs(a: np.ndarray) -> np.ndarray:  # a channel at a time, in float32: a poster-sized result fits
        planes = a if a.ndim == 3 else a[:, :, None]
        out = np.empty((th, tw, planes.shape[2]), np.float32)
        for c in range(planes.shape[2]):
            out[:, :, c] = np.clip(imresize(planes[:, :, c], size=(th, tw), dtype=np.float32), 0, 1)
        return out if a.ndim == 3 else out[:, :, 0]

    alpha = None if data.alpha is None else rs(data.alpha)
    return ImageData(pixels=rs(data.pixels), alpha=alpha, bits=data.bits, mode=data.mode, info=data.info)


def upscale_data(data, up, on_tile=None, memo=None):
    """Upscale an :class:`~sisr.io.ImageData` with a loaded :class:`~sisr.infer.Upscaler`.

    Gray images go through the model replicated to RGB and come back gray;
    alpha is enlarged by bicubic interpolation and re-attached. ``memo``: a
    :class:`~sisr.infer.TileMemo` shared by the images of a sequence.
    """

    try:
        out = up(data.rgb, on_tile=on_tile, memo=memo)
    except MemoryError:
        raise SisrError("image too large for the available memory (try a smaller --tile)") from None
    if data.pixels.shape[2] == 1:
        out = gray_of(out)
    alpha = None
    if data.alpha is not None:
        alpha = np.clip(imresize(data.alpha, float(up.scale), dtype=np.float32), 0, 1)  # float32: quantised next
    pixels = out.astype(np.float32, copy=False)  # the model's output, not a second full-size copy
    return ImageData(pixels=pixels, alpha=alpha, bits=data.bits, mode=data.mode, info=data.info)


# Below this libjpeg quality the real-photo model scores higher than rrgan-x4 on the held-out skimage
# photos (benchmarks/results/jpeg_advice.md): at 50 they tie, at 40 it leads by 0.13 dB, at 20 by 0.43.
JPEG_ADVICE_BELOW = 50
REAL_PHOTO_MODEL = "rrgan-real-x4"
_JPEG_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo")


def jpeg_advice(files: Sequence[Path | tuple[str, int | None]], up) -> str | None:
    """One line for the JPEGs among ``files`` saved below :data:`JPEG_ADVICE_BELOW` (read from
    their headers; or ``(name, quality)`` for an image already open) that a clean-trained model
    ``up`` would enlarge with their compression blocks: the real-photo model scores higher on them.
    None when there are none, or ``up`` is not such a model."""
    d = up.descriptor
    if d.kind != "supervised" or d.denoise:
        return None
    named = (f if isinstance(f, tuple) else (f, _file_quality(f)) for f in files)
    low = [(f, q) for f, q in named if q is not None and q < JPEG_ADVICE_BELOW]
    if not low:
        return None
    why = f"the model {REAL_PHOTO_MODEL}, trained on such photos, scores higher on them"
    if len(low) == 1:
        f, q = low[0]
        return f"{f}: a JPEG saved at quality about {q}: {up.name} enlarges its compression blocks; {why}"
    named = ", ".join(f"{Path(f).name} {q}" for f, q in low[:2]) + ", ..." * (len(low) > 2)
    return (
        f"{len(low)} JPEGs saved below quality {JPEG_ADVICE_BELOW} ({named}): "
        f"{up.name} enlarges their compression blocks; {why}"
    )


def _file_quality(path: Path) -> int | None:
    return jpeg_quality(path) if Path(path).suffix.lower() in _JPEG_SUFFIXES else None


def upscale_sized(data: ImageData, up, size=None, restore: bool = False, on_tile=None, memo=None) -> ImageData:
    """:func:`upscale_data`, then resized to ``size`` (as :func:`upscale_file` takes it) or, with
    ``restore``, back to the input's size. Interpolation resizes once, straight to the size: its
    scale then a resize would be two interpolations, and blurrier."""
    w, h = data.pixels.shape[1::-1]
    target = (w, h) if restore else _absolute(size, w, h)
    if target is not None and up.descriptor.kind == "interpolation":
        return resize_data(data, target)
    result = upscale_data(data, up, on_tile=on_tile, memo=memo)
    return result if target is None else resize_data(result, target)


def load_upscaler(model: str | None = None, scale: float | None = None, **options: Any):
    """:func:`sisr.infer.load_model`, where ``scale=1`` means restoration at the input's size: the
    model's smallest scale, then back (with ``restore=True`` in :func:`upscale_file`); and a
    fractional scale (2.5) runs the model's smallest scale above it, which a resize to that many
    times the input's size follows (with ``size=scale`` in :func:`upscale_file`)."""
    scale = check_scale(scale)
    if scale == 1 or isinstance(scale, float):
        up = load_model(model, **options)
        if up.descriptor.any_scale and scale != 1:
            return load_model(model, math.ceil(scale), **options)
        above = [s for s in up.scales if s >= scale]
        if not above:
            others = ", ".join(m for m in models_for_scale(math.ceil(scale)) if m != up.name)
            raise ScaleError(
                f"model '{up.name}' upscales at most x{max(up.scales)}, not x{scale}; "
                f"models that do x{math.ceil(scale)}: {others}",
                max(up.scales),
            )
        up.scale = min(above)
        return up
    return load_model(model, scale=scale, **options)


def check_scale(scale: Any) -> int | float | None:
    """``scale`` as an int, or as a float where it is fractional (2.5); a scale below 1, or that is
    no number, is refused."""
    if scale is None:
        return None
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale < 1:
        raise SisrError(f"scale must be a number, 1 or more, got {scale!r}")
    return int(scale) if float(scale).is_integer() else float(scale)


def sizing(scale: float | None, up, size=None) -> tuple[str, Any, bool]:
    """A run at ``scale`` with ``up`` (from :func:`load_upscaler`) and ``size`` (``--width``,
    ``--height``) as the tag of its results' default names (``x4``, ``x2.5``, ``x1``), and the
    ``size`` and ``restore`` that :func:`upscale_file` takes. Scale 1 and a fractional scale set
    the result's size: a width or height with them is refused."""
    scale = check_scale(scale)
    if scale == 1 or isinstance(scale, float):
        if size is not None and tuple(size) != (None, None):
            what = "keeps the input's size" if scale == 1 else "sets the result's size"
            raise SisrError(f"scale {scale} {what}: a width or height does not apply")
        return f"x{scale}", None if scale == 1 else scale, scale == 1
    return f"x{up.scale}", size, False


def scaled_size(w: int, h: int, factor: float) -> tuple[int, int]:
    """``(width, height)`` of ``factor`` times ``w x h``, each side rounded half up from the decimal
    given (2.5 x 3 is 8, not float rounding's 7 or 8)."""
    f = Fraction(str(factor))
    return tuple(max(1, math.floor(v * f + Fraction(1, 2))) for v in (w, h))


def _absolute(size, w: int, h: int):
    """``size`` for a ``w x h`` input: a number (a fractional scale) is that many times its sides."""
    return scaled_size(w, h, size) if isinstance(size, float) else size


def expand_inputs(
    items: Sequence[str | os.PathLike], exclude: str | os.PathLike | None = None
) -> list[tuple[Path, Path]]:
    """``(file, its path relative to the output folder)`` for each input: a folder is walked
    recursively and its subfolder layout kept; files and glob matches go to the top. Of a folder
    and of a glob's matches, only images are taken (a phone's folder holds videos too): by
    IMAGE_SUFFIXES in a folder, by any suffix Pillow opens in a glob (``scans/*.pgm``). Camera raw
    files left out are counted in a warning; a file named on its own is taken as it is. A folder
    ``exclude`` (the output) inside a walked folder, not the folder itself, is not walked: its
    results are not inputs."""
    import glob

    found: list[tuple[Path, Path]] = []
    develop = "develop them to TIFF or JPEG first"
    for item in items:
        p = _path(item, "an input")
        if p.is_dir():
            # Hidden files and folders inside it are left out; the folders above it do not count.
            files = [f for f in sorted(p.rglob("*")) if not any(x.startswith(".") for x in f.relative_to(p).parts)]
            if exclude is not None and Path(exclude).resolve().is_relative_to(p.resolve()):
                inner = Path(exclude).resolve().relative_to(p.resolve()).parts  # () for the folder itself: kept
                files = [f for f in files if not inner or f.relative_to(p).parts[: len(inner)] != inner]
            regular = {f for f in files if f.is_file()}
            images, raw = _images_among(sorted(regular), IMAGE_SUFFIXES)
            found += [(f, f.relative_to(p)) for f in images]
            if raw:
                warn(f"{p}: {raw} left out; {develop}")
            # an image's name that is not a file: a link to no file (checked only for those names)
            broken = [f for f in files if f.suffix.lower() in IMAGE_SUFFIXES and f not in regular and f.is_symlink()]
            if broken:  # a photo library moved or a drive not mounted: not an image quietly missing
                n, first = len(broken), broken[0].relative_to(p)
                warn(f"{p}: {n} link{'s' * (n > 1)} to no file left out ({first}{', ...' * (n > 1)})")
        elif not p.exists() and any(ch in str(item) for ch in "*?["):
            matches = [m for m in sorted(Path(m) for m in glob.glob(str(item), recursive=True)) if m.is_file()]
            if not matches:
                raise SisrError(f"{item}: no file matches")
            images, raw = _images_among(matches, openable_suffixes())
            if not images:
                n = len(matches)
                why = f" ({raw}: {develop})" if raw else ""
                raise SisrError(f"{item}: matches {n} file{'s' * (n > 1)}, none an image sisr reads{why}")
            if raw:
                warn(f"{item}: {raw} left out; {develop}")
            found += [(m, Path(m.name)) for m in images]
        else:
            found.append((p, Path(p.name)))
    if not found:
        raise SisrError("no input images")
    return found


def _images_among(files: list[Path], suffixes) -> tuple[list[Path], str]:
    """The images among ``files`` (by their ``suffixes``), and how many camera raw files there are,
    of which kinds ("2 camera raw files (.cr2, .nef)"; "" for none)."""
    raw = [f.suffix.lower() for f in files if f.suffix.lower() in CAMERA_RAW_SUFFIXES]
    said = f"{len(raw)} camera raw file{'s' * (len(raw) > 1)} ({', '.join(sorted(set(raw)))})" if raw else ""
    return [f for f in files if f.suffix.lower() in suffixes], said


_TAG = re.compile(r"[1-8](\.[0-9]+)?")  # a result's default name ends "_x<scale>": 1 to 8, or 2.5


@dataclass(frozen=True)
class Batch:
    """What a batch run does: this process's ``(input, output)`` pairs still to write."""

    jobs: list[tuple[Path, Path]]
    single: bool  # one input to the file ``output`` names: its error is raised, not reported
    total: int  # inputs in all, before sharding
    share: int  # this process's share, before skipping
    skipped: int = 0  # outputs that exist already (skip_existing)
    rank: int = 0
    world: int = 1
    # each input's path inside the folder it was found in, as its result's is inside the output
    # folder: what a kept zero-shot pyramid is named (photos/2024/a.png: 2024/a.png)
    rel: dict[Path, Path] = field(default_factory=dict)


def plan_batch(
    inputs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    tag: str,
    *,
    fmt: str | None = None,
    quality: int | None = None,
    skip_existing: bool = False,
    suffix: str | None = None,
) -> Batch:
    """Name each input's result (``<stem><suffix>.<ext>`` under the ``output`` folder, subfolders
    kept, ``suffix`` by default ``_<tag>``; or ``output`` itself for one input and a file name), take
    this process's share under torchrun (``RANK`` of ``WORLD_SIZE``: every WORLD_SIZE-th image)
    and, with ``skip_existing``, leave out the results already written (and the temporary files of
    an interrupted run). Refuses, before any image, two inputs with one output, a result that would
    replace its input, and a ``quality`` a format cannot use."""
    _path(output, "the output")
    found = expand_inputs(inputs, exclude=output)
    out = Path(output)
    folder_named = str(output).endswith(("/", os.sep))  # "results.v2/": a folder, whatever its suffix
    single = len(found) == 1 and not out.is_dir() and out.suffix != "" and not folder_named
    if suffix is not None and (single or any(c in suffix for c in "/\\\0")):
        why = "-o names the one result" if single else "it is part of a file name: no / or \\"
        raise SisrError(f"--suffix {suffix!r} does not apply: {why}")
    if single:
        named = output_format(out)  # None: a suffix of no format sisr writes, which --format replaces
        if fmt and named is not None and named != output_format(f"x.{fmt}"):
            raise SisrError(
                f"{out}: a {out.suffix} name, and --format {fmt}: give one (-o {out.with_suffix('.' + fmt)})"
            )
        targets = [out.with_suffix(f".{fmt}") if fmt and named is None else out]
    else:
        if out.exists() and not out.is_dir():
            raise SisrError(f"{out}: several inputs need an output folder, not a file")
        if not out.exists() and out.suffix.lower() in IMAGE_SUFFIXES and not folder_named:  # a slip
            raise SisrError(f"{out}: {len(found)} inputs need an output folder, and this names an image file")
        end = f"_{tag}" if suffix is None else suffix
        targets = [out / rel.parent / f"{rel.stem}{end}{result_suffix_of(src, fmt)}" for src, rel in found]
        # An input that is another input's result is not enlarged again: one this run would write
        # (a_x2.png beside a.png, from a run before into the same folder), or, found in a folder or
        # by a glob, one beside its input by the default name of another scale, in any format sisr
        # writes (a_x4.png or a_x4.webp, from a run at x4), which is said. A file named on its own
        # is taken as it is.
        real = {src: src.resolve() for src, _ in found}
        folder = {d: d.resolve() for d in {src.parent for src, _ in found}}  # a resolve() each would take seconds
        made = {dst.resolve(): src for (src, _), dst in zip(found, targets)}
        stems = {(folder[src.parent], src.stem) for src, _ in found}
        named = {Path(i).resolve() for i in inputs if Path(i).is_file()}

        def of_another(results: dict[Path, Path], src: Path) -> bool:
            return results.get(real[src], src) != src

        def beside(src: Path) -> bool:  # in any format sisr writes, whatever this run's
            base, _, scale = src.stem.rpartition("_x")
            return (
                bool(base)
                and _TAG.fullmatch(scale) is not None
                and src.suffix.lower() in RESULT_SUFFIXES
                and (folder[src.parent], base) in stems
            )

        again = [s for s, _ in found if not of_another(made, s) and beside(s) and real[s] not in named]
        left_out = set(again)  # a list's membership test would be quadratic in a folder of thousands
        kept = [not of_another(made, src) and src not in left_out for src, _ in found]
        found = [f for f, k in zip(found, kept) if k]
        targets = [t for t, k in zip(targets, kept) if k]
        if again:
            n, names = len(again), ", ".join(f.name for f in again[:2]) + ", ..." * (len(again) > 2)
            said = "named as results of the images beside them; name one to enlarge it again"
            warn(f"{n} earlier result{'s' * (n > 1)} left out ({names}): {said}")
        seen: dict[Path, Path] = {}
        for (src, _), dst in zip(found, targets):
            if dst in seen:
                raise SisrError(f"{seen[dst]} and {src} would both be written to {dst}; rename one of them")
            seen[dst] = src
    for (src, _), dst in zip(found, targets):
        if dst.resolve() == src.resolve():
            raise SisrError(f"{src}: its result would replace it; give another output folder or a --suffix")
    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    jobs = list(zip((src for src, _ in found), targets))[rank::world]
    share = len(jobs)
    if skip_existing:
        for _, dst in jobs:
            for stale in dst.parent.glob(f".{dst.name}.*.part"):
                stale.unlink(missing_ok=True)
        jobs = [(src, dst) for src, dst in jobs if not dst.exists()]
    for _, dst in jobs:
        check_quality(quality, dst)
    for dst in {dst.parent: dst for _, dst in jobs}.values():  # once a folder, before any image
        check_writable(dst)
    rel = {src: r for src, r in found}
    return Batch(jobs, single, len(found), share, share - len(jobs), rank, world, {src: rel[src] for src, _ in jobs})


@dataclass(frozen=True)
class Outcome:
    src: Path
    dst: Path
    error: str = ""  # one line; empty: written
    sizes: tuple[tuple[int, int], tuple[int, int]] | None = None  # a dry run's input and result (w, h)


def upscale_batch(
    batch: Batch,
    up,
    *,
    overwrite: bool = False,
    size: tuple[int | None, int | None] | None = None,
    restore: bool = False,
    quality: int | None = None,
    strip_metadata: bool = False,
    on_tile: Callable[[Path, int, int], None] | None = None,
    dry_run: bool = False,
) -> Iterator[Outcome]:
    """Upscale each job of ``batch`` with a loaded Upscaler, yielding as each is written. A failed
    image is an :class:`Outcome` with its one-line error and the batch goes on (a single input's
    error is raised); ``on_tile(src, done, total)`` follows the tiles of each image. ``dry_run``:
    only what is checked before the work, from the files' headers; each outcome has its sizes."""
    if advice := jpeg_advice([src for src, _ in batch.jobs], up):
        warn(advice)
    for src, dst in batch.jobs:
        tiles = None if on_tile is None else (lambda done, total, src=src: on_tile(src, done, total))
        try:
            if dry_run:
                check_file(src, dst, up, overwrite=overwrite, size=size, restore=restore, quality=quality)
                w, h = stored_size(src, oriented=True)
                out = result_size(w, h, up, size=size, restore=restore, dst=dst)
                yield Outcome(src, dst, sizes=((w, h), out))
                continue
            kw = dict(size=size, restore=restore, quality=quality, strip_metadata=strip_metadata)
            if isinstance(up, ZeroShotUpscaler):  # a kept pyramid's folder mirrors the result's
                up.save_as = str(batch.rel.get(src, Path(src.name)))
            try:
                upscale_file(src, dst, up, overwrite=overwrite, on_tile=tiles, **kw)
            finally:
                if isinstance(up, ZeroShotUpscaler):
                    up.save_as = None
            yield Outcome(src, dst)
        except SisrError as e:
            if batch.single:
                raise
            yield Outcome(src, dst, str(e).splitlines()[0])
        except (RuntimeError, ValueError, MemoryError) as e:
            if batch.single:
                raise
            # A bug should not cost the rest of a batch: one line for it, and on.
            yield Outcome(src, dst, f"{src}: unexpected {type(e).__name__}: {(str(e).splitlines() or [''])[0]}")


def upscale_folder(
    inputs: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    model: str | None = None,
    scale: float | None = None,
    *,
    fmt: str | None = None,
    quality: int | None = None,
    skip_existing: bool = False,
    overwrite: bool = False,
    size: tuple[int | None, int | None] | None = None,
    strip_metadata: bool = False,
    suffix: str | None = None,
    **options: Any,
) -> list[Outcome]:
    """``sisr upscale INPUTS -o OUTPUT`` from Python: files, folders (walked, layout kept) or glob
    patterns into the ``output`` folder, each named ``<stem><suffix>`` (``suffix`` by default ``_x<scale>``);
    ``skip_existing`` resumes an interrupted run; under torchrun
    each process takes its share. ``scale=1`` restores at the input size, and 2.5 makes results 2.5
    times its size (see :func:`upscale`); ``strip_metadata`` leaves
    out EXIF, XMP, IPTC, PNG text and comments (camera, GPS position, dates, credits); ``options`` as
    :func:`upscale`. Returns one :class:`Outcome` per image (check ``error``)."""
    items = [inputs] if isinstance(inputs, (str, os.PathLike)) else list(inputs)
    up = load_upscaler(model, scale, **options)
    tag, size, restore = sizing(scale, up, size)
    batch = plan_batch(items, output, tag, fmt=fmt, quality=quality, skip_existing=skip_existing, suffix=suffix)
    kw = dict(overwrite=overwrite, size=size, restore=restore, quality=quality, strip_metadata=strip_metadata)
    return list(upscale_batch(batch, up, **kw))
