"""Reading and writing images.

Images travel through sisr as float32 ``H x W x C`` arrays in [0, 1]. Reading
keeps what a faithful writer needs later (bit depth, original mode, alpha,
ICC profile, EXIF) beside the pixels, in :class:`ImageData`.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import logging
import os
import re
import struct
import threading
import warnings
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from sisr import netpbm
from sisr.atomic import atomic_target
from sisr.errors import SisrError, closest, warn

# tifffile logs what it finds wrong with a file; sisr says it once, as its own one-line error.
logging.getLogger("tifffile").addHandler(logging.NullHandler())

__all__ = [
    "CAMERA_RAW_SUFFIXES",
    "IMAGE_SUFFIXES",
    "WRITE_FORMATS",
    "Animation",
    "ImageData",
    "animation_frames",
    "openable_suffixes",
    "sequence_of",
    "tiff_pages",
    "read_animation",
    "read_image",
    "read_pages",
    "in_unit_range",
    "iter_pages",
    "read_rgb",
    "set_pixel_limit",
    "stored_size",
    "to_float",
    "to_uint16",
    "to_uint8",
    "write_animation",
    "write_image",
    "write_pages",
]

IMAGE_SUFFIXES = (".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".gif", ".avif", ".heic", ".heif", ".jxl")
# Camera raw: sensor data to be developed (demosaiced, white-balanced), which sisr does not do. Many
# are TIFF inside, where Pillow reads only the small preview they carry first.
CAMERA_RAW_SUFFIXES = frozenset(
    (".dng", ".cr2", ".cr3", ".crw", ".nef", ".nrw", ".arw", ".srf", ".sr2", ".orf", ".rw2", ".raf")
    + (".pef", ".srw", ".x3f", ".3fr", ".erf", ".kdc", ".dcr", ".mrw", ".mos", ".iiq", ".rwl", ".raw", ".gpr")
)


def openable_suffixes() -> frozenset[str]:
    """Suffixes of files that may be images sisr reads: IMAGE_SUFFIXES (what a folder run takes)
    and every one whose format Pillow opens (PPM, TGA, ...) or sisr does (PAM), less camera raw."""
    Image.init()
    pillow = {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    return (frozenset(IMAGE_SUFFIXES) | pillow | {".pam"}) - CAMERA_RAW_SUFFIXES


_OUTPUT_FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
    ".gif": "GIF",
    ".avif": "AVIF",
}
# What a user may ask for (the CLI's --format, the web app's output format).
WRITE_FORMATS = ("png", "jpg", "webp", "tiff", "gif", "avif")
# Decoded format -> the suffix its result is written with (each format's first suffix above); BMP
# (whose alpha and 16 bits PNG keeps), a still GIF (256 colours), HEIF... become PNG.
# The suffixes results are written with, in lower case: a BMP's result is a PNG.
RESULT_SUFFIXES = frozenset(_OUTPUT_FORMATS) - {".bmp"}
_RESULT_SUFFIX = {fmt: sfx for sfx, fmt in reversed(_OUTPUT_FORMATS.items()) if fmt not in ("BMP", "GIF")}
# Formats that animate. An animation's result keeps its format: an animated GIF stays a GIF.
_ANIMATIONS = ("GIF", "PNG", "WEBP", "AVIF")


def result_suffix(fmt: str | None) -> str:
    """The suffix to give a file decoded as ``fmt`` (Pillow's format name): its result's, but for a
    GIF, which keeps ".gif" so that :func:`result_suffix_of` can see whether it animates."""
    return ".gif" if fmt == "GIF" else _RESULT_SUFFIX.get(fmt or "", ".png")


def result_suffix_of(path: Path, fmt: str | None = None) -> str:
    """The suffix a result of the file ``path`` is written with: ``fmt``'s (one of WRITE_FORMATS)
    when given, else its own where sisr writes that format (but BMP, whose alpha and 16 bits PNG
    keeps, and a GIF that does not animate), else PNG."""
    if fmt:
        return f".{fmt}"
    suffix = path.suffix
    if suffix.lower() == ".gif":
        return suffix if animation_frames(path) else ".png"
    return suffix if suffix.lower() in RESULT_SUFFIXES else ".png"


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

    def without_metadata(self) -> ImageData:
        """A copy without EXIF, XMP, IPTC, PNG text and comments (camera, place, dates, credits), for sharing. The
        colour profile and print resolution stay: they say how to show the pixels, not who or where."""
        kept = {k: v for k, v in self.info.items() if k in ("icc_profile", "cicp", "dpi")}
        return ImageData(self.pixels, self.alpha, self.bits, self.mode, kept)

    def pixels_with_alpha(self) -> np.ndarray:
        """``H x W x (C + 1)`` when there is alpha, else the pixels."""
        if self.alpha is None:
            return self.pixels
        return np.concatenate([self.pixels, self.alpha[:, :, None]], axis=2)


_ORIENTATION = 0x0112
_EXIF_IFD, _GPS_IFD, _PIXEL_X, _PIXEL_Y = 0x8769, 0x8825, 0xA002, 0xA003
_XMP_TAG, _PNG_XMP_KEY = 700, "XML:com.adobe.xmp"
_JPEG_XMP_MAX = 65504  # one APP1 segment, less its namespace header; longer needs "extended XMP"
_IPTC_TAG, _IPTC_RESOURCE, _PHOTOSHOP_TAG = 33723, 0x0404, 34377
_JPEG_IPTC_MAX = 65533 - 14 - 12 - 1  # one APP13 segment, less "Photoshop 3.0", the resource header, padding
_JPEG_COMMENT_MAX = 65533  # one COM segment
_JPEG_EXIF_MAX = 65533  # one APP1 segment, "Exif\0\0" included
_MAKER_NOTE = 0x927C  # a camera maker's private block in the Exif directory: often most of a large EXIF
_AVIF_QUALITY = 90  # benchmarks/avif_quality.py, on held-out photos
# The tags of a TIFF's own directory that describe the picture, not the file's layout (size, strips,
# bit depth, compression): Make, Model, Orientation, X/YResolution, ResolutionUnit, Software, DateTime,
# Artist, HostComputer, Copyright. ImageDescription is left out: tifffile and ImageJ keep the array's
# shape there.
_TIFF_DESCRIPTIVE = (0x010F, 0x0110, 0x0112, 0x011A, 0x011B, 0x0128, 0x0131, 0x0132, 0x013B, 0x013C, 0x8298)


def set_pixel_limit(pixels: int) -> None:
    """Raise (or lower) the decompression-bomb guard: images above ``pixels`` are refused."""

    if pixels < 1:
        raise SisrError("--max-pixels must be positive")
    Image.MAX_IMAGE_PIXELS = int(pixels)


# Formats whose extra frames are content. A camera's MPO JPEG also has several (a preview, a
# depth map): its first is the photo, so it is read as one.
_SEQUENCES = ("GIF", "PNG", "WEBP", "TIFF")


def read_image(path: str | os.PathLike) -> ImageData:
    """Decode an image file; raises :class:`SisrError` with a one-line cause on failure.

    EXIF orientation is applied to the pixels (and reset to 1 in the EXIF kept
    for writing), palette and CMYK images become RGB, alpha is split off, and
    16-bit PNG and TIFF (gray or colour) keep their 16 bits.
    """

    p = Path(path)
    if not p.exists():
        raise SisrError(f"{p}: no such file")
    if p.is_dir():
        raise SisrError(f"{p}: is a folder, not an image")
    try:
        with _said_if_read(p), _decoding(p):
            if p.stat().st_size == 0:
                raise SisrError(f"{p}: empty file")
            _refuse_camera_raw(p)
            head = _enable_plugin(p)
            if netpbm_head := _netpbm_own(p, head):
                return _read_netpbm(p, netpbm_head)
            with Image.open(p) as im:
                _refuse_camera_raw(p, im, head)
                if im.format in _SEQUENCES and (n := _content_frames(im)) > 1:
                    # Reading the first frame alone would drop the rest without a word.
                    raise SisrError(f"{p}: {n} frames ({_several(im.format)}); save the one to use as its own file")
                if im.format == "PNG" and _png_is_16bit_colour(p):
                    return _read_png16(p, im)
                if im.format == "TIFF" and _tiff_is_16bit_colour(im) and (data := _read_tiff16(p, im)):
                    return data
                if im.format == "HEIF" and im.info.get("bit_depth", 8) > 8:
                    return _read_heif_deep(p, im)
                im.load()
                _warn_avif_depth(p, im)
                return from_pil(im, str(p))
    except _Unidentified:
        return _read_tiff_unopened(p)  # perhaps a TIFF that Pillow has no mode for


@contextlib.contextmanager
def _said_if_read(p: Path):
    """The warnings of decoding ``p``, each once and naming the file, shown only if it decodes: a
    failure's one-line error says it all (a truncated TIFF warns of corrupt EXIF before it fails).
    Only in the main thread (the CLI's): catch_warnings swaps process-wide state, which the web
    app's threads, decoding at once, would leave in a muddle."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with warnings.catch_warnings(record=True) as said:
        yield
    for w in said:  # the user's (Pillow's, sisr's) as one line naming the file; a developer's as they were
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    for text in dict.fromkeys(" ".join(str(w.message).split()) for w in said if issubclass(w.category, UserWarning)):
        warn(text if text.startswith(str(p)) else f"{p}: {text}", stacklevel=3)


class _Unidentified(SisrError):
    """Pillow does not know the file's kind."""


@contextlib.contextmanager
def _decoding(p: Path, what: str = "image"):
    """Decoding ``p``: the decompression-bomb warning as an error, and every failure (decoders raise
    many kinds: OSError, SyntaxError, ValueError, struct.error...) as one line naming the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except SisrError:
        raise
    except UnidentifiedImageError:
        raise _Unidentified(f"{p}: not a readable image") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise SisrError(f"{p}: {_first_line(e)} (raise the limit with --max-pixels)") from None
    except MemoryError:
        raise SisrError(f"{p}: {what} too large for the available memory") from None
    except Exception as e:
        raise _undecodable(p, e) from None


def _undecodable(p: Path, e: Exception) -> SisrError:
    """A decoder's failure as one line; one that read past the end of the data says so (Pillow
    says "truncated"; a plugin's read of a missing byte raises: a GIF's next frame header,
    IndexError; struct.error)."""
    cause = f"{type(e).__name__}: {_first_line(e)}"
    if isinstance(e, (EOFError, IndexError, struct.error)) or (isinstance(e, OSError) and "truncated" in str(e)):
        return SisrError(f"{p}: cannot decode image: the file is truncated or damaged ({cause})")
    return SisrError(f"{p}: cannot decode image ({cause})")


_SIGNED = "signed samples, as fractions of full scale,"  # what in_unit_range's warning calls them


@contextlib.contextmanager
def _unopened_tiff(p: Path):
    """The first page of a TIFF that Pillow has no mode for and sisr reads with tifffile (see
    :func:`_read_tiff_unopened`), open, with its colour samples and whether they are floats;
    failures as one line naming the file."""
    unreadable = SisrError(f"{p}: not a readable image")
    with p.open("rb") as fh:
        if fh.read(4) not in (b"II*\x00", b"MM\x00*"):
            raise unreadable
    try:
        import tifffile

        with tifffile.TiffFile(p) as tf:
            if not len(tf.pages):  # its first page's offset lies past the end
                raise SisrError(f"{p}: a truncated or damaged TIFF (no page can be read)")
            page = tf.pages[0]
            colour = 3 if page.photometric == 2 else 1  # RGB; else BlackIsZero
            kind = (page.photometric, page.samplesperpixel, page.bitspersample, page.sampleformat)
            layout = kind[0] in (1, 2) and kind[1] in (colour, colour + 1)  # gray or RGB, with or without alpha
            floats = layout and kind[3] == 3  # IEEE floats
            # Integers Pillow has no mode for: 16-bit gray with alpha (sisr writes them), 32-bit and
            # signed RGB (scientific tools), each scaled by its full scale as Pillow's gray ones are.
            integers = layout and kind[3] in (1, 2) and kind[2] in (8, 16, 32)
            if len(tf.pages) != 1 or not (floats or integers):
                raise unreadable
            yield page, colour, floats
    except SisrError:
        raise
    except Exception as e:
        raise _undecodable(p, e) from None


def _unopened_tiff_size(p: Path, oriented: bool) -> tuple[int, int]:
    """``(width, height)`` of a TIFF that :func:`_read_tiff_unopened` reads, from its header."""
    with _unopened_tiff(p) as (page, _, _):
        w, h = page.imagewidth, page.imagelength
        turned = oriented and int(page.tags.valueof(_ORIENTATION, 1) or 1) in (5, 6, 7, 8)
    return (h, w) if turned else (w, h)


def _read_tiff_unopened(p: Path) -> ImageData:
    """A TIFF that Pillow has no mode for, read with tifffile: 16-bit gray with alpha (sisr writes
    them), 32-bit or signed integer RGB (scaled by their full scale; a signed one's negatives lie
    below black) and floating-point gray or RGB, with or without alpha (HDR merges, scientific
    tools)."""
    with _unopened_tiff(p) as (page, colour, floats):
        _check_pixel_limit(p, page.imagewidth * page.imagelength, f"{page.imagewidth} x {page.imagelength} is")
        arr = page.asarray()
        if page.planarconfig == 2 and arr.ndim == 3:
            arr = np.moveaxis(arr, 0, -1)
    exif = Image.Exif()
    with _decoding(p):
        exif.load(p.read_bytes())  # the file's own directory
    icc = _readable_profile(exif.get(0x8773))  # InterColorProfile
    info, orientation = _carried("TIFF", icc, exif, xmp=exif.get(_XMP_TAG))
    arr = arr.reshape(*arr.shape[:2], -1)
    if floats:
        arr = in_unit_range(arr, p)
    elif arr.dtype.kind == "i":
        top = np.iinfo(arr.dtype).max
        arr = in_unit_range(arr.astype(np.float64) / top, p, _SIGNED)
    else:
        arr = (arr.astype(np.float64) / np.iinfo(arr.dtype).max).astype(np.float32)
    arr = _orient(arr, orientation)
    alpha = np.ascontiguousarray(arr[:, :, colour]) if arr.shape[2] > colour else None
    layout = ("RGB" if colour == 3 else "L") + ("A" if alpha is not None else "") + ";16"
    mode = ("RGB" if colour == 3 else "F") if floats else layout
    return ImageData(np.ascontiguousarray(arr[:, :, :colour]), alpha, 16, mode, info)


def _check_pixel_limit(p: Path, pixels: int, what: str) -> None:
    """Pillow's decompression-bomb guard (which sisr makes an error at its limit) for what Pillow does
    not check: refuse ``pixels``, which ``what`` holds ("W x H is", "4 frames of W x H are"), over it."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit and pixels > limit:
        raise SisrError(f"{p}: {what} over the limit of {limit} pixels (raise it with --max-pixels)")


@contextlib.contextmanager
def _naming(p: Path):
    """A core helper's one-line error (which does not know the file) naming ``p``."""
    try:
        yield
    except SisrError as e:
        raise SisrError(f"{p}: {e}") from None


def _netpbm_own(p: Path, head: bytes) -> bytes | None:
    """The start of a netpbm file that sisr reads itself (see :mod:`sisr.netpbm`), else None."""
    if head[:2] not in (b"P3", b"P6", b"P7", b"PF"):
        return None
    with p.open("rb") as fh:
        first = fh.read(netpbm.HEADER_MAX)
    return first if netpbm.read_own(first) else None


def _read_netpbm(p: Path, first: bytes) -> ImageData:
    """A PPM above 8 bits, a PAM or a colour PFM, at its full depth (``first``: the file's first
    bytes). A PFM's floats are display values, as a gray PFM's and a float TIFF's are."""
    with _naming(p):
        h = netpbm.header(first)
    _check_pixel_limit(p, h.width * h.height, f"{h.width} x {h.height} is")
    with _naming(p):
        arr, h = netpbm.decode(p.read_bytes())
    if h.floats:
        return ImageData(in_unit_range(arr, p), None, 16, "RGB;F", {})
    colour = 3 if h.channels >= 3 else 1
    alpha = np.ascontiguousarray(arr[:, :, colour]) if h.channels > colour else None
    bits = 16 if h.maxval > 255 else 8
    mode = ("RGB" if colour == 3 else "L") + ("A" if alpha is not None else "") + (";16" if bits == 16 else "")
    return ImageData(np.ascontiguousarray(arr[:, :, :colour]), alpha, bits, mode, {})


def in_unit_range(arr: np.ndarray, source, kind: str = "floating-point samples") -> np.ndarray:
    """Samples as float32 in [0, 1], where 0 is black and 1 white, as displays take them; values
    outside (HDR highlights, unscaled data, a signed image's negatives) are clipped, with a warning
    that says how many and the range, so a picture gone white or black does not pass without a word."""
    arr = arr.astype(np.float32)
    outside = arr.size - np.count_nonzero((arr >= 0) & (arr <= 1))  # NaN too: it compares false
    arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0)
    if outside:
        warn(
            f"{source}: {kind} from {arr.min():.4g} to {arr.max():.4g}, where 0 is black and 1 white; "
            f"{100 * outside / arr.size:.3g}% of them lay outside and were clipped (scale it to 0-1 to keep them)"
        )
    return np.clip(arr, 0.0, 1.0)


def decoded_format(path: str | os.PathLike) -> str | None:
    """The format Pillow decodes the file as ("PNG", "JPEG", "HEIF"...), or sisr itself ("PPM"
    above 8 bits, "PAM", colour "PFM"), or None if neither can."""
    p = Path(path)
    try:
        if first := _netpbm_own(p, _enable_plugin(p)):
            return {b"P7": "PAM", b"PF": "PFM"}.get(first[:2], "PPM")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a probe, as sequence_of
            with Image.open(p) as im:
                return im.format
    except (SisrError, UnidentifiedImageError, OSError):
        return None


# The JPEG standard's example luminance table (ITU-T T.81, Annex K.1), in row order, which libjpeg
# (and Pillow, most cameras' and editors' encoders) scales by quality: 50 is the table itself.
_JPEG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56]
    + [14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92]
    + [49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    np.float64,
)


def _ijg_table(quality: int) -> np.ndarray:
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((_JPEG_LUMA * scale + 50) // 100, 1, 255)


def jpeg_quality(image) -> int | None:
    """The libjpeg quality (1-100) whose luminance table is nearest a JPEG's (a path or an open
    PIL image), read from its header; None for other formats. Encoders with their own tables
    (some cameras, Photoshop) get the nearest libjpeg quality."""
    if not isinstance(image, Image.Image):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(Path(image)) as im:
                    return jpeg_quality(im) if im.format in ("JPEG", "MPO") else None  # MPO: a camera's JPEG
        except (UnidentifiedImageError, OSError):
            return None
    tables = getattr(image, "quantization", None) or {}
    luma = np.asarray(tables.get(0, ()), np.float64)
    if luma.size != 64:
        return None
    errors = [np.abs(np.log(_ijg_table(q)) - np.log(np.maximum(luma, 1))).sum() for q in range(1, 101)]
    return int(np.argmin(errors)) + 1


def stored_size(path: str | os.PathLike, oriented: bool = False) -> tuple[int, int]:
    """``(width, height)`` as the file's header gives it (of a TIFF's first page), without
    decoding the pixels; ``oriented``: as sisr reads it, turned by its EXIF orientation."""
    p = Path(path)
    _refuse_camera_raw(p)
    head = _enable_plugin(p)
    if first := _netpbm_own(p, head):
        with _naming(p):
            h = netpbm.header(first)
        return h.width, h.height
    try:
        with _decoding(p), Image.open(p) as im:
            _refuse_camera_raw(p, im, head)
            w, h = im.size
            turned = oriented and int(im.getexif().get(_ORIENTATION, 1) or 1) in (5, 6, 7, 8)
    except _Unidentified:
        return _unopened_tiff_size(p, oriented)  # perhaps a TIFF that Pillow has no mode for
    return (h, w) if turned else (w, h)


def _refuse_camera_raw(p: Path, im=None, head: bytes = b"") -> None:
    """Refuse a camera raw file, by its name or, opened as a TIFF, by its tags (a DNG's version; a
    first image that is a reduced-resolution preview of one in a sub-directory, as in DNG and NEF)
    or a Canon CR2's header (``head``, the file's first bytes): upscaling its preview would pass
    for success."""
    raw = p.suffix.lower() in CAMERA_RAW_SUFFIXES
    if not raw and im is not None and im.format == "TIFF":
        tags = im.tag_v2
        canon = head[8:10] == b"CR"
        raw = 50706 in tags or canon or (int(tags.get(254, 0)) & 1 and 330 in tags)  # DNGVersion; SubIFDs
    if raw:
        raise SisrError(
            f"{p}: a camera raw file, which sisr does not develop; "
            "export it as a 16-bit TIFF or a JPEG from a raw converter first"
        )


def _several(fmt: str) -> str:
    if fmt in _ANIMATIONS:
        return "animated; sisr upscale enlarges it frame by frame"
    return "multi-page; sisr upscale enlarges each page"


def _content_frames(im) -> int:
    """Frames that are pictures: a TIFF's reduced-resolution copies (a scanner's or camera's
    thumbnail, NewSubfileType bit 0) are not."""
    n = getattr(im, "n_frames", 1)
    if im.format != "TIFF" or n == 1:
        return n
    pictures = 0
    for i in range(n):
        im.seek(i)
        pictures += not int(im.tag_v2.get(254, 0)) & 1
    im.seek(0)
    return pictures


# ISO base media brands of HEIF stills (phones' .heic); AVIF ("avif", "avis") Pillow reads itself.
_HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1")


# A JPEG XL file: a bare codestream, or the ISO base media container.
_JXL_SIGNATURES = (b"\xff\x0a", b"\x00\x00\x00\x0cJXL \x0d\x0a\x87\x0a")


def _enable_plugin(p: Path) -> bytes:
    """Pillow reads HEIF (phones' HEIC) and JPEG XL through optional packages: for such a file,
    register its reader once, or say which package to install. Returns the file's first 12 bytes,
    which it reads for that."""
    with p.open("rb") as fh:
        head = fh.read(12)
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        what, package, extra, fmt = "a HEIF/HEIC photo", "pillow_heif", "pillow-heif (or sisr[heif])", "HEIF"
    elif head.startswith(_JXL_SIGNATURES):
        what, package, extra, fmt = "a JPEG XL image", "pillow_jxl", "pillow-jxl-plugin (or sisr[jxl])", "JXL"
    else:
        return head
    try:
        module = importlib.import_module(package)  # pillow_jxl registers its reader as it is imported
    except ImportError:
        raise SisrError(f"{p}: {what}; pip install {extra} to read it") from None
    if fmt == "HEIF" and "HEIF" not in Image.OPEN:
        module.register_heif_opener()
    return head


def _warn_avif_depth(p: Path, im) -> None:
    """Pillow decodes every AVIF to 8 bits: say so for a 10- or 12-bit one (an HDR photo's), whose
    depth its header, before the pixel data, records: bits per channel in the 'pixi' box, else the
    AV1 configuration's high_bitdepth and twelve_bit flags ('av1C')."""
    if im.format != "AVIF":
        return
    head = _avif_boxes(p)
    bits = 8
    if (at := head.find(b"pixi")) >= 0 and at + 9 < len(head):
        bits = max(head[at + 9 : at + 9 + head[at + 8]], default=8)
    elif (at := head.find(b"av1C")) >= 0 and at + 6 < len(head):
        flags = head[at + 6]
        bits = (12 if flags & 0x20 else 10) if flags & 0x40 else 8
    if bits > 8:
        warn(f"{p}: a {bits}-bit AVIF, read at 8 bits (Pillow's AVIF decoder gives no more)", stacklevel=3)


def _avif_boxes(p: Path) -> bytes:
    """An AVIF's header boxes, which come before its pixel data ('mdat'): what Pillow does not
    report (depth, colour code points) is read from them."""
    with p.open("rb") as fh:
        head = fh.read(1 << 16)
    return head[: head.find(b"mdat")] if b"mdat" in head else head


def _read_heif_deep(p: Path, im) -> ImageData:
    """A HEIF of 10 or 12 bits (cameras' HDR stills) at 16: Pillow's plugin gives its colour at 8.
    pillow-heif hands the samples over shifted to the top of 16 bits; the shift is undone so that
    full scale stays 1.0."""
    import pillow_heif

    depth = int(im.info["bit_depth"])
    arr = np.asarray(pillow_heif.open_heif(p, convert_hdr_to_8bit=False))  # the primary image
    arr = (arr.reshape(*arr.shape[:2], -1) >> (16 - depth)).astype(np.float32) / (2**depth - 1)
    info, orientation = _metadata(im)
    arr = _orient(arr, orientation)
    alpha = arr[:, :, -1] if arr.shape[2] in (2, 4) else None
    pixels = arr[:, :, :-1] if alpha is not None else arr
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[2]]
    return ImageData(np.ascontiguousarray(pixels), alpha, bits=16, mode=f"{mode};16", info=info)


def _cicp(im) -> tuple[int, int] | None:
    """The colour primaries and transfer that a HEIF, an AVIF or a PNG signals by H.273 code points
    (a HEIF's or an AVIF's 'nclx' colour box, a PNG's cICP chunk), or None. pillow-heif reports a
    HEIF's; an AVIF's and a PNG's are read from the header, before the pixel data, as Pillow does
    not report them."""
    if im.format == "HEIF" and isinstance(nclx := im.info.get("nclx_profile"), dict):
        return int(nclx.get("color_primaries", 2)), int(nclx.get("transfer_characteristics", 2))
    if im.format == "PNG" and getattr(im, "filename", None):
        return _png_cicp(Path(im.filename))
    if im.format != "AVIF" or not getattr(im, "filename", None):
        return None
    head = _avif_boxes(Path(im.filename))
    if (at := head.find(b"colrnclx")) < 0 or at + 12 > len(head):
        return None
    return struct.unpack(">HH", head[at + 8 : at + 12])


def _png_cicp(p: Path) -> tuple[int, int] | None:
    """A PNG's cICP chunk (primaries, transfer), which comes before the image data."""
    with p.open("rb") as fh:
        fh.seek(8)
        while len(head := fh.read(8)) == 8:
            size, kind = struct.unpack(">I4s", head)
            if kind in (b"IDAT", b"IEND"):
                return None
            if kind == b"cICP" and size == 4:
                return tuple(fh.read(2))
            fh.seek(size + 4, os.SEEK_CUR)
    return None


def _colour(im) -> tuple[bytes | None, bytes | None]:
    """The ICC profile to carry, and an HDR image's code points as a PNG cICP chunk's payload
    (primaries, transfer, RGB, full range), from the file's profile and the code points it states
    (:func:`_cicp`). A HEIF or AVIF that states SDR colour by code points alone (a phone's Display
    P3) gets a profile made from them, so that its result, in any format, shows that colour and not
    sRGB; so does a PNG with a cICP chunk, which outranks its iCCP (PNG's third edition). HDR code
    points (PQ, HLG) no ICC curve states: a PNG result carries them (an HDR screen shows it as HDR),
    with the file's profile, if any, for readers that do not know them."""
    from sisr import icc

    given, code = im.info.get("icc_profile"), _cicp(im)
    if code is None:
        return given, None
    primaries, transfer = code
    if transfer in icc.HDR_TRANSFERS:
        return given, bytes([primaries, transfer, 0, 1])
    if given and im.format != "PNG":
        return given, None
    if icc.is_srgb(primaries, transfer):
        return None, None
    try:
        return icc.profile_from_cicp(primaries, transfer, im.mode in ("1", "F") or im.mode.startswith(("L", "I"))), None
    except KeyError:
        source = getattr(im, "filename", None) or "image"
        warn(f"{source}: its colour (H.273 primaries {primaries}, transfer {transfer}) is not carried", stacklevel=5)
        return given, None


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _png_is_16bit_colour(p: Path) -> bool:
    with p.open("rb") as fh:
        head = fh.read(26)
    return len(head) == 26 and head[12:16] == b"IHDR" and head[24] == 16 and head[25] in (2, 4, 6)


def _metadata(im) -> tuple[dict, int]:
    info = im.info
    icc, cicp = _colour(im)
    if im.mode != "CMYK":  # a CMYK one is needed, and its failure said, in _cmyk_to_srgb
        icc = _readable_profile(icc)
    carried, orientation = _carried(im.format, icc, im.getexif(), info.get("dpi"), info.get("xmp"))
    if cicp:
        carried["cicp"] = cicp
    source = getattr(im, "filename", None) or "image"
    if kind := _with_gain_map(im, carried.get("xmp", b"")):
        warn(f"{source}: {kind}; its HDR gain map is not carried, so the result is its SDR picture", stacklevel=4)
    if _MOTION_PHOTO.search(carried.get("xmp", b"")):
        warn(f"{source}: a motion photo; its video is not carried, so the result is its still picture", stacklevel=4)
    if "xmp" in carried:
        carried["xmp"] = _without_companions(carried["xmp"])
    if im.format == "PNG" and (text := _png_text(info)):
        carried["text"] = text
    if iptc := _iptc(im):
        carried["iptc"] = iptc
    comment = info.get("comment")
    if im.format in ("GIF", "JPEG", "MPO") and isinstance(comment, bytes) and comment.strip(b"\0 "):
        carried["comment"] = comment.rstrip(b"\0")  # a C string's end, which PNG text may not hold
    return carried, orientation


def _iptc(im) -> bytes | None:
    """The IPTC-IIM block (caption, credit, rights, keywords: datasets that start 0x1C) of a JPEG
    (Photoshop's resource 0x0404) or a TIFF (tag 33723, else the resource in Photoshop's tag 34377).
    Tag 33723 is read raw, as Pillow's own getiptcinfo reads it: Photoshop types it LONG, and
    Pillow's tag reader keeps one value of those."""
    if im.format in ("JPEG", "MPO"):
        data = (im.info.get("photoshop") or {}).get(_IPTC_RESOURCE)
    elif im.format == "TIFF":
        tags = im.tag_v2
        data = tags._tagdata[_IPTC_TAG] if _IPTC_TAG in tags._tagdata else tags.get(_IPTC_TAG)
        if data is None and isinstance(irb := tags.get(_PHOTOSHOP_TAG), bytes):  # Photoshop's block only
            data = _irb_resource(irb, _IPTC_RESOURCE)
    else:
        return None
    return data if isinstance(data, bytes) and data[:1] == b"\x1c" else None


def _irb_resource(irb: bytes, rid: int) -> bytes | None:
    """Resource ``rid`` of a Photoshop image resource block: "8BIM", the id, a Pascal name padded
    to an even length, the size, the data padded to an even length."""
    at = 0
    while irb[at : at + 4] == b"8BIM" and at + 7 <= len(irb):
        code, name = int.from_bytes(irb[at + 4 : at + 6], "big"), irb[at + 6]
        at += 6 + 1 + name + ((1 + name) & 1)
        size = int.from_bytes(irb[at : at + 4], "big")
        at += 4
        if code == rid:
            return irb[at : at + size]
        at += size + (size & 1)
    return None


def _app13(iptc: bytes) -> bytes:
    """A JPEG APP13 segment holding only the IPTC block: none of the input's other Photoshop
    resources, such as a thumbnail of the small image."""
    payload = b"Photoshop 3.0\x00" + b"8BIM" + struct.pack(">HHI", _IPTC_RESOURCE, 0, len(iptc)) + iptc
    payload += b"\x00" * (len(iptc) & 1)  # resources are padded to an even size
    return b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload


def _png_text(info: dict) -> dict[str, str]:
    """A PNG's text chunks (a title, a comment, a diffusion model's "parameters"), as Pillow reads
    them into ``info`` (str; iTXt keeps its language). Not the XMP, carried on its own, nor
    ImageMagick's "Raw profile" copies of EXIF and XMP, whose sizes would go stale."""
    return {
        k: v
        for k, v in info.items()
        if isinstance(v, str) and k != _PNG_XMP_KEY and not k.startswith("Raw profile type")
    }


def _carried(fmt: str | None, icc: bytes | None, exif: Image.Exif, dpi=None, xmp=None) -> tuple[dict, int]:
    """ICC profile, print resolution, EXIF and XMP (orientation reset to 1 in both) to carry
    over, and the orientation found. The resolution stays that of the input (the print grows
    with the pixels), as image editors do when they resample."""
    info = {}
    if icc:
        info["icc_profile"] = icc
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8")
    if isinstance(xmp, bytes) and xmp.strip(b"\x00 \t\r\n"):
        info["xmp"] = xmp
    if isinstance(dpi, tuple) and len(dpi) == 2 and all(isinstance(d, (int, float)) and d > 0 for d in dpi):
        # PNG stores dots per metre: 300 dpi reads back as 299.9994
        info["dpi"] = tuple(float(round(d)) if abs(d - round(d)) < 0.01 else float(d) for d in dpi)
    orientation = int(exif.get(_ORIENTATION, 1) or 1)
    if fmt == "TIFF":  # its "EXIF" is the file's own directory: keep what describes the picture
        exif = _descriptive(exif)
    if len(exif) or any(exif.get_ifd(pointer) for pointer in (_EXIF_IFD, _GPS_IFD)):
        if _ORIENTATION in exif:
            exif[_ORIENTATION] = 1
        info["exif"] = exif.tobytes()
    if orientation != 1 and "xmp" in info:  # the pixels are turned: an XMP orientation would turn them again
        info["xmp"] = _xmp_set(info["xmp"], {"tiff:Orientation": 1})
    return info, orientation


def _readable_profile(icc: bytes | None) -> bytes | None:
    """``icc`` if Little CMS can read it, else None with a warning: a camera's or an editor's can
    be cut short, and carried into a result it would be a broken file to strict readers."""
    if icc and not _parses(icc):
        warn("its colour profile is unreadable; left out (the colours are taken as sRGB)", stacklevel=5)
        return None
    return icc


@functools.lru_cache(maxsize=16)
def _parses(icc: bytes) -> bool:
    from PIL import ImageCms

    try:
        ImageCms.ImageCmsProfile(io.BytesIO(icc))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return False
    return True


def _with_gain_map(im, xmp: bytes) -> str | None:
    """What kind of HDR photo ``im`` is, if it is an SDR picture with an HDR gain map beside it:
    an Ultra HDR JPEG (its XMP has the hdrgm fields), or an iPhone's HEIF (an auxiliary image of
    the gain map kind, which pillow-heif lists)."""
    if im.format in ("JPEG", "MPO") and b"hdrgm:" in xmp:
        return "an Ultra HDR JPEG"
    if im.format == "HEIF" and any("hdrgainmap" in str(k).lower() for k in im.info.get("aux") or {}):
        return "a HEIF with an HDR gain map"
    return None


# Google's Motion Photo XMP (Pixel and other Android phones; MicroVideo is its first version),
# which says that a video follows the JPEG's own bytes.
_MOTION_PHOTO = re.compile(rb"GCamera:(?:MotionPhoto|MicroVideo)\s*(?:=\s*[\"']\s*1|>\s*1\s*<)")


def _without_companions(xmp: bytes) -> bytes:
    """XMP without what points at files that travelled inside the photo, which the result does not
    have: the container directory that lists them (an Ultra HDR gain map, a motion photo's video),
    the hdrgm version and parameters, and the motion photo's flag, version, offset and timestamp. A
    reader told they are there would look for them in the result's bytes."""
    close = b"</Container:Directory>"
    while (start := xmp.find(b"<Container:Directory")) >= 0 and (end := xmp.find(close, start)) >= 0:
        xmp = xmp[:start] + xmp[end + len(close) :]
    fields = rb"(?:hdrgm:\w+|GCamera:(?:MotionPhoto|MicroVideo)\w*)"
    # [^<>] and [^<]: each try stops at the next tag, so hostile input costs linear time, not quadratic
    xmp = re.sub(rb"<(" + fields + rb")\b[^<>]*?(/>|>[^<]*</\1>)", b"", xmp)
    return re.sub(rb"\s" + fields + rb"\s*=\s*(\"[^\"]*\"|'[^']*')", b"", xmp)  # one \s: a run costs linear time


def _xmp_set(xmp: bytes, values: dict[str, int]) -> bytes:
    """Set simple XMP properties where the packet has them, in either of RDF's spellings
    (``tiff:Orientation="6"`` or ``<tiff:Orientation>6</tiff:Orientation>``)."""
    for name, value in values.items():
        n, v = re.escape(name.encode()), str(value).encode()
        xmp = re.sub(rb"(\s" + n + rb"\s*=\s*)([\"'])[^\"']*\2", rb"\g<1>\g<2>" + v + rb"\g<2>", xmp)
        xmp = re.sub(rb"(<" + n + rb">)[^<]*(</" + n + rb">)", rb"\g<1>" + v + rb"\g<2>", xmp)
    return xmp


def _descriptive(tags: Image.Exif) -> Image.Exif:
    kept = Image.Exif()
    for tag in _TIFF_DESCRIPTIVE:
        if tag in tags:
            kept[tag] = tags[tag]
    for pointer in (_EXIF_IFD, _GPS_IFD):
        if sub := tags.get_ifd(pointer):
            kept.get_ifd(pointer).update(sub)  # tobytes() writes the pointer
    return kept


def _orient(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1-8) to an ``H x W [x C]`` array."""
    ops = {
        2: lambda a: a[:, ::-1],
        3: lambda a: a[::-1, ::-1],
        4: lambda a: a[::-1],
        5: lambda a: np.swapaxes(a, 0, 1),
        6: lambda a: np.rot90(a, -1),
        7: lambda a: np.rot90(a, 1)[::-1],
        8: lambda a: np.rot90(a, 1),
    }
    return np.ascontiguousarray(ops[orientation](arr)) if orientation in ops else arr


def _read_png16(p: Path, im) -> ImageData:

    info, orientation = _metadata(im)
    import png  # only the 16-bit PNG paths need pypng; training machines may lack it

    with p.open("rb") as fh:  # pypng leaves a file it opened itself to the garbage collector
        width, height, rows, meta = png.Reader(file=fh).asDirect()
        planes = meta["planes"]
        arr = np.vstack([np.asarray(r, np.uint16) for r in rows]).reshape(height, width, planes)
    arr = _orient(arr.astype(np.float32) / 65535.0, orientation)
    alpha = arr[:, :, -1] if meta["alpha"] else None
    pixels = arr[:, :, :-1] if meta["alpha"] else arr
    return ImageData(np.ascontiguousarray(pixels), alpha, bits=16, mode=f"{im.mode};16", info=info)


def _tiff_is_16bit_colour(im) -> bool:
    """16-bit RGB(A), which Pillow reads at 8 bits (it keeps 16-bit gray; gray with alpha it cannot open)."""
    tags = im.tag_v2
    bits = tags.get(258, ())
    return (
        tags.get(262) == 2  # RGB
        and isinstance(bits, tuple)
        and len(bits) >= 3
        and all(b == 16 for b in bits)
        and tags.get(339, 1) in (1, (1,) * len(bits))  # unsigned integers
    )


def _read_tiff16(p: Path, im, index: int = 0) -> ImageData | None:
    """A 16-bit RGB(A) TIFF (page ``index``) at 16 bits, or None, with a warning, when
    tifffile cannot decode its compression without the optional imagecodecs package."""

    try:
        import tifffile

        with tifffile.TiffFile(p) as tf:
            page = tf.pages[index]
            arr = page.asarray()
            separate = page.planarconfig == 2
    except (ImportError, ValueError) as e:
        if "imagecodecs" not in str(e) and not isinstance(e, ImportError):
            raise
        warn(f"{p}: read at 8 bits ({_first_line(e)}); pip install imagecodecs keeps its 16", stacklevel=2)
        return None
    if separate:
        arr = np.moveaxis(arr, 0, -1)
    info, orientation = _metadata(im)
    arr = _orient(arr.astype(np.float32) / 65535.0, orientation)
    alpha = np.ascontiguousarray(arr[:, :, 3]) if arr.shape[2] > 3 else None
    mode = "RGBA;16" if alpha is not None else "RGB;16"
    return ImageData(np.ascontiguousarray(arr[:, :, :3]), alpha, bits=16, mode=mode, info=info)


def from_pil(im, source: str = "image") -> ImageData:
    """A decoded Pillow image as :class:`ImageData` (``source`` names it in warnings)."""
    info, orientation = _metadata(im)
    mode = im.mode
    alpha = None
    bits = 8
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr, (top, signed) = np.asarray(im), _full_scale(im)
        if top == 0xFFFFFFFF:
            arr = arr.view(np.uint32)  # Pillow holds unsigned 32-bit samples as signed
        arr = arr.astype(np.float64)
        top = top or (65535 if mode.startswith("I;16") or arr.max() > 255 else 255)
        bits = 16 if top > 255 else 8
        kind = _SIGNED if signed else "samples, as fractions of full scale,"
        pixels = in_unit_range(arr / top, source, kind)[:, :, None]
    elif mode == "F":
        pixels = in_unit_range(np.asarray(im), source)[:, :, None]
        bits = 16
    elif mode == "L" and _full_scale(im) == (None, True):
        # Signed bytes, which Pillow gives as unsigned: -1 would be 255, white. Scaled as wider
        # signed samples are, by the largest positive value; negatives lie below black.
        arr = np.asarray(im).view(np.int8).astype(np.float64) / 127.0
        pixels = in_unit_range(arr, source, _SIGNED)[:, :, None]
    elif mode in ("1", "L"):
        pixels = (np.asarray(im.convert("L"), dtype=np.float64) / 255.0)[:, :, None]
    elif mode in ("LA", "La"):
        arr = np.asarray(im.convert("LA"), dtype=np.float64) / 255.0
        pixels, alpha = arr[:, :, :1], arr[:, :, 1]
    elif mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        arr = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
        pixels, alpha = arr[:, :, :3], arr[:, :, 3]
    else:
        if mode == "CMYK":
            im = _cmyk_to_srgb(im, info, source)
        pixels = np.asarray(im.convert("RGB"), dtype=np.float64) / 255.0
    pixels = _orient(pixels, orientation)
    alpha = None if alpha is None else _orient(alpha, orientation)
    return ImageData(
        pixels=np.ascontiguousarray(pixels, dtype=np.float32),
        alpha=None if alpha is None else np.ascontiguousarray(alpha, dtype=np.float32),
        bits=bits,
        mode=mode,
        info=info,
    )


def _full_scale(im) -> tuple[int | None, bool]:
    """The white level of a TIFF's integer samples from its declared depth and sign (a 32-bit
    scientific image; a signed one's negatives lie below black), else None (8 bits and fewer, or
    not a TIFF); and whether signed."""
    if im.format != "TIFF":
        return None, False
    depth, signed = (im.tag_v2.get(tag, (default,)) for tag, default in ((258, 0), (339, 1)))
    depth = int(depth[0] if isinstance(depth, tuple) else depth)
    signed = int(signed[0] if isinstance(signed, tuple) else signed) == 2
    return ((1 << (depth - signed)) - 1 if 8 < depth <= 32 else None), signed


@functools.cache
def _srgb_profile() -> bytes:
    """Little CMS's sRGB profile, with a fixed creation date: the same input gives the same file."""
    from PIL import ImageCms

    icc = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    icc[24:36] = struct.pack(">6H", 2000, 1, 1, 0, 0, 0)  # the header's date (it has no profile ID to redo)
    return bytes(icc)


def _cmyk_to_srgb(im, info: dict, source: str):
    """CMYK (print) pixels as sRGB through the file's own colour profile, and the sRGB profile to
    carry in its place. Without a usable profile, Pillow's formula (no colour management), which
    can shift colours far (about 16 levels on average from a SWOP profile's), with a warning."""
    from PIL import ImageCms

    icc = info.pop("icc_profile", None)  # a CMYK profile does not describe the RGB result
    if icc:
        try:
            srgb = _srgb_profile()
            to = ImageCms.ImageCmsProfile(io.BytesIO(srgb))
            rgb = ImageCms.profileToProfile(im, ImageCms.ImageCmsProfile(io.BytesIO(icc)), to, outputMode="RGB")
            info["icc_profile"] = srgb
            return rgb
        except (ImageCms.PyCMSError, OSError, ValueError) as e:
            why = _first_line(e)
            warn(f"{source}: its CMYK colour profile is unusable ({why}); converted to RGB without it", stacklevel=4)
            return im
    warn(f"{source}: CMYK without a colour profile; converted to RGB without colour management", stacklevel=4)
    return im


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an image as uint8 ``H x W x 3`` RGB (gray replicated, alpha dropped).

    The benchmark path: files are 8-bit and metrics work on 8-bit values.
    """
    data = read_image(path)
    return to_uint8(data.rgb)


def to_float(img: np.ndarray, dtype=np.float32) -> np.ndarray:
    """The one integer-to-float conversion: uint8 / 255, uint16 / 65535, bool 0 or 1, floats as they are."""
    arr = np.asarray(img)
    if arr.dtype == np.uint8:
        return arr.astype(dtype) / dtype(255.0)
    if arr.dtype == np.uint16:
        return arr.astype(dtype) / dtype(65535.0)
    if arr.dtype == np.bool_:  # a bilevel image, as a 1-bit file reads: True is white
        return arr.astype(dtype)
    if not np.issubdtype(arr.dtype, np.floating):
        hint = ""
        if np.issubdtype(arr.dtype, np.integer) and arr.size:
            low, high = int(arr.min()), int(arr.max())
            fits = None if low < 0 else "uint8" if high <= 255 else "uint16" if high <= 65535 else None
            hint = f" (its values lie in 0-{high}: arr.astype(np.{fits}))" if fits else ""
        raise SisrError(f"expected a bool, uint8, uint16 or float image, got {arr.dtype}{hint}")
    return arr.astype(dtype, copy=False)


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Float [0, 1] to uint8 with clamping and round-half-up."""
    return _quantized(img, 255.0, np.uint8)


def to_uint16(img: np.ndarray) -> np.ndarray:
    return _quantized(img, 65535.0, np.uint16)


def _quantized(img: np.ndarray, top: float, dtype) -> np.ndarray:
    """``floor(clip(img, 0, 1) * top + 0.5)`` as ``dtype``, a band of rows at a time: a large
    result costs its integer copy, not three float temporaries of its size."""
    img = np.asarray(img)
    if img.ndim < 2 or img.size <= 1 << 22:
        return np.floor(np.clip(img, 0.0, 1.0) * top + 0.5).astype(dtype)
    out = np.empty(img.shape, dtype)
    rows = max(1, (1 << 22) // (img[0].size or 1))
    for y in range(0, img.shape[0], rows):
        band = np.clip(img[y : y + rows], 0.0, 1.0)
        band *= top
        band += 0.5
        out[y : y + rows] = np.floor(band, out=band)
    return out


def write_image(
    path: str | os.PathLike, img: np.ndarray | ImageData, *, overwrite: bool = True, quality: int | None = None
) -> Path:
    """Write an image atomically (temporary file in the same folder, then rename).

    ``img`` is a float ``H x W x C`` array in [0, 1] (C = 1 or 3), a uint8
    array, or an :class:`ImageData` (whose alpha, bit depth, ICC profile and
    EXIF are written where the format allows). ``quality`` (1-100): lossy
    JPEG, WebP or AVIF at that quality; by default JPEG is written at 95, WebP
    losslessly and AVIF at 90. A failure leaves no file behind.
    """
    p = Path(path)
    if p.exists() and not overwrite:
        raise SisrError(f"{p}: exists (use --overwrite to replace it)")
    data = img if isinstance(img, ImageData) else ImageData(pixels=_as_float(img))
    fmt = _format_for(p)
    check_quality(quality, p)
    check_size(p, data.pixels.shape[1], data.pixels.shape[0])
    if data.bits == 16 and fmt not in ("PNG", "TIFF"):
        name = {"WEBP": "WebP"}.get(fmt, fmt)
        warn(f"{p}: {name} holds 8 bits a channel; the 16-bit image is written at 8 (PNG and TIFF keep 16)")
    if fmt == "JPEG" and data.alpha is not None and float(data.alpha.min()) < 1.0:
        # what lies under transparent pixels is arbitrary (often black): show them as on a white page
        warn(f"{p}: JPEG has no alpha; transparent areas are flattened onto white", stacklevel=2)
        a = data.alpha[:, :, None]
        data = ImageData(data.pixels * a + (1.0 - a), None, data.bits, data.mode, data.info)

    try:
        with atomic_target(p) as tmp, open(tmp, "wb") as fh:
            _encode(fh, data, fmt, quality, name=p)
    except (OSError, ValueError) as e:
        raise SisrError(f"{p}: cannot write ({getattr(e, 'strerror', None) or _first_line(e)})") from None
    return p


def _exif_sized(exif: bytes, width: int, height: int) -> bytes:
    """The EXIF with its pixel dimensions (where it records them) set to the written image's size."""
    e = Image.Exif()
    e.load(exif)
    ifd = e.get_ifd(_EXIF_IFD)
    if _PIXEL_X not in ifd and _PIXEL_Y not in ifd:
        return exif
    ifd[_PIXEL_X], ifd[_PIXEL_Y] = width, height
    return e.tobytes()


def check_quality(quality: int | None, path: Path) -> None:
    """Refuse a ``quality`` out of 1-100, or for a file whose format has no quality setting."""
    if quality is None:
        return
    if not 1 <= quality <= 100:
        raise SisrError(f"quality must be 1 to 100, got {quality}")
    if _format_for(path) not in _LOSSY:
        raise SisrError(f"{path}: quality applies to JPEG, WebP and AVIF output, not {path.suffix or 'this format'}")


# The formats' own limits, pixels a side; AVIF's are what libavif's readers take by default.
_MAX_SIDE = {"JPEG": ("JPEG", 65535), "WEBP": ("WebP", 16383), "AVIF": ("AVIF", 32768)}
_MAX_AREA = {"AVIF": ("AVIF", 16384 * 16384)}


def check_size(path: Path, width: int, height: int) -> None:
    """Refuse, before any work, a result the output format cannot hold."""
    fmt = _format_for(path)
    if fmt == "AVIF":
        from PIL import features

        if not features.check("avif"):
            raise SisrError(f"{path}: this Pillow cannot write AVIF (pip install -U pillow: 11.3 or later)")
    name, limit = _MAX_SIDE.get(fmt, ("", 0))
    if limit and max(width, height) > limit:
        raise SisrError(
            f"{path}: {width} x {height} is over {name}'s limit of {limit} pixels a side; write PNG or TIFF"
        )
    name, limit = _MAX_AREA.get(fmt, ("", 0))
    if limit and width * height > limit:
        raise SisrError(f"{path}: {width} x {height} is over {name}'s limit of {limit} pixels; write PNG or TIFF")


def _written_meta(info: dict, fmt: str, w: int, h: int, name: Path | None) -> dict:
    """The metadata to write with a ``w x h`` result in ``fmt``: its recorded sizes updated."""
    kept = ("icc_profile", "cicp", "exif", "dpi", "xmp", "text", "comment", "iptc")
    meta = {k: v for k, v in info.items() if v and k in kept}
    if "cicp" in meta and fmt != "PNG":
        from sisr.icc import HDR_TRANSFERS

        curve, fname = HDR_TRANSFERS[meta.pop("cicp")[1]], {"WEBP": "WebP"}.get(fmt, fmt)
        warn(f"{name}: an HDR image ({curve} curve); {fname} here cannot carry HDR colour, so it shows flat "
             "(PNG keeps it)", stacklevel=5)  # fmt: skip
    if "exif" in meta:
        meta["exif"] = _exif_sized(meta["exif"], w, h)
        if fmt == "JPEG" and (n := len(meta["exif"])) > _JPEG_EXIF_MAX:
            e = Image.Exif()
            e.load(meta.pop("exif"))
            if e.get_ifd(_EXIF_IFD).pop(_MAKER_NOTE, None) is not None and len(slim := e.tobytes()) <= _JPEG_EXIF_MAX:
                meta["exif"] = slim
            what = "written without the camera's maker note" if "exif" in meta else "left out"
            warn(f"{name}: its EXIF metadata ({n} bytes) is over JPEG's {_JPEG_EXIF_MAX}; {what}", stacklevel=5)
    if "xmp" in meta:
        sizes = {"exif:PixelXDimension": w, "exif:PixelYDimension": h, "tiff:ImageWidth": w, "tiff:ImageLength": h}
        meta["xmp"] = _xmp_set(meta["xmp"], sizes)
        if fmt == "JPEG" and len(meta["xmp"]) > _JPEG_XMP_MAX:
            n = len(meta.pop("xmp"))
            warn(f"{name}: its XMP metadata ({n} bytes) is over JPEG's {_JPEG_XMP_MAX}; left out", stacklevel=5)
    for key, what, limit in (("iptc", "IPTC metadata", _JPEG_IPTC_MAX), ("comment", "comment", _JPEG_COMMENT_MAX)):
        if fmt == "JPEG" and len(meta.get(key, b"")) > limit:
            n = len(meta.pop(key))
            warn(f"{name}: its {what} ({n} bytes) is over JPEG's {limit}; left out", stacklevel=5)
    if fmt == "PNG" and "comment" in meta:  # PNG's place for it, where exiftool puts it
        meta["text"] = {"Comment": meta.pop("comment").decode("latin-1"), **meta.get("text", {})}
    return meta


def _encode(fh, data: ImageData, fmt: str, quality: int | None = None, name: Path | None = None) -> None:

    h, w = data.pixels.shape[:2]
    meta = _written_meta(data.info, fmt, w, h, name)
    gray = data.pixels.shape[2] == 1
    has_alpha = data.alpha is not None and fmt != "JPEG"
    if data.bits == 16 and fmt == "PNG" and (has_alpha or not gray):
        _write_png16(fh, data, has_alpha, meta)
        return
    if fmt == "TIFF":
        _write_tiff(fh, data, has_alpha, meta)
        return
    if fmt == "GIF":
        _write_gif(fh, [_frame_uint8(data, has_alpha)], None, None, meta)
        return
    if data.bits == 16 and gray and not has_alpha and fmt == "PNG":
        pil = Image.fromarray(to_uint16(data.pixels[:, :, 0]))
    else:
        arr = to_uint8(data.pixels)
        pil = Image.fromarray(arr[:, :, 0] if gray else arr)
        if fmt == "WEBP" and gray and meta.get("icc_profile", b"")[16:20] == b"GRAY":
            pil, meta["icc_profile"] = _gray_as_srgb(pil, meta["icc_profile"], name)
            meta = {k: v for k, v in meta.items() if v}
        if has_alpha:
            pil.putalpha(Image.fromarray(to_uint8(data.alpha)))
    pil.save(fh, format=fmt, **_save_params(meta, fmt, quality, gray))


def _gray_as_srgb(pil, icc: bytes, name: Path | None) -> tuple[Image.Image, bytes]:
    """Gray pixels as sRGB colour through their gray profile: WebP stores colour only, and its
    viewers would read a gray profile on colour pixels as no profile at all (or refuse it)."""
    from PIL import ImageCms

    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        to = ImageCms.ImageCmsProfile(io.BytesIO(_srgb_profile()))
        return ImageCms.profileToProfile(pil, src, to, renderingIntent=1, outputMode="RGB"), _srgb_profile()
    except (ImageCms.PyCMSError, OSError, ValueError) as e:
        warn(f"{name}: its gray colour profile is unusable ({_first_line(e)}); written without it", stacklevel=5)
        return pil, b""


def _save_params(meta: dict, fmt: str, quality: int | None, gray: bool = False) -> dict:
    """Pillow's save arguments for ``fmt``: the metadata it holds, and its quality."""
    extra = dict(meta)
    comment, iptc = extra.pop("comment", None), extra.pop("iptc", None)
    if fmt == "JPEG" and comment:
        extra["comment"] = comment
    if fmt == "JPEG" and iptc:
        extra["extra"] = _app13(iptc)  # segments Pillow writes as they are
    if fmt in ("WEBP", "AVIF"):
        extra.pop("dpi", None)  # no resolution field
    xmp, text = extra.pop("xmp", None), extra.pop("text", None)  # PNG text: only PNG holds it
    cicp = extra.pop("cicp", None)
    if fmt in ("JPEG", "WEBP", "AVIF") and xmp:
        extra["xmp"] = xmp
    if fmt == "PNG" and (xmp or text or cicp):
        from PIL import PngImagePlugin

        extra["pnginfo"] = PngImagePlugin.PngInfo()
        if cicp:  # before the image data, as the chunk must be
            extra["pnginfo"].add(b"cICP", cicp)
        for key, value in (text or {}).items():
            if isinstance(value, PngImagePlugin.iTXt):
                extra["pnginfo"].add_itxt(key, value, value.lang or "", value.tkey or "", zip=len(value) > 1024)
            else:
                extra["pnginfo"].add_text(key, value, zip=len(value) > 1024)
        if xmp:
            extra["pnginfo"].add_itxt(_PNG_XMP_KEY, xmp.decode("utf-8", "replace"))
    if fmt == "JPEG":
        # full-resolution chroma: 4:2:0 would halve the colour detail the model just made
        extra.update(quality=quality or 95, subsampling=0)
    if fmt == "WEBP":
        extra.update({"quality": quality} if quality else {"lossless": True})
    if fmt == "AVIF":  # full-resolution chroma, as JPEG's; gray stays 4:0:0
        extra.update(quality=quality or _AVIF_QUALITY, **({} if gray else {"subsampling": "4:4:4"}))
    if fmt == "BMP":
        extra = {}
    return extra


@dataclass
class Animation:
    """An animated GIF, PNG (APNG), WebP or AVIF as the frames a viewer shows: each one the whole
    picture, with the earlier frames' disposal and blending already applied."""

    frames: list[np.ndarray]  # uint8 H x W x 3, or x 4 when any frame has transparency
    durations: list[int]  # milliseconds each frame shows
    loop: int | None  # times to play it: 0 for ever; None: once (a GIF without a loop field)
    format: str  # "GIF", "PNG" or "WEBP"
    info: dict = field(default_factory=dict)  # the first frame's ICC profile, EXIF, XMP, text, comment

    def frame(self, i: int) -> ImageData:
        """Frame ``i`` as :class:`ImageData` (float32 pixels, alpha split off)."""
        a = self.frames[i]
        rgb = a[:, :, :3].astype(np.float32) / 255.0
        alpha = a[:, :, 3].astype(np.float32) / 255.0 if a.shape[2] == 4 else None
        return ImageData(rgb, alpha, 8, "RGBA" if alpha is not None else "RGB", self.info)


def sequence_of(path: str | os.PathLike) -> tuple[str, int]:
    """``("animation", frames)`` for an animated GIF, PNG, WebP or AVIF, ``("pages", pages)`` for a
    multi-page TIFF (a reduced-resolution copy is not a page), ``("", 0)`` for anything else (a
    still image, a file that is not an image), from one opening of the file."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a probe: reading the file says what is wrong with it, once
            with Image.open(path) as im:
                if im.format in _ANIMATIONS and getattr(im, "n_frames", 1) > 1:
                    return "animation", len(_shown(im))
                if im.format == "TIFF" and (n := _content_frames(im)) > 1:
                    return "pages", n
    except Exception:  # not an image (read_image says why, when it comes to it)
        pass
    return "", 0


def animation_frames(path: str | os.PathLike) -> int:
    """The number of frames of an animated GIF, PNG, WebP or AVIF; 0 for anything else."""
    kind, n = sequence_of(path)
    return n if kind == "animation" else 0


def _shown(im) -> range:
    """The frames an animation plays: an APNG's default image, for viewers that do not animate,
    is not one of them."""
    n = getattr(im, "n_frames", 1)
    return range(1, n) if im.format == "PNG" and im.info.get("default_image") else range(n)


def read_animation(path: str | os.PathLike) -> Animation:
    """Decode every frame of an animated GIF, PNG, WebP or AVIF (EXIF orientation applied to each); raises
    :class:`SisrError` with a one-line cause. All the frames together count against the pixel limit."""
    p = Path(path)
    with _decoding(p, "animation"), Image.open(p) as im:
        if im.format not in _ANIMATIONS or getattr(im, "n_frames", 1) < 2:
            raise SisrError(f"{p}: not an animated GIF, PNG, WebP or AVIF")
        n = len(_shown(im))
        w, h = im.size
        _check_pixel_limit(p, n * w * h, f"{n} frames of {w} x {h} are")
        info, orientation = _metadata(im)
        _warn_avif_depth(p, im)
        loop = im.info.get("loop", 0 if im.format == "AVIF" else None)  # AVIF's plays on, its count unread
        frames, durations = [], []
        for i in _shown(im):
            im.seek(i)
            im.load()
            durations.append(max(0, round(im.info.get("duration") or 0)))
            frames.append(_orient(np.asarray(im.convert("RGBA")), orientation))
    if all(f[:, :, 3].min() == 255 for f in frames):
        frames = [np.ascontiguousarray(f[:, :, :3]) for f in frames]
    return Animation(frames, durations, None if loop is None else int(loop), im.format, info)


def tiff_pages(path: str | os.PathLike) -> int:
    """The number of pages of a multi-page TIFF; 0 for anything else."""
    kind, n = sequence_of(path)
    return n if kind == "pages" else 0


def iter_pages(path: str | os.PathLike) -> Iterator[ImageData]:
    """Each page of a multi-page TIFF, as :func:`read_image` reads a TIFF of one (16 bits, alpha,
    metadata, orientation), decoded as it is asked for: a long scan is never in memory whole.
    Raises :class:`SisrError` with a one-line cause."""
    p = Path(path)
    with _decoding(p), Image.open(p) as im:
        if im.format != "TIFF":
            raise SisrError(f"{p}: not a TIFF")
        shown = 0
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            if int(im.tag_v2.get(254, 0)) & 1:  # a reduced-resolution copy
                continue
            shown += 1
            w, h = im.size  # Pillow checks the first page only, when the file opens
            _check_pixel_limit(p, w * h, f"page {shown} of {w} x {h} is")
            if not (_tiff_is_16bit_colour(im) and (data := _read_tiff16(p, im, i))):
                im.load()
                data = from_pil(im, f"{p} page {shown}")
            yield data


def read_pages(path: str | os.PathLike) -> list[ImageData]:
    """All the pages of a multi-page TIFF at once (see :func:`iter_pages`)."""
    return list(iter_pages(path))


def write_pages(path: str | os.PathLike, pages: Iterable[ImageData], *, overwrite: bool = True) -> Path:
    """Write pages (each with its own size, bits, alpha and metadata) as one multi-page TIFF,
    atomically; ``pages`` may be a generator, and if it raises, nothing is written."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise SisrError(f"{p}: exists (use --overwrite to replace it)")
    check_pages_target(p, 0)

    def laid_out():
        for data in pages:
            h, w = data.pixels.shape[:2]
            yield data, data.alpha is not None, _written_meta(data.info, "TIFF", w, h, p)

    try:
        with atomic_target(p) as tmp, open(tmp, "wb") as fh:
            _write_tiff_pages(fh, laid_out())
    except (OSError, ValueError) as e:
        raise SisrError(f"{p}: cannot write ({getattr(e, 'strerror', None) or _first_line(e)})") from None
    return p


def check_pages_target(path: Path, pages: int) -> None:
    """Refuse, before any work, to write a TIFF's pages in a format of one page."""
    if _format_for(path) != "TIFF":
        raise SisrError(f"{path}: {pages or 'several'} pages, and {path.suffix} holds one; write .tif")


def check_animation_target(path: Path, frames: int) -> None:
    """Refuse, before any work, to write an animation in a format of one frame."""
    if _format_for(path) not in _ANIMATIONS:
        raise SisrError(f"{path}: {frames} frames, and {path.suffix} holds one; write .gif, .webp or .png (APNG)")


def write_animation(
    path: str | os.PathLike,
    frames: Iterable[ImageData],
    durations: Sequence[int],
    loop: int | None = 0,
    *,
    overwrite: bool = True,
    quality: int | None = None,
) -> Path:
    """Write frames (all one size, as :class:`ImageData`, the first one's metadata carried) as an
    animated GIF, PNG, WebP or AVIF, atomically; ``durations`` in milliseconds, ``loop`` as
    :class:`Animation`'s. ``frames`` may be a generator (each is made 8-bit as it comes); if it
    raises, nothing is written. ``quality``: WebP's (lossless by default) or AVIF's."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise SisrError(f"{p}: exists (use --overwrite to replace it)")
    fmt = _format_for(p)
    check_animation_target(p, len(durations))
    check_quality(quality, p)
    arrays: list[np.ndarray] = []
    info: dict = {}
    for frame in frames:
        if not arrays:
            info = frame.info
            check_size(p, frame.pixels.shape[1], frame.pixels.shape[0])
        arrays.append(_frame_uint8(frame, frame.alpha is not None))
    if len(arrays) != len(durations):
        raise SisrError(f"{p}: {len(arrays)} frames but {len(durations)} durations")
    h, w = arrays[0].shape[:2]
    meta = _written_meta(info, fmt, w, h, p)
    try:
        with atomic_target(p) as tmp, open(tmp, "wb") as fh:
            if fmt == "GIF":
                _write_gif(fh, arrays, list(durations), loop, meta)
            else:
                _write_frames(fh, arrays, fmt, list(durations), loop, meta, quality)
    except (OSError, ValueError) as e:
        raise SisrError(f"{p}: cannot write ({getattr(e, 'strerror', None) or _first_line(e)})") from None
    return p


def _frame_uint8(data: ImageData, has_alpha: bool) -> np.ndarray:
    """``H x W x 3`` (or ``x 4`` with alpha) uint8 RGB of ``data``, for the formats of 8-bit frames."""
    rgb = to_uint8(data.rgb)
    if not has_alpha or data.alpha is None:
        return rgb
    return np.concatenate([rgb, to_uint8(data.alpha)[:, :, None]], axis=2)


_GIF_SAMPLE = 1 << 20  # pixels the shared palette is chosen from


def _gif_palette(arrays: list[np.ndarray], colours: int) -> np.ndarray:
    """At most ``colours`` RGB colours (``K x 3`` uint8) for all frames, chosen by median cut from
    an even sample of their opaque pixels. One palette, not one per frame, so that a still
    background keeps its colours from frame to frame instead of flickering."""
    total = sum(a.shape[0] * a.shape[1] for a in arrays)
    step = max(1, total // _GIF_SAMPLE)
    parts = []
    for a in arrays:
        px = a.reshape(-1, a.shape[2])[::step]
        parts.append(px[px[:, 3] >= 128, :3] if a.shape[2] == 4 else px)
    sample = np.concatenate(parts) if parts else np.zeros((0, 3), np.uint8)
    if len(sample) == 0:  # nothing opaque
        sample = np.zeros((1, 3), np.uint8)
    quantized = Image.fromarray(np.ascontiguousarray(sample[None])).quantize(colours, method=Image.Quantize.MEDIANCUT)
    used = np.unique(np.asarray(quantized))
    return np.asarray(quantized.getpalette(), np.uint8).reshape(-1, 3)[used]


def _nearest_colour(rgb: np.ndarray, palette: np.ndarray) -> np.ndarray:
    """The index of each pixel's nearest palette colour (Euclidean RGB), exactly: Pillow's own
    mapping looks colours up at reduced precision (about 0.7 levels more error on photos). Each
    colour is looked up once, so one colour always gets one index."""
    packed = (rgb[:, :, 0].astype(np.uint32) << 16) | (rgb[:, :, 1].astype(np.uint32) << 8) | rgb[:, :, 2]
    found, inverse = np.unique(packed.ravel(), return_inverse=True)
    c = np.stack([found >> 16, (found >> 8) & 255, found & 255], axis=1).astype(np.float32)
    p = palette.astype(np.float32)
    norms = (p * p).sum(axis=1)
    index = np.empty(len(found), np.uint8)
    for s in range(0, len(found), 1 << 16):  # |c - p|^2 less |c|^2, the same for every p; exact in float32
        index[s : s + (1 << 16)] = np.argmin(norms - 2 * c[s : s + (1 << 16)] @ p.T, axis=1)
    return index[inverse].reshape(rgb.shape[:2])


def _write_gif(fh, arrays: list[np.ndarray], durations: list[int] | None, loop: int | None, meta: dict) -> None:
    """GIF: 256 colours, one palette shared by all frames, each pixel its nearest colour. Not
    dithered: error diffusion carries a change in one place across the rest of the frame, so a
    still background would shimmer (benchmarks/gif_palette.py). Transparency is one palette entry
    (alpha under one half); an animation with it replaces each frame whole."""
    alpha = arrays[0].shape[2] == 4
    colours = _gif_palette(arrays, 255 if alpha else 256)
    transparent = len(colours)  # the entry after the colours
    palette = np.zeros((256, 3), np.uint8)
    palette[: len(colours)] = colours
    images = []
    for a in arrays:
        index = _nearest_colour(a, colours)
        if alpha:
            index[a[:, :, 3] < 128] = transparent
        q = Image.fromarray(index, "P")
        q.putpalette(palette.ravel().tolist())
        images.append(q)
    extra: dict = {"optimize": False}
    if alpha:
        extra.update(transparency=transparent, disposal=2)
    if meta.get("comment"):
        extra["comment"] = meta["comment"]
    if len(images) > 1:
        extra.update(save_all=True, append_images=images[1:], duration=durations)
        if loop is not None:
            extra["loop"] = loop
    images[0].save(fh, format="GIF", **extra)


def _write_frames(
    fh, arrays: list[np.ndarray], fmt: str, durations: list[int], loop: int | None, meta: dict, quality: int | None
) -> None:
    """An animated PNG (APNG), WebP or AVIF of full 8-bit frames, with the metadata the format holds."""
    images = [Image.fromarray(a) for a in arrays]
    extra = _save_params(meta, fmt, quality)
    extra.update(save_all=True, append_images=images[1:], duration=durations, loop=loop or 0)
    if fmt == "PNG":
        from PIL import PngImagePlugin

        # each frame is whole: it replaces the last, where unchanged parts are left in place
        extra.update(disposal=PngImagePlugin.Disposal.OP_NONE, blend=PngImagePlugin.Blend.OP_SOURCE)
    images[0].save(fh, format=fmt, **extra)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:

    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF)


def _write_png16(fh, data: ImageData, has_alpha: bool, meta: dict) -> None:

    planes = [to_uint16(data.pixels)]
    if has_alpha:
        planes.append(to_uint16(data.alpha)[:, :, None])
    arr = np.concatenate(planes, axis=2)
    h, w, c = arr.shape
    buf = io.BytesIO()
    import png  # see _read_png16

    writer = png.Writer(w, h, bitdepth=16, greyscale=c in (1, 2), alpha=has_alpha, compression=6)
    writer.write(buf, arr.reshape(h, w * c))
    raw = buf.getvalue()
    extra = _png_chunk(b"cICP", meta["cicp"]) if meta.get("cicp") else b""
    if meta.get("icc_profile"):
        extra += _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(meta["icc_profile"]))
    if meta.get("exif"):
        exif = meta["exif"]
        extra += _png_chunk(b"eXIf", exif[6:] if exif.startswith(b"Exif\x00\x00") else exif)
    texts = [*(meta.get("text") or {}).items(), *([(_PNG_XMP_KEY, meta["xmp"])] if meta.get("xmp") else [])]
    for key, value in texts:  # as iTXt (UTF-8): keyword, compressed or not, language, translated keyword
        text = value if isinstance(value, bytes) else value.encode("utf-8")
        packed = len(text) > 1024
        lang, tkey = (getattr(value, a, None) or "" for a in ("lang", "tkey"))
        head = key.encode("latin-1", "replace")[:79] + b"\x00" + bytes([packed, 0])
        body = lang.encode("ascii", "replace") + b"\x00" + tkey.encode("utf-8") + b"\x00"
        extra += _png_chunk(b"iTXt", head + body + (zlib.compress(text) if packed else text))
    if meta.get("dpi"):
        extra += _png_chunk(b"pHYs", struct.pack(">IIB", *(round(d / 0.0254) for d in meta["dpi"]), 1))  # per metre
    end_ihdr = 8 + 25  # signature, then the IHDR chunk (4 length + 4 type + 13 data + 4 crc)
    fh.write(raw[:end_ihdr] + extra + raw[end_ihdr:])


def _write_tiff(fh, data: ImageData, has_alpha: bool, meta: dict) -> None:
    _write_tiff_pages(fh, [(data, has_alpha, meta)])


def _write_tiff_pages(fh, pages: Iterable[tuple[ImageData, bool, dict]]) -> None:
    """A TIFF of one page or several (each ``(data, has_alpha, meta)``, made as it comes): each
    directory, then its strips, and the previous directory pointing at it."""
    fh.write(b"II*\x00" + bytes(4))  # the first directory's offset follows
    pointer, total = 4, 0  # where the next directory's offset goes; the compressed bytes so far
    for data, has_alpha, meta in pages:
        ifd, strips = _tiff_page(data, has_alpha, meta)
        total += sum(len(b) for b in strips)
        if total > 0xFFFF0000:  # classic TIFF's 32-bit offsets
            raise SisrError("result too large for a TIFF file (over 4 GB compressed): write PNG instead")
        pos = fh.tell()
        if pos & 1:  # directories start on a word boundary
            fh.write(b"\x00")
            pos += 1
        fh.seek(pointer)
        fh.write(struct.pack("<I", pos))
        fh.seek(pos)
        raw = ifd.tobytes(pos)
        fh.write(raw)
        for b in strips:
            fh.write(b)
        pointer = pos + 2 + 12 * struct.unpack("<H", raw[:2])[0]


def _tiff_page(data: ImageData, has_alpha: bool, meta: dict):
    """One page's directory and its strips: 8- or 16-bit gray or RGB, with or without alpha,
    deflate-compressed with horizontal prediction, with the ICC profile, the picture's descriptive
    tags and its Exif and GPS directories. Pillow lays out the directory; it cannot encode 16-bit
    colour, and with compression (through libtiff) it cannot write the Exif directory."""
    from PIL import TiffImagePlugin

    convert, dtype, bits = (to_uint16, "<u2", 16) if data.bits == 16 else (to_uint8, "u1", 8)
    planes = [convert(data.pixels)]
    if has_alpha:
        planes.append(convert(data.alpha)[:, :, None])
    arr = np.concatenate(planes, axis=2).astype(dtype)
    h, w, c = arr.shape
    rows = max(1, (1 << 20) // (w * c * arr.itemsize))  # strips of about 1 MiB
    strips = []
    for y in range(0, h, rows):  # a strip at a time: no second full-size copy
        diff = arr[y : y + rows].copy()
        diff[:, 1:] -= arr[y : y + rows, :-1]  # TIFF predictor 2, per sample, modulo 2^bits
        strips.append(zlib.compress(diff.tobytes(), 6))
    tags = Image.Exif()
    if meta.get("exif"):
        tags.load(meta["exif"])
    tags = _descriptive(tags)  # a TIFF's directory holds its own layout: only these come from the EXIF
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    ifd.update(tags)
    for pointer in (_EXIF_IFD, _GPS_IFD):
        if sub := tags.get_ifd(pointer):
            ifd[pointer] = dict(sub)
    photometric = 2 if data.pixels.shape[2] == 3 else 1  # RGB, or BlackIsZero (gray)
    ifd[256], ifd[257], ifd[258], ifd[259], ifd[262] = w, h, (bits,) * c, 8, photometric  # deflate
    ifd[273] = tuple(int(o) for o in np.cumsum([0] + [len(b) for b in strips[:-1]]))  # after the directory
    ifd[277], ifd[278], ifd[279], ifd[284], ifd[317] = c, rows, tuple(len(b) for b in strips), 1, 2
    ifd[339] = (1,) * c  # unsigned integers
    if has_alpha:
        ifd[338] = 2  # unassociated alpha
    if meta.get("icc_profile"):
        ifd[34675] = meta["icc_profile"]
    if meta.get("xmp"):
        ifd[_XMP_TAG] = meta["xmp"]
    if meta.get("iptc"):
        ifd[_IPTC_TAG] = meta["iptc"]  # UNDEFINED, as exiftool writes it
    if meta.get("dpi") and 0x011A not in ifd:  # a resolution the EXIF does not give
        ifd[0x011A], ifd[0x011B], ifd[0x0128] = *meta["dpi"], 2  # X, Y per inch
    return ifd, strips


def _as_float(img: np.ndarray) -> np.ndarray:
    arr = to_float(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return arr


_LOSSY = ("JPEG", "WEBP", "AVIF")


def output_format(path: str | os.PathLike) -> str | None:
    """The format (Pillow's name) a result named ``path`` is written in, by its suffix; None for a
    suffix sisr writes no format for."""
    return _OUTPUT_FORMATS.get(Path(path).suffix.lower())


def _format_for(p: Path) -> str:
    if (fmt := output_format(p)) is None:
        close = closest(p.suffix, _OUTPUT_FORMATS) if p.suffix else None
        hint = f"did you mean '{close}'? " if close else ""
        raise SisrError(f"{p}: unknown output format '{p.suffix}' ({hint}use one of {', '.join(_OUTPUT_FORMATS)})")
    return fmt
