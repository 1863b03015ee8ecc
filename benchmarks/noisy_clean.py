"""Y-PSNR on clean bicubic LR with Gaussian noise added, the case of the real-photo figure's bottom row.

    python benchmarks/noisy_clean.py --data BSD200:val --sigma 10 --models bicubic,rrgan-x4,rrgan-real-x4 \
        --json benchmarks/results/real/noisy_clean_bsd200val_x4_s10.json

Each image's clean pair is the benchmark's (``sisr.data.sr_pair``, protocol rgb: MATLAB bicubic in
8-bit RGB); the LR is given Gaussian noise of ``--sigma`` 8-bit levels (seeded by the image's index)
and rounded again; each model enlarges that LR, and the result is scored as `sisr bench` scores it
(8-bit, Y, a border of ``scale`` pixels cropped). `sisr bench --degradation real` draws noise only
together with blur, resizes and JPEG; this isolates the noise. For held-out images only: it is used
to compare models, never to tune one.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from sisr.api import upscale
from sisr.data import dataset_images, sr_pair
from sisr.io import to_uint8
from sisr.metrics import psnr, quantize


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
        hr, lr = sr_pair(f, args.scale, "rgb")
        noise = np.random.default_rng(i).normal(0, args.sigma / 255.0, lr.shape)
        lr = to_uint8(lr / 255.0 + noise)
        for m in models:
            scores[m].append(psnr(quantize(upscale(lr, m, scale=args.scale)), hr, crop=args.scale))
    rows = [{"model": m, "psnr_y": float(np.mean(v)), "images": [round(x, 4) for x in v]} for m, v in scores.items()]
    for r in rows:
        print(f"{r['model']}: {r['psnr_y']:.2f} dB ({args.data}, x{args.scale}, noise sigma {args.sigma:g})")
    if args.json:
        report = {"data": args.data, "scale": args.scale, "sigma": args.sigma, "files": [f.name for f in files]}
        Path(args.json).write_text(json.dumps(report | {"results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
