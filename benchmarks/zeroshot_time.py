"""Zero-shot time people can plan with: seconds per image vs input size, at x2 and x4.

    python benchmarks/zeroshot_time.py [--model drsingan] [--scales 2,4] [--sizes set5,512x512,1024x768]
                                       [--threads 2] [--json FILE] [--markdown FILE]

Each input is trained on and enlarged with the model's default preset (``--set`` overrides
it), as ``sisr upscale`` does: the seconds are training plus SR, split in the table. "set5"
stands for the five Set5 images at their own sizes (needs ``SISR_DATA``); ``WxH`` sizes are
the scikit-image coffee photo resized to that size (a real photo, so the SR chain sees real
texture). The CPU model and thread count are recorded with the results.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sisr.config import parse_overrides
from sisr.data import dataset_images
from sisr.infer import load_model
from sisr.io import read_image, to_float
from sisr.precision import cpu_bf16_units, cpu_name, resolve_precision
from sisr.resize import imresize
from sisr.train.zeroshot import train_pyramid
from sisr.zeroshot import conv_macs, sr_settings


def _ensembles(cfg) -> str:
    """The SR-time ensembles the work cap left on, as the table shows them."""
    on = [n for n, flag in (("x8", cfg.ensemble), ("steps", cfg.step_ensemble)) if flag]
    return " + ".join(on) or "none"


def inputs(spec: str) -> list[tuple[str, np.ndarray]]:
    from skimage import data

    out = []
    for item in spec.split(","):
        if item == "set5":
            for f in dataset_images("Set5"):
                out.append((f.stem, to_float(read_image(f).rgb)))
        else:
            w, h = (int(v) for v in item.lower().split("x"))
            src = data.coffee() / 255.0
            out.append((f"{w}x{h}", imresize(src, size=(h, w)).clip(0, 1).astype(np.float32)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="drsingan")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--sizes", default="set5,512x512,1024x768")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", default=None)
    ap.add_argument("--markdown", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = {"threads": args.threads, **parse_overrides(args.set)}
    rows = []
    for name, img in inputs(args.sizes):
        for s in (int(v) for v in args.scales.split(",")):
            cfg = load_model(args.model, scale=s, settings=settings).config
            t0 = time.perf_counter()
            pyr = train_pyramid(img, s, cfg)
            t1 = time.perf_counter()
            used = sr_settings(img.shape[0], img.shape[1], s, cfg, conv_macs(pyr.gens[-1]))
            out = pyr.enlarge(img, s)
            t2 = time.perf_counter()
            assert out.shape[:2] == (img.shape[0] * s, img.shape[1] * s)
            rows.append(
                {
                    "image": name,
                    "width": img.shape[1],
                    "height": img.shape[0],
                    "scale": s,
                    "train_s": round(t1 - t0, 1),
                    "sr_s": round(t2 - t1, 1),
                    "sr_ensembles": _ensembles(used),
                    "seconds": round(t2 - t0, 1),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    report = {
        "model": args.model,
        "preset": cfg.preset,
        "precision": resolve_precision(cfg.precision),
        "settings": settings,
        "threads": args.threads,
        "cpu": cpu_name(),
        "bf16_units": list(cpu_bf16_units()),
        "rows": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    lines = [
        f"`{args.model}`, preset `{cfg.preset}`, {report['precision']}, {args.threads} threads, {report['cpu']}"
        f" (bf16 units: {', '.join(report['bf16_units']) or 'none'}).",
        "",
        "| input | size | scale | train s | SR s | total s | SR ensembles |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['image']} | {r['width']}x{r['height']} | x{r['scale']} | {r['train_s']} | {r['sr_s']} | "
            f"{r['seconds']} | {r['sr_ensembles']} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
