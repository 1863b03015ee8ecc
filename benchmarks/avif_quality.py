"""AVIF output: file size and fidelity at several qualities, against sisr's JPEG (quality 95,
4:4:4) and lossless WebP and PNG, on model results. This is where sisr's AVIF default (quality 90,
4:4:4 chroma) was chosen.

Results: ``rrgan-x4`` at x2 on 256x256 crops of the held-out ``skimage`` colour photos (no test set
is used). Fidelity: PSNR (RGB) of the decoded file against the 8-bit result; size in bits per
pixel; encode time as a multiple of PNG's, measured in the same run, one thread.
``python benchmarks/avif_quality.py [--out benchmarks/results/avif_quality.md]``
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import report  # noqa: E402

from sisr.api import load_upscaler  # noqa: E402
from sisr.data import resolve_dataset  # noqa: E402
from sisr.io import read_rgb, to_uint8  # noqa: E402

WAYS = {
    "PNG": ("PNG", {}),
    "WebP lossless (sisr's WebP default)": ("WEBP", {"lossless": True}),
    "JPEG 95, 4:4:4 (sisr's JPEG default)": ("JPEG", {"quality": 95, "subsampling": 0}),
    "AVIF 95, 4:4:4": ("AVIF", {"quality": 95, "subsampling": "4:4:4"}),
    "AVIF 90, 4:4:4 (sisr's AVIF default)": ("AVIF", {"quality": 90, "subsampling": "4:4:4"}),
    "AVIF 90, 4:2:0": ("AVIF", {"quality": 90, "subsampling": "4:2:0"}),
    "AVIF 80, 4:4:4": ("AVIF", {"quality": 80, "subsampling": "4:4:4"}),
    "AVIF 70, 4:4:4": ("AVIF", {"quality": 70, "subsampling": "4:4:4"}),
}


def encode(img: np.ndarray, fmt: str, params: dict) -> tuple[bytes, float]:
    extra = {"max_threads": 1} if fmt == "AVIF" else {}
    buf = io.BytesIO()
    t = time.perf_counter()
    Image.fromarray(img).save(buf, fmt, **params, **extra)
    return buf.getvalue(), time.perf_counter() - t


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the table (markdown) here too")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    up = load_upscaler("rrgan-x4", 2)
    rows: dict[str, list[tuple[float, float, float]]] = {name: [] for name in WAYS}
    used = 0
    for f in sorted((resolve_dataset("skimage") / "HR").iterdir()):
        photo = read_rgb(f)
        if photo.shape[0] < 256 or photo.shape[1] < 256 or np.ptp(photo.astype(int), axis=2).max() == 0:
            continue  # too small, or gray
        result = to_uint8(up(photo[:256, :256]))
        used += 1
        _, png_time = encode(result, "PNG", {})
        for name, (fmt, params) in WAYS.items():
            data, seconds = encode(result, fmt, params)
            back = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
            bpp = 8 * len(data) / (result.shape[0] * result.shape[1])
            rows[name].append((bpp, min(psnr(back, result), 99.0), seconds / png_time))
    lines = [
        f"Encoding `rrgan-x4` x2 results (512x512) of {used} held-out `skimage` colour photos.",
        "PSNR (RGB) of the decoded file against the result (99: lossless); bits per pixel; encode",
        "time as a multiple of PNG's (same run, one thread). Means over photos.",
        "",
        "| format | bits per pixel | PSNR, dB | encode time, x PNG |",
        "|---|---:|---:|---:|",
    ]
    for name, vals in rows.items():
        bpp, db, t = np.mean(vals, axis=0)
        lines.append(f"| {name} | {bpp:.2f} | {db:.2f} | {t:.1f} |")
    report(lines, args.out)


if __name__ == "__main__":
    main()
