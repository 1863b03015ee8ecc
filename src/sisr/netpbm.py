"""Netpbm images that Pillow reads short: colour PPM above 8 bits, which it reduces to 8 (raw
converters write them: ``dcraw -4``/``-6``), and PAM (``P7``: gray or RGB, with or without alpha,
8 or 16 bits) and colour PFM (``PF``: 32-bit floats, rows from the bottom up), which it cannot
open. Pillow keeps 16-bit PGM, reads 8-bit PPM well, and reads gray PFM (``Pf``)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sisr.errors import SisrError

HEADER_MAX = 4096  # a header longer than this (comments and all) is not one a writer made
_CHANNELS_OF = {  # a PAM's TUPLTYPE: the channels it has
    "BLACKANDWHITE": 1,
    "GRAYSCALE": 1,
    "RGB": 3,
    "BLACKANDWHITE_ALPHA": 2,
    "GRAYSCALE_ALPHA": 2,
    "RGB_ALPHA": 4,
}


@dataclass(frozen=True)
class Header:
    magic: bytes  # b"P3" (plain PPM), b"P6" (PPM), b"P7" (PAM) or b"PF" (colour PFM)
    width: int
    height: int
    channels: int  # 1 gray, 2 gray + alpha, 3 RGB, 4 RGB + alpha
    maxval: int  # the white level: samples run 0..maxval (a PFM's floats: 1, nominally)
    offset: int  # where the samples start
    floats: str = ""  # a PFM's sample type, "<f4" or ">f4" by its scale's sign; "" for integers


def read_own(head: bytes) -> bool:
    """Whether a file starting with ``head`` (its first bytes) is one that sisr reads here: a PAM, or
    a PPM whose samples go above 8 bits (decided from its header, which ``head`` must hold)."""
    if head[:2] in (b"P7", b"PF"):
        return True
    if head[:2] not in (b"P3", b"P6"):
        return False
    try:
        return header(head).maxval > 255
    except SisrError:
        return False  # Pillow says what is wrong with it


def header(data: bytes) -> Header:
    """Parse the header at the start of ``data``; a malformed one raises SisrError."""
    magic = data[:2]
    if magic == b"P7":
        return _pam_header(data)
    if magic == b"PF":
        return _pfm_header(data)
    if magic not in (b"P3", b"P6"):
        raise SisrError("not a PPM, PAM or PFM image")
    fields, pos = [], 2
    while len(fields) < 3:
        pos = _skip_blanks(data, pos)
        end = pos
        while end < len(data) and data[end : end + 1].isdigit():
            end += 1
        if end == pos:
            raise SisrError("a malformed PPM header")
        fields.append(int(data[pos:end]))
        pos = end
    if pos >= len(data) or not data[pos : pos + 1].isspace():
        raise SisrError("a malformed PPM header")
    width, height, maxval = fields
    return _checked(Header(magic, width, height, 3, maxval, pos + 1))


def _skip_blanks(data: bytes, pos: int) -> int:
    """The position of the next header token: blanks and ``#`` comments (to the line's end) skipped."""
    while pos < len(data):
        c = data[pos : pos + 1]
        if c == b"#":
            end = data.find(b"\n", pos)
            pos = len(data) if end < 0 else end + 1
        elif c.isspace():
            pos += 1
        else:
            break
    return pos


def _pam_header(data: bytes) -> Header:
    end = data.find(b"ENDHDR\n")
    if end < 0:
        raise SisrError("a PAM header without ENDHDR")
    fields: dict[str, str] = {}
    for line in data[2:end].decode("ascii", "replace").splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            fields[words[0].upper()] = " ".join(words[1:])
    try:
        width, height, depth, maxval = (int(fields[k]) for k in ("WIDTH", "HEIGHT", "DEPTH", "MAXVAL"))
    except (KeyError, ValueError):
        raise SisrError("a PAM header without a numeric WIDTH, HEIGHT, DEPTH and MAXVAL") from None
    kind = fields.get("TUPLTYPE", "")
    if _CHANNELS_OF.get(kind, depth) != depth or not 1 <= depth <= 4:
        raise SisrError(f"a PAM of {depth} channels ({kind or 'no TUPLTYPE'}); sisr reads gray or RGB, with alpha")
    return _checked(Header(b"P7", width, height, depth, maxval, end + len(b"ENDHDR\n")))


def _pfm_header(data: bytes) -> Header:
    """``PF``, width, height and the scale, whose sign gives the byte order (negative: little-endian)."""
    fields, pos = [], 2
    for _ in range(3):
        pos = end = _skip_blanks(data, pos)
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    try:
        width, height, scale = int(fields[0]), int(fields[1]), float(fields[2])
    except ValueError:
        raise SisrError("a malformed PFM header") from None
    if pos >= len(data) or not data[pos : pos + 1].isspace() or scale == 0 or not math.isfinite(scale):
        raise SisrError("a malformed PFM header")
    return _checked(Header(b"PF", width, height, 3, 1, pos + 1, "<f4" if scale < 0 else ">f4"))


def _checked(h: Header) -> Header:
    if h.width < 1 or h.height < 1:
        raise SisrError(f"a {h.width} x {h.height} image")
    if not 1 <= h.maxval <= 65535:
        raise SisrError(f"a maximum sample value of {h.maxval} (netpbm allows 1 to 65535)")
    return h


def decode(data: bytes) -> tuple[np.ndarray, Header]:
    """The samples of the image in ``data`` as ``H x W x C`` float32 in [0, 1] (a PFM's as stored),
    and its header."""
    h = header(data)
    count = h.width * h.height * h.channels
    if h.floats:  # as stored, not scaled: the caller says what lies outside 0-1
        if len(data) - h.offset < count * 4:
            raise SisrError(f"the file is truncated ({(len(data) - h.offset) // 4} of {count} samples)")
        arr = np.frombuffer(data, h.floats, count, h.offset).astype(np.float32)
        if not np.isfinite(arr).all():
            raise SisrError("samples that are not finite (NaN or infinity)")
        return np.ascontiguousarray(arr.reshape(h.height, h.width, h.channels)[::-1]), h  # rows bottom-up
    if h.magic == b"P3":  # samples as decimal text, which holds no comments
        try:  # parsed in C: a list of tokens would take tens of bytes a sample
            arr = np.fromstring(data[_skip_blanks(data, h.offset) :], dtype=np.int64, sep=" ")
        except ValueError:
            raise SisrError("samples that are not whole numbers") from None
        if arr.size < count:
            raise SisrError(f"the file is truncated ({arr.size} of {count} samples)")
        arr = arr[:count]
    else:
        dtype = np.dtype(">u2" if h.maxval > 255 else "u1")
        if len(data) - h.offset < count * dtype.itemsize:
            raise SisrError(f"the file is truncated ({(len(data) - h.offset) // dtype.itemsize} of {count} samples)")
        arr = np.frombuffer(data, dtype, count, h.offset)
    if int(arr.max(initial=0)) > h.maxval or int(arr.min(initial=0)) < 0:
        raise SisrError(f"samples above the header's maximum of {h.maxval}")
    pixels = (arr.astype(np.float32) / np.float32(h.maxval)).reshape(h.height, h.width, h.channels)
    return pixels, h
