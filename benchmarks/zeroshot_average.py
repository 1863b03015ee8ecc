"""Would averaging the finest generator's weights steady a zero-shot run? On held-out images.

    python benchmarks/zeroshot_average.py [--data BSD200:val:1-4] [--scale 2] [--seeds 0,1]
        [--set KEY=VALUE ...] [--json FILE]

For each image and seed, one pyramid is trained with the method's preset (drsingan, "fast"), as
`sisr bench` trains it: the trainer's generator step is wrapped to keep, at the finest scale, an
EMA of the weights (decay 0.99 and 0.995), the plain average of the iterates after the learning
rate drop, and snapshots every 100 iterations. Keeping them draws no random numbers, so the
"last" column is the bench's own result for that seed. Each set of weights then enlarges the
image through the same SR chain and is scored by the bench's rules (Y-PSNR, border cropped).
"""

from __future__ import annotations

import argparse
import copy
import json
import time

import numpy as np
import torch

from sisr.config import parse_overrides
from sisr.data import dataset_images, sr_pair
from sisr.infer import zero_shot_config
from sisr.metrics import gray_of, psnr, quantize
from sisr.train import zeroshot as tz

EMAS = (0.99, 0.995)


def _averaging_step(keep: dict):
    """The trainer's generator step, followed by updating the finest scale's averages in ``keep``."""
    step = tz._PyramidTrainer.g_step

    def g_step(self, sc, *args):
        step(self, sc, *args)
        if sc.n != len(self.sizes) - 1:
            return
        if not keep:
            keep.update({f"ema{d}": copy.deepcopy(sc.g) for d in EMAS}, calls=0, avg=None, count=0, snaps={})
        keep["calls"] += 1
        it = (keep["calls"] - 1) // self.cfg.g_steps
        drop = max(1, int(self.cfg.decay_at * self.iters(sc.n)))
        with torch.no_grad():
            for d in EMAS:
                for pe, p in zip(keep[f"ema{d}"].parameters(), sc.g.parameters()):
                    pe.lerp_(p, 1 - d)
            if it >= drop:
                if keep["avg"] is None:
                    keep["avg"], keep["count"] = copy.deepcopy(sc.g), 1
                else:
                    keep["count"] += 1
                    for pa, p in zip(keep["avg"].parameters(), sc.g.parameters()):
                        pa.add_((p - pa) / keep["count"])
        if (it + 1) % 100 == 0 or it + 1 == drop:
            keep["snaps"][it + 1] = copy.deepcopy(sc.g.state_dict())

    return g_step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="BSD200:val:1-4")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--seeds", default="0", help="comma-separated")
    ap.add_argument("--method", default="drsingan")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--json")
    args = ap.parse_args()
    keep: dict = {}
    tz._PyramidTrainer.g_step = _averaging_step(keep)
    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        cfg = zero_shot_config(args.method, {**parse_overrides(args.set), "seed": seed})
        for f in dataset_images(args.data):
            keep.clear()
            hr, lr = sr_pair(f, args.scale, "y")
            rgb = np.repeat(lr, 3, axis=2).astype(np.float32)
            t0 = time.perf_counter()
            pyr = tz.train_pyramid(rgb, args.scale, cfg)
            g = pyr.gens[-1]
            weights = {"last": copy.deepcopy(g.state_dict())}
            weights |= {f"ema{d}": keep[f"ema{d}"].state_dict() for d in EMAS}
            weights["avg_after_drop"] = keep["avg"].state_dict()
            weights |= {f"iter{k}": v for k, v in sorted(keep["snaps"].items())}
            row = {"name": f.stem, "seed": seed, "train_seconds": round(time.perf_counter() - t0, 1)}
            for key, sd in weights.items():
                g.load_state_dict(sd)
                row[key] = round(psnr(quantize(gray_of(pyr.enlarge(rgb, args.scale))), hr, crop=args.scale), 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"data": args.data, "scale": args.scale, "method": args.method, "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
