"""A fractional scale two ways, on held-out photos: the model's next scale up, then a resize down
(what `sisr upscale --scale 2.5` does), against its next scale down, then a resize up.

    OMP_NUM_THREADS=1 python benchmarks/fractional_scale.py --data skimage \
        --models rrgan-x4,rrgan-x234 --scales 2.5,3.5 --markdown benchmarks/results/fractional_scale.md

Each HR image is cropped so that the scale divides its sides (multiples of 5 for 2.5), shrunk by the scale with MATLAB
bicubic (antialiased) and rounded to 8 bits; each way enlarges that LR back to the HR's size and is
scored as `sisr bench` scores (8-bit, Y, a border of the scale rounded up cropped). For held-out images only:
no shipped model trained on `skimage`.
"""

from __future__ import annotations

import argparse
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

from sisr.api import resize_data, upscale_data
from sisr.data import dataset_images
from sisr.infer import load_model
from sisr.io import ImageData, read_image, to_uint8
from sisr.metrics import psnr, quantize
from sisr.resize import imresize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="skimage")
    ap.add_argument("--scales", default="2.5,3.5")
    ap.add_argument("--models", default="rrgan-x4,rrgan-x234")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    scales = [float(s) for s in args.scales.split(",")]
    photos = [read_image(f).rgb for f in dataset_images(args.data)]
    lines = [
        f"## Y-PSNR on `{args.data}` ({len(photos)} images): a fractional scale from the model's scale above "
        "(sisr's way) and from its scale below",
        "",
        "| model | scale | from above | from below | above - below |",
        "|---|---:|---:|---:|---:|",
    ]
    for name in args.models.split(","):
        for s in scales:
            # sides that the scale divides (a multiple of 7 for 3.5 = 7/2), so that the LR's pixel grid
            # is the HR's exactly: a rounded LR size shifts the grids, and blur then scores better
            p = Fraction(str(s)).numerator
            images = [hr[: hr.shape[0] // p * p, : hr.shape[1] // p * p] for hr in photos]
            ways = {}
            for way, pick in (("above", min), ("below", max)):
                model = load_model(name)
                picks = [k for k in model.scales if (k > s if way == "above" else k < s)]
                if not picks:
                    continue
                model.scale = pick(picks)
                scores = []
                for hr in images:
                    lr = to_uint8(np.clip(imresize(hr, 1 / s), 0, 1)) / 255.0
                    data = ImageData(lr.astype(np.float32))
                    out = resize_data(upscale_data(data, model), (hr.shape[1], hr.shape[0])).pixels
                    scores.append(psnr(quantize(out), hr, crop=math.ceil(s)))
                ways[way] = float(np.mean(scores))
            above, below = ways.get("above"), ways.get("below")
            cells = [f"{v:.2f}" if v is not None else "-" for v in (above, below)]
            diff = f"{above - below:+.2f}" if above is not None and below is not None else "-"
            lines.append(f"| `{name}` | x{s:g} | {cells[0]} | {cells[1]} | {diff} |")
            print(lines[-1], flush=True)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
