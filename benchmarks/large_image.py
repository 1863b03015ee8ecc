"""Peak memory of upscaling a large photo: ``python benchmarks/large_image.py [--size 4000x3000]``.

Builds a smooth synthetic photo-like image of the given size, upscales it with
the default model (tiles chosen from free memory), writes the PNG, and reports
wall time and the process's peak RSS (ru_maxrss).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from sisr.api import upscale_file
from sisr.infer import load_model
from sisr.io import write_image


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="4000x3000", help="WIDTHxHEIGHT")
    ap.add_argument("--model", default=None)
    ap.add_argument("--precision", default="fp32")
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
        upscale_file(src, dst, up)
        sec = time.perf_counter() - t
        size = dst.stat().st_size
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{up.name} x{up.scale}: {w}x{h} -> {w * up.scale}x{h * up.scale} in {sec:.0f} s, "
        f"peak RSS {peak:.2f} GiB, output {size / 1e6:.0f} MB"
    )


if __name__ == "__main__":
    main()
