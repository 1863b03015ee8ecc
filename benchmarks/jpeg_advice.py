"""Below which JPEG quality a clean-trained model loses to the real-photo one, on held-out photos.

    OMP_NUM_THREADS=1 python benchmarks/jpeg_advice.py --data skimage \
        --json benchmarks/results/jpeg_advice.json --markdown benchmarks/results/jpeg_advice.md

Each image's clean pair is the benchmark's (``sisr.data.sr_pair``, protocol rgb: MATLAB bicubic in
8-bit RGB); the LR is saved as a JPEG at each quality (Pillow, IJG tables, 4:2:0 chroma, as most
software writes) and read back; each model enlarges it and is scored as `sisr bench` scores (8-bit,
Y, a border of ``scale`` pixels cropped). The quality at which ``sisr upscale`` advises the
real-photo model (``sisr.api.JPEG_ADVICE_BELOW``) was read from this table on the held-out
``skimage`` photos, which no shipped model trained on.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image

from sisr.api import upscale
from sisr.data import dataset_images, sr_pair
from sisr.io import jpeg_quality
from sisr.metrics import psnr, quantize

QUALITIES = (20, 30, 40, 50, 60, 70, 75, 80, 85, 90, 95)


def jpeg(lr: np.ndarray, quality: int) -> tuple[np.ndarray, int | None]:
    """``lr`` through a JPEG at ``quality``, and the quality :func:`sisr.io.jpeg_quality` reads back."""
    buf = io.BytesIO()
    Image.fromarray(lr[:, :, 0] if lr.shape[2] == 1 else lr).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im).reshape(lr.shape), jpeg_quality(im)  # gray stays gray


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="skimage")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--models", default="rrgan-x4,rrgan-real-x4")
    ap.add_argument("--json")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    models = args.models.split(",")
    files = dataset_images(args.data)
    pairs = [sr_pair(f, args.scale, "rgb") for f in files]
    rows = []
    for q in QUALITIES:
        row: dict = {"quality": q, "read_back": set()}
        for m in models:
            scores = []
            for hr, lr in pairs:
                degraded, read = jpeg(lr, q)
                row["read_back"].add(read)
                scores.append(psnr(quantize(upscale(degraded, m, scale=args.scale)), hr, crop=args.scale))
            row[m] = float(np.mean(scores))
        row["read_back"] = sorted(row["read_back"])
        rows.append(row)
        print(f"quality {q}: " + ", ".join(f"{m} {row[m]:.2f}" for m in models), flush=True)
    if args.json:
        report = {"data": args.data, "scale": args.scale, "files": [f.name for f in files], "rows": rows}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    if args.markdown:
        head = ["JPEG quality of the LR", "read back as", *[f"`{m}` (dB)" for m in models]]
        if len(models) == 2:
            head.append(f"`{models[1]}` - `{models[0]}`")
        lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
        for r in rows:
            cells = [str(r["quality"]), ", ".join(map(str, r["read_back"])), *[f"{r[m]:.2f}" for m in models]]
            if len(models) == 2:
                cells.append(f"{r[models[1]] - r[models[0]]:+.2f}")
            lines.append("| " + " | ".join(cells) + " |")
        title = f"Y-PSNR x{args.scale} on `{args.data}` ({len(files)} images), LR saved as JPEG"
        Path(args.markdown).write_text(f"## {title}\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
