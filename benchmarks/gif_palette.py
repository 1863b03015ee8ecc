"""How sisr writes GIF frames (one palette for all frames, each pixel its exact nearest colour)
against Pillow's default (a median-cut palette per frame) and one palette with Pillow's
Floyd-Steinberg dithering: the error against the full-colour frames (as stored, and after a 5x5 blur, roughly
as seen) and the flicker (the share of pixels of the still background that change from frame to
frame).

Frames: crops of the held-out ``skimage`` photos with a small square moving across them (no test
set is used). ``python benchmarks/gif_palette.py [--out benchmarks/results/gif_palette.md]``
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.ndimage import uniform_filter

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import report  # noqa: E402

from sisr.data import resolve_dataset  # noqa: E402
from sisr.io import _gif_palette, _write_gif, read_rgb  # noqa: E402


def animation(photo: np.ndarray, n: int = 6) -> list[np.ndarray]:
    frames = []
    for i in range(n):
        f = photo[:192, :256].copy()
        f[16:40, 8 + 24 * i : 32 + 24 * i] = (240, 200, 30)
        frames.append(f)
    return frames


def sisr_gif(frames):
    buf = io.BytesIO()
    _write_gif(buf, frames, [100] * len(frames), 0, {})
    return buf


def pillow_default(frames):
    buf = io.BytesIO()
    ims = [Image.fromarray(f) for f in frames]
    ims[0].save(buf, "GIF", save_all=True, append_images=ims[1:], duration=100, loop=0)
    return buf


def shared_fs(frames):
    pal = Image.new("P", (1, 1))
    pal.putpalette(_gif_palette(frames, 256).ravel().tolist())
    ims = [Image.fromarray(f).quantize(palette=pal, dither=Image.Dither.FLOYDSTEINBERG) for f in frames]
    buf = io.BytesIO()
    ims[0].save(buf, "GIF", save_all=True, append_images=ims[1:], duration=100, loop=0, optimize=False)
    return buf


def decoded(buf) -> list[np.ndarray]:
    buf.seek(0)
    with Image.open(buf) as im:
        out = []
        for i in range(im.n_frames):
            im.seek(i)
            out.append(np.asarray(im.convert("RGB")).astype(np.float64))
    return out


def measure(frames, got) -> tuple[float, float, float]:
    raw = np.mean([np.abs(g - f).mean() for g, f in zip(got, frames)])
    blur = np.mean(
        [
            np.abs(uniform_filter(g, (5, 5, 1)) - uniform_filter(f.astype(float), (5, 5, 1))).mean()
            for g, f in zip(got, frames)
        ]
    )
    still = slice(64, None)  # below the moving square: the same in every source frame
    flicker = np.mean([(np.abs(a[still] - b[still]).sum(axis=2) > 0).mean() for a, b in zip(got, got[1:])])
    return raw, blur, 100 * flicker


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=None, help="write the table (markdown) here too")
    args = ap.parse_args()
    files = sorted((resolve_dataset("skimage") / "HR").iterdir())
    ways = {
        "sisr: one palette, nearest colour": sisr_gif,
        "Pillow default: a palette per frame": pillow_default,
        "one palette, Floyd-Steinberg (Pillow)": shared_fs,
    }
    rows = {name: [] for name in ways}
    used = 0
    for f in files:
        photo = read_rgb(f)
        if photo.shape[0] < 192 or photo.shape[1] < 256:
            continue
        frames = animation(photo)
        used += 1
        for name, way in ways.items():
            rows[name].append(measure(frames, decoded(way(frames))))
    lines = [
        f"GIF writing on {used} held-out `skimage` photos (192x256 crops, 6 frames, a square moving across).",
        "Error in 8-bit levels, mean over frames and photos; flicker: % of still-background pixels that",
        "change between consecutive frames.",
        "",
        "| way | error | error, 5x5 blur | flicker % |",
        "|---|---:|---:|---:|",
    ]
    for name, vals in rows.items():
        raw, blur, flick = np.mean(vals, axis=0)
        lines.append(f"| {name} | {raw:.2f} | {blur:.2f} | {flick:.1f} |")
    report(lines, args.out)


if __name__ == "__main__":
    main()
