"""Where SinGAN's SR mode loses PSNR: step by step through its SR chain, on held-out images.

    python benchmarks/singan_steps.py [--data T91:val] [--scale 4] [--set KEY=VALUE ...] [--json FILE]

For each image, a `singan` pyramid is trained on the LR image (its preset, "fast" unless
``--set preset=paper``), then the SR chain runs step by step: bicubic x ratio, then the finest
generator, ``k`` times. At each step it prints the Y-PSNR of the generator's output and of its
input against the HR image resized to that step's size, the PSNR of plain bicubic from the LR to
that size, and how much the generator changed the image (mean absolute change, 8-bit levels),
beside the change it learned to make in training (the finest scale against its enlarged coarser
scale). Intermediate sizes are measured on the whole image in float; the last step also by the
bench's rules (8-bit, border of ``scale`` px cropped). Defaults to held-out images (T91:val).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from sisr.config import parse_overrides
from sisr.data import dataset_images, sr_pair
from sisr.infer import zero_shot_config
from sisr.metrics import gray_of, psnr, quantize
from sisr.train.zeroshot import train_pyramid
from sisr.zeroshot import resize, sr_chain, to_image, to_tensor


def image_steps(path: Path, scale: int, cfg) -> dict:
    hr, lr = sr_pair(path, scale, "y")
    rgb = np.repeat(lr, 3, axis=2).astype(np.float32)
    pyr = train_pyramid(rgb, scale, cfg)
    hr_t = to_tensor(np.repeat(hr.astype(np.float32) / 255, 3, axis=2))
    lr_t = to_tensor(rgb)
    h, w = lr.shape[:2]
    # What the finest generator learned to add: the LR image against its coarser scale enlarged.
    learned = float((lr_t - resize(resize(lr_t, pyr.sizes[-2]), (h, w))).abs().mean()) * 127.5
    steps = []

    def on_step(j: int, up: torch.Tensor, x: torch.Tensor) -> None:
        ref = hr_t if tuple(x.shape[-2:]) == tuple(hr_t.shape[-2:]) else resize(hr_t, tuple(x.shape[-2:]))
        # Gray images (three equal channels): the RGB PSNR of whole images in float is their gray PSNR.
        score = lambda a: round(psnr(to_image(a), to_image(ref), y_only=False), 2)  # noqa: E731
        steps.append(
            {
                "step": j,
                "size": list(x.shape[-2:]),
                "psnr_out": score(x),
                "psnr_in": score(up),
                "psnr_bicubic": score(resize(lr_t, tuple(x.shape[-2:]))),
                "change": round(float((x - up).abs().mean()) * 127.5, 2),
            }
        )

    x = sr_chain(
        pyr.gens[-1].eval(), lr_t, scale, cfg, pyr.amps[-1], torch.Generator().manual_seed(cfg.seed), on_step=on_step
    )
    bench = psnr(quantize(gray_of(to_image(x))), hr, crop=scale)
    bicubic = psnr(quantize(gray_of(to_image(resize(lr_t, (h * scale, w * scale))))), hr, crop=scale)
    return {
        "name": path.stem,
        "psnr_y": round(bench, 2),
        "bicubic_psnr_y": round(bicubic, 2),
        "learned_change": round(learned, 2),
        "rec_psnr": pyr.log[-1]["rec_psnr"],
        "steps": steps,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default="T91:val")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json")
    args = p.parse_args()
    cfg = zero_shot_config("singan", parse_overrides(args.set))
    if cfg.ensemble or cfg.step_ensemble or cfg.back_projection:
        raise SystemExit("singan_steps.py follows SinGAN's plain SR chain: no ensembles or back-projection")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    rows: list[dict] = []
    files = dataset_images(args.data)
    for f in files:
        row = image_steps(f, args.scale, cfg)
        rows.append(row)
        print(
            f"{row['name']}: {row['psnr_y']:.2f} dB (bicubic {row['bicubic_psnr_y']:.2f}); the generator learned "
            f"to change {row['learned_change']:.2f} levels, reconstruction {row['rec_psnr']:.2f} dB",
            flush=True,
        )
        for s in row["steps"]:
            print(
                f"  step {s['step']} {s['size'][1]}x{s['size'][0]}: in {s['psnr_in']:.2f}, out {s['psnr_out']:.2f}, "
                f"bicubic {s['psnr_bicubic']:.2f} dB; changed {s['change']:.2f} levels",
                flush=True,
            )
        if args.json:  # after every image: a long run stopped early keeps what it measured
            _write(args, cfg, rows, complete=len(rows) == len(files))
    mean, loss = _summary(rows)
    print(f"mean {mean['psnr_y']:.2f} dB, bicubic {mean['bicubic_psnr_y']:.2f}; each step loses {loss:.2f} dB")


def _summary(rows: list[dict]) -> tuple[dict, float]:
    """Mean PSNRs, and the mean PSNR a step loses against its own input."""
    mean = {key: round(float(np.mean([r[key] for r in rows])), 2) for key in ("psnr_y", "bicubic_psnr_y")}
    return mean, round(float(np.mean([s["psnr_in"] - s["psnr_out"] for r in rows for s in r["steps"]])), 2)


def _write(args, cfg, rows: list[dict], complete: bool) -> None:
    mean, loss = _summary(rows)
    out = {
        "data": args.data,
        "scale": args.scale,
        "settings": dataclasses.asdict(cfg),
        "complete": complete,
        **mean,
        "mean_step_loss_db": loss,
        "images": rows,
    }
    tmp = Path(args.json + ".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    tmp.replace(args.json)


if __name__ == "__main__":
    main()
