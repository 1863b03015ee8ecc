"""ICC profiles for colour that a file signals by code points (ITU-T H.273 "CICP", as in a HEIF's
or an AVIF's ``nclx`` colour box) instead of by a profile.

A result is written with an ICC profile, which every output format and viewer understands; a wide-
gamut photo (Display P3, BT.2020) whose result carried nothing would be shown as sRGB, its colours
dulled. The profile is ICC v4 of the matrix/TRC kind (as Apple's Display P3 profile is): the
primaries adapted to the D50 connection space by Bradford, and a parametric tone curve.
"""

from __future__ import annotations

import struct

import numpy as np

# H.273 colour primaries: (name, red xy, green xy, blue xy, white xy).
_D65 = (0.3127, 0.3290)
PRIMARIES = {
    1: ("BT.709", (0.640, 0.330), (0.300, 0.600), (0.150, 0.060), _D65),
    4: ("BT.470 M", (0.670, 0.330), (0.210, 0.710), (0.140, 0.080), (0.310, 0.316)),
    5: ("BT.601 625", (0.640, 0.330), (0.290, 0.600), (0.150, 0.060), _D65),
    6: ("BT.601 525", (0.630, 0.340), (0.310, 0.595), (0.155, 0.070), _D65),
    7: ("SMPTE 240M", (0.630, 0.340), (0.310, 0.595), (0.155, 0.070), _D65),
    9: ("BT.2020", (0.708, 0.292), (0.170, 0.797), (0.131, 0.046), _D65),
    11: ("DCI-P3", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), (0.314, 0.351)),
    12: ("Display P3", (0.680, 0.320), (0.265, 0.690), (0.150, 0.060), _D65),
    22: ("EBU 3213", (0.630, 0.340), (0.295, 0.605), (0.155, 0.077), _D65),
}
# H.273 transfer characteristics that an SDR tone curve can state, as ICC parametric curves
# (function type, parameters), encoded value -> linear light. BT.709's (also BT.601's and
# BT.2020's) is the inverse of its camera curve, as browsers read it.
_SRGB = (3, (2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045))
_BT709 = (3, (1 / 0.45, 1 / 1.099, 0.099 / 1.099, 1 / 4.5, 0.081))
TRANSFERS = {
    1: ("BT.709", _BT709),
    4: ("gamma 2.2", (0, (2.2,))),
    5: ("gamma 2.8", (0, (2.8,))),
    6: ("BT.601", _BT709),
    8: ("linear", (0, (1.0,))),
    13: ("sRGB", _SRGB),
    14: ("BT.2020", _BT709),
    15: ("BT.2020", _BT709),
}
HDR_TRANSFERS = {16: "PQ", 18: "HLG"}
UNSPECIFIED = 2

_D50 = np.array([0.9642, 1.0, 0.8249])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])


def is_srgb(primaries: int, transfer: int) -> bool:
    """Whether the code points say what an untagged image is taken to be anyway: sRGB."""
    return primaries in (1, UNSPECIFIED) and transfer in (13, UNSPECIFIED)


def profile_from_cicp(primaries: int, transfer: int, gray: bool = False) -> bytes:
    """An ICC v4 display profile for H.273 ``primaries`` and ``transfer`` (unspecified: BT.709's
    primaries, sRGB's curve); a gray one (its tone curve alone) for ``gray``. Raises ``KeyError``
    for code points it cannot state (see :data:`PRIMARIES`, :data:`TRANSFERS`)."""
    prim = PRIMARIES[1 if primaries == UNSPECIFIED else primaries]
    tname, (ftype, params) = TRANSFERS[13 if transfer == UNSPECIFIED else transfer]
    curve = _para(ftype, params)
    adapt = _adaptation(_xyz(prim[4]))
    desc = f"{tname} gray" if gray else f"{prim[0]}, {tname} curve"
    tags: list[tuple[bytes, bytes]] = [(b"desc", _mluc(desc)), (b"cprt", _mluc("No copyright, use freely"))]
    tags += [(b"wtpt", _xyz_tag(_D50)), (b"chad", _sf32(adapt))]
    if gray:
        tags.append((b"kTRC", curve))
    else:
        colorants = adapt @ _rgb_to_xyz(prim)
        tags += [(sig, _xyz_tag(colorants[:, i])) for i, sig in enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))]
        tags += [(b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    return _assemble(tags, b"GRAY" if gray else b"RGB ")


def _xyz(xy: tuple[float, float]) -> np.ndarray:
    x, y = xy
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _rgb_to_xyz(prim) -> np.ndarray:
    """Linear RGB -> XYZ for these primaries, white mapping to the white point (Y = 1)."""
    m = np.stack([_xyz(xy) for xy in prim[1:4]], axis=1)
    return m * np.linalg.solve(m, _xyz(prim[4]))


def _adaptation(white: np.ndarray) -> np.ndarray:
    """Bradford's adaptation of ``white`` to D50, as ICC v4's ``chad`` tag records it."""
    gain = (_BRADFORD @ _D50) / (_BRADFORD @ white)
    return np.linalg.inv(_BRADFORD) @ np.diag(gain) @ _BRADFORD


def _s15(values) -> bytes:
    return b"".join(struct.pack(">i", round(float(v) * 65536)) for v in values)


def _xyz_tag(xyz) -> bytes:
    return b"XYZ " + bytes(4) + _s15(xyz)


def _sf32(m: np.ndarray) -> bytes:
    return b"sf32" + bytes(4) + _s15(m.reshape(-1))


def _para(ftype: int, params) -> bytes:
    return b"para" + bytes(4) + struct.pack(">HH", ftype, 0) + _s15(params)


def _mluc(text: str) -> bytes:
    s = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(s), 28) + s


def _assemble(tags: list[tuple[bytes, bytes]], space: bytes) -> bytes:
    body, table, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for sig, data in tags:
        data += bytes(-len(data) % 4)  # every tag starts on a 4-byte boundary
        table += struct.pack(">4sII", sig, offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = struct.pack(">I4sI4s4s4s6H4sI", size, b"", 0x04300000, b"mntr", space, b"XYZ ", 2000, 1, 1, 0, 0, 0,
                         b"acsp", 0)  # fmt: skip
    header += bytes(64 - len(header)) + struct.pack(">I", 0) + _s15(_D50) + bytes(128 - 80)
    return header + struct.pack(">I", len(tags)) + table + body
