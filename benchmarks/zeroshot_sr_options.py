"""Zero-shot SR-time options: what each costs and what it gives, on one trained pyramid per image.

    python benchmarks/zeroshot_sr_options.py --data T91:val [--model drsingan] [--scales 2,4]
                                              [--threads 1] [--set KEY=VALUE] [--json FILE]

The SR-time options (x8 self-ensemble, averaging k - 1, k, k + 1 SR steps, back-projection after
each step) do not change training, so each image is trained on once, with the model's default
preset (``--set`` overrides it), and then enlarged once per variant. Inputs and PSNR follow
``sisr bench`` (protocol y: MATLAB bicubic of the luma, Y-PSNR with the scale cropped). Meant for
held-out images (``T91:val``): the preset's SR options are chosen here, never on a test set.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from sisr.config import parse_overrides
from sisr.data import dataset_images, sr_pair
from sisr.infer import load_model
from sisr.metrics import gray_of, psnr, quantize
from sisr.train.zeroshot import train_pyramid
from sisr.zeroshot import sr_cost

VARIANTS = {
    "preset": {},
    "no step ensemble": {"step_ensemble": False},
    "no x8 ensemble": {"ensemble": False},
    "neither": {"ensemble": False, "step_ensemble": False},
    "neither, bp at the end only": {"ensemble": False, "step_ensemble": False, "bp_each_step": False},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="drsingan")
    ap.add_argument("--data", default="T91:val")
    ap.add_argument("--scales", default="2,4")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    settings = {"threads": args.threads, **parse_overrides(args.set)}
    rows = []
    for f in dataset_images(args.data):
        for s in (int(v) for v in args.scales.split(",")):
            hr, lr = sr_pair(f, s, "y")
            img = np.repeat(lr, 3, axis=2) if lr.shape[2] == 1 else lr
            cfg = load_model(args.model, scale=s, settings=settings).config
            t0 = time.perf_counter()
            pyr = train_pyramid(img, s, cfg)
            row = {"image": f.stem, "scale": s, "train_s": round(time.perf_counter() - t0, 1), "variants": {}}
            for name, over in VARIANTS.items():
                pyr.cfg = dataclasses.replace(cfg, sr_gmacs=0.0, **over)  # the variant itself, uncapped
                t0 = time.perf_counter()
                out = pyr.enlarge(img, s)
                sr = quantize(gray_of(out)) if lr.shape[2] == 1 else quantize(out)
                row["variants"][name] = {
                    "psnr_y": round(psnr(sr, hr, crop=s), 3),
                    "sr_s": round(time.perf_counter() - t0, 1),
                    "pixels": sr_cost(*img.shape[:2], s, pyr.cfg),
                }
            rows.append(row)
            print(json.dumps(row), flush=True)
    lines = [f"`{args.model}` on {args.data}, {args.threads} thread(s); SR seconds and Y-PSNR per variant.", ""]
    for s in sorted({r["scale"] for r in rows}):
        at = [r for r in rows if r["scale"] == s]
        lines += [f"x{s}: training {np.mean([r['train_s'] for r in at]):.0f} s per image (mean)", ""]
        lines += ["| variant | mean Y-PSNR | mean SR s |", "|---|---:|---:|"]
        for name in VARIANTS:
            p = np.mean([r["variants"][name]["psnr_y"] for r in at])
            t = np.mean([r["variants"][name]["sr_s"] for r in at])
            lines.append(f"| {name} | {p:.2f} | {t:.1f} |")
        lines.append("")
    print("\n".join(lines))
    if args.json:
        report = {"model": args.model, "data": args.data, "settings": settings, "variants": VARIANTS, "rows": rows}
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
