"""What reusing unchanged tiles saves on an animation with a still background: the time to upscale
its frames whole (the default tile covers a small frame), tiled without reuse, and tiled with
reuse (as ``sisr upscale`` does for an animation), all in one run, as ratios to the first.

Frames: a crop of a held-out ``skimage`` photo with a small square moving across one corner (no
test set is used). ``python benchmarks/animation_memo.py [--out benchmarks/results/animation_memo.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import report  # noqa: E402

from sisr.data import resolve_dataset  # noqa: E402
from sisr.infer import TileMemo, load_model  # noqa: E402
from sisr.io import read_rgb  # noqa: E402


def frames_of(photo: np.ndarray, n: int, h: int, w: int) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        f = photo[:h, :w].copy()
        f[8:24, 8 + 8 * i : 24 + 8 * i] = (240, 200, 30)
        frames.append(f)
    return frames


def timed(up, frames, memo=None) -> tuple[float, list[np.ndarray]]:
    t = time.perf_counter()
    out = [up(f, memo=memo) for f in frames]
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="rrgan-x4")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=6)
    ap.add_argument("--size", default="240x320", help="frame height x width")
    ap.add_argument("--tile", type=int, default=96)
    ap.add_argument("--out", default=None, help="write the table (markdown) here too")
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    photo = read_rgb(sorted((resolve_dataset("skimage") / "HR").iterdir())[0])
    frames = frames_of(photo, args.frames, h, w)
    whole = load_model(args.model, scale=args.scale, tile=0)
    tiled = load_model(args.model, scale=args.scale, tile=args.tile)
    timed(whole, frames[:1])  # warm-up
    t_whole, ref = timed(whole, frames)
    t_tiled, _ = timed(tiled, frames)
    memo = TileMemo()
    t_memo, reused = timed(tiled, frames, memo)
    diff = max(float(np.abs(a - b).max()) for a, b in zip(ref, reused))
    lines = [
        f"{args.model} x{args.scale}, {args.frames} frames of {w}x{h} (a 16 px square moving in one corner), "
        f"torch {__import__('torch').__version__}, {platform.machine()}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}",
        "",
        "| frames run | seconds | vs whole frames | tiles run / reused |",
        "|---|---:|---:|---:|",
        f"| whole (no tiles) | {t_whole:.1f} | 1.00x | - |",
        f"| tiles of {args.tile}, each run | {t_tiled:.1f} | {t_tiled / t_whole:.2f}x | - |",
        f"| tiles of {args.tile}, unchanged reused | {t_memo:.1f} | {t_memo / t_whole:.2f}x "
        f"| {memo.runs} / {memo.reused} |",
        "",
        f"Largest difference of the tiled outputs from the whole-frame ones: {diff:.4f} (the blend of overlaps).",
    ]
    report(lines, args.out)


if __name__ == "__main__":
    main()
