"""Y-PSNR on clean bicubic LR with Gaussian noise added, the case of the real-photo figure's bottom row.

    python benchmarks/noisy_clean.py --data BSD200:val --sigma 10 --models bicubic,rrgan-x4,rrgan-real-x4 \
        --json benchmarks/results/real/noisy_clean_bsd200val_x4_s10.json

Each HR image (cropped to a multiple of the scale) is shrunk with MATLAB bicubic in RGB, rounded to
8 bits, given Gaussian noise of ``--sigma`` 8-bit levels (seeded by the image's index) and rounded
again; each model enlarges that LR, and the result is scored on Y with a border of ``scale`` pixels
cropped. `sisr bench --degradation real` draws noise only together with blur, resizes and JPEG; this
isolates the noise. For held-out images only: it is used to compare models, never to tune one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sisr.api import upscale
from sisr.data import dataset_images
from sisr.io import read_rgb, to_uint8
from sisr.metrics import psnr
from sisr.resize import imresize, modcrop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="BSD200:val")
    ap.add_argument("--scale", type=int, default=4)
    ap.add_argument("--sigma", type=float, default=10.0)
    ap.add_argument("--models", default="bicubic,rrgan-x4,rrgan-real-x4")
    ap.add_argument("--json")
    args = ap.parse_args()
    models = args.models.split(",")
    scores: dict[str, list[float]] = {m: [] for m in models}
    files = dataset_images(args.data)
    for i, f in enumerate(files):
        hr = modcrop(read_rgb(f), args.scale) / 255.0
        lr = to_uint8(imresize(hr, 1 / args.scale))
        noise = np.random.default_rng(i).normal(0, args.sigma / 255.0, lr.shape)
        lr = to_uint8(lr / 255.0 + noise)
        for m in models:
            scores[m].append(psnr(upscale(lr, m, scale=args.scale), hr, crop=args.scale))
    rows = [{"model": m, "psnr_y": float(np.mean(v)), "images": [round(x, 4) for x in v]} for m, v in scores.items()]
    for r in rows:
        print(f"{r['model']}: {r['psnr_y']:.2f} dB ({args.data}, x{args.scale}, noise sigma {args.sigma:g})")
    if args.json:
        report = {"data": args.data, "scale": args.scale, "sigma": args.sigma, "files": [f.name for f in files]}
        Path(args.json).write_text(json.dumps(report | {"results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
