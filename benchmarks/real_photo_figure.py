"""Figure: a real-photo defect (JPEG at quality 50, or Gaussian noise of sigma 10) enlarged x4 by each model.

    python benchmarks/real_photo_figure.py --models bicubic,rrgan-x4,rrgan-gan-x4 -o assets/real_photo.png

The input is scikit-image's coffee photo (public domain) shrunk by 4 with MATLAB bicubic, then
saved as JPEG quality 50 (top row) or given Gaussian noise of sigma 10 in 8-bit units (bottom
row). Each row is made with ``sisr compare --lr`` on that input, so the panels are what
``sisr upscale`` gives.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

from sisr.compare import compare_figure
from sisr.io import to_uint8, write_image
from sisr.resize import imresize


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="bicubic,rrgan-x4,rrgan-gan-x4")
    ap.add_argument("--crop", default="180,120,120,90", help="X,Y,W,H in output pixels")
    ap.add_argument("-o", "--output", default="assets/real_photo.png")
    args = ap.parse_args()
    small = to_uint8(imresize(data.coffee() / 255.0, 0.25))
    noisy = to_uint8(small / 255.0 + np.random.default_rng(0).normal(0, 10 / 255.0, small.shape))
    crop = tuple(int(v) for v in args.crop.split(","))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        jpeg = Path(tmp) / "coffee_quarter_q50.jpg"
        Image.fromarray(small).save(jpeg, quality=50)
        png = Path(tmp) / "coffee_quarter_noise10.png"
        Image.fromarray(noisy).save(png)
        for src in (jpeg, png):
            rows.append(compare_figure(src, args.models.split(","), 4, crop, lr_input=True))
    width = max(r.shape[1] for r in rows)
    fig = np.full((sum(r.shape[0] for r in rows), width, 3), 255, np.uint8)
    y = 0
    for r in rows:
        fig[y : y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0]
    write_image(args.output, fig)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
