"""How well the zero-shot progress bar's work units track time: per pyramid scale, the fraction of
training time spent by the end of that scale against the fraction of work units the bar counted.

    python benchmarks/zeroshot_eta.py [--model singan] [--data BSD200:val] [--scale 4] [--json FILE]

Trains one pyramid on the first image of ``--data`` (held-out by default) with the model's default
preset on one thread. The bar's ETA is right from the start when the two columns agree.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from sisr.data import dataset_images, sr_pair
from sisr.infer import zero_shot_config
from sisr.train.zeroshot import scale_iters, train_cost, train_pyramid
from sisr.zeroshot import pyramid_sizes, sr_steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="singan")
    p.add_argument("--data", default="BSD200:val")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--json")
    args = p.parse_args()
    torch.set_num_threads(1)
    cfg = zero_shot_config(args.model, {"threads": 1})
    path = dataset_images(args.data)[0]
    _, lr = sr_pair(path, args.scale, "y")
    rgb = np.repeat(lr, 3, axis=2).astype(np.float32)
    _, ratio = sr_steps(args.scale, cfg.steps_per_octave)
    sizes = pyramid_sizes(rgb.shape[0], rgb.shape[1], ratio, cfg.min_size)
    units = np.cumsum([c * scale_iters(cfg, n, len(sizes)) for n, c in enumerate(train_cost(cfg, sizes, ratio))])
    ticks: list[tuple[float, int]] = []
    t0 = time.perf_counter()
    train_pyramid(rgb, args.scale, cfg, on_progress=lambda d, t: ticks.append((time.perf_counter() - t0, d)))
    times = np.array([t for t, _ in ticks])
    done = np.array([d for _, d in ticks])
    rows = []
    for n, u in enumerate(units):
        at = float(times[min(len(times) - 1, np.searchsorted(done, u))] / times[-1])
        rows.append(
            {
                "scale": n,
                "size": list(sizes[n]),
                "time_fraction": round(at, 3),
                "unit_fraction": round(u / units[-1], 3),
            }
        )
        print(f"scale {n} {sizes[n][1]}x{sizes[n][0]}: time {at:.2f}, units {u / units[-1]:.2f}")
    worst = max(abs(r["time_fraction"] - r["unit_fraction"]) for r in rows)
    print(f"largest gap {worst:.2f}; {times[-1]:.1f} s in all")
    if args.json:
        out = {
            "model": args.model,
            "image": f"{args.data}/{path.name}",
            "scale": args.scale,
            "largest_gap": round(worst, 3),
            "seconds": round(float(times[-1]), 1),
            "scales": rows,
        }
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
