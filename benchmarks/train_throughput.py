"""Training throughput of a recipe: steps/s at fp32 vs bf16 autocast + channels-last, in one run.

    python benchmarks/train_throughput.py [--config configs/rrgan_x4_psnr.toml] [--steps 20]

Patches come from scikit-image's photos held in memory, so the figure is the
model's forward + backward + Adam cost at the recipe's batch and patch size.
Prints a table and the bf16 speed-up as a ratio against fp32 measured in the
same run (absolute seconds on a shared machine are noisy; the ratio is the claim).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sisr.config import load_config
from sisr.data import PatchSampler
from sisr.train.supervised import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[1]


def photos() -> list[np.ndarray]:
    import skimage.data

    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]


def measure(cfg: TrainConfig, steps: int, warmup: int = 3) -> list[float]:
    sampler = PatchSampler(photos(), cfg.patch * 4, scale_aug=(1.0,), gray_prob=cfg.gray_prob)
    t = Trainer(cfg, sampler=sampler, val_files=[])
    times = []
    for i in range(warmup + steps):
        t0 = time.perf_counter()
        t.train_step()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def bf16_units() -> str:
    """The CPU's bf16 features (Linux): AMX tiles make bf16 convs far faster than AVX512-BF16 alone."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n")[0].split())
    except (OSError, IndexError):
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) or "none"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/rrgan_x4_psnr.toml", help="recipe (relative to the repository)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args()
    cfg_path = Path(args.config) if Path(args.config).exists() else REPO / args.config
    base = load_config(cfg_path, TrainConfig)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bf16, cl in (
            ("fp32", False, False),
            ("fp32+channels_last", False, True),
            ("bf16+channels_last", True, True),
        ):
            cfg = dataclasses.replace(base, bf16=bf16, channels_last=cl, out=tmp, init="")
            times = measure(cfg, args.steps)
            med = statistics.median(times)
            rows[name] = {"median_s_per_step": med, "steps_per_s": 1 / med}
    ref = rows["fp32"]["median_s_per_step"]
    print(
        f"recipe {args.config}: batch {base.batch} x {base.patch}px LR patches, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, CPU bf16 units: {bf16_units()}"
    )
    print("| precision | s/step (median) | steps/s | speed-up vs fp32 |\n|---|---:|---:|---:|")
    for name, r in rows.items():
        r["speedup_vs_fp32"] = ref / r["median_s_per_step"]
        print(f"| {name} | {r['median_s_per_step']:.3f} | {r['steps_per_s']:.2f} | {r['speedup_vs_fp32']:.2f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps({"config": args.config, "results": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
