"""Peak memory of upscaling a large photo: ``python benchmarks/large_image.py [--size 4000x3000] [--width W]``.

Builds a smooth synthetic photo-like image of the given size, upscales it with
the default model (tiles chosen from free memory), then to ``--width`` if given (as
``sisr upscale --width``), writes the PNG, and reports wall time and the process's peak RSS
(ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from sisr.api import upscale_file
from sisr.infer import load_model
from sisr.io import write_image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT")
    ap.add_argument("--model", default=None)
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--width", type=int, default=None, help="a width to reach after the model's scale")
    args = ap.parse_args()
    w, h = map(int, args.size.lower().split("x"))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([0.5 + 0.4 * np.sin(xx / 37 + c) * np.cos(yy / 53 - c) for c in range(3)], axis=2)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.png", Path(tmp) / "out.png"
        write_image(src, img)
        del img, yy, xx
        up = load_model(args.model, precision=args.precision)
        t = time.perf_counter()
        upscale_file(src, dst, up, size=(args.width, None) if args.width else None)
        sec = time.perf_counter() - t
        size = dst.stat().st_size
        Image.MAX_IMAGE_PIXELS = None  # its own result
        with Image.open(dst) as im:
            out = "x".join(map(str, im.size))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{up.name} x{up.scale}: {w}x{h} -> {out} in {sec:.0f} s, peak RSS {peak:.2f} GiB, output {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
