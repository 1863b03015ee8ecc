"""Training throughput of a recipe: steps/s at fp32 vs bf16 autocast + channels-last, in one run.

    python benchmarks/train_throughput.py [--config configs/rrgan_x4_psnr.toml] [--steps 20]
    python benchmarks/train_throughput.py --queue [--steps 3] [--batch 4]
    python benchmarks/train_throughput.py --config configs/rrgan_x234_psnr.toml --device cuda --batches 16,32,64

``--batches`` times the recipe as it trains (bf16 + channels-last) at each batch size on
``--device``, every step on one batch drawn once, so that the figure is the device's (upload,
bicubic LR, forward, backward, Adam, EMA) and not the patch drawing, which the trainer's
worker processes do beside it; it prints samples/s against the first batch size, measured
in the same run, and what drawing one batch costs one process. On a GPU a small model at a
small batch waits on kernel launches, so a larger batch may cost little more a step: the
figure that says whether a run should take fewer, larger steps there.

``--queue`` times every open run of configs/queue.toml as the relay would train it on this
machine (its recipe and overrides, one thread unless ``--threads``, bf16 only where the CPU has
native bf16) and prints the hours its remaining steps need here. ``--batch N`` times N samples
a step instead of the recipe's batch and scales the time by batch / N (convolution cost grows
with the batch; a small batch keeps the 256-filter DRCN's minutes-long steps short); the table
shows both batches.

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
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from sisr.config import load_config
from sisr.data import PatchSampler
from sisr.precision import cpu_name
from sisr.train.supervised import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))


def photos() -> list[np.ndarray]:
    try:
        import skimage.data
    except ImportError:  # a lent GPU machine's image may lack it; the step's cost does not depend on the pixels
        rng = np.random.default_rng(0)
        return [rng.integers(0, 256, (512, 512, 3), dtype=np.uint8) for _ in range(4)]
    return [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea(), skimage.data.rocket()]


def trainer(cfg: TrainConfig, scale_aug: tuple[float, ...] = (1.0,)) -> Trainer:
    sampler = PatchSampler(photos(), cfg.patch * 4, scale_aug=scale_aug, gray_prob=cfg.gray_prob)
    return Trainer(cfg, sampler=sampler, val_files=[])


def measure(cfg: TrainConfig, steps: int, warmup: int = 3, t: Trainer | None = None) -> list[float]:
    t = t or trainer(cfg)
    sync = torch.cuda.synchronize if t.device.type == "cuda" else (lambda: None)  # losses stay on the device
    times = []
    for i in range(warmup + steps):
        sync()
        t0 = time.perf_counter()
        t.train_step()
        sync()
        if i >= warmup:
            times.append(time.perf_counter() - t0)
    return times


def batch_sizes(base: TrainConfig, batches: list[int], device: str, steps: int) -> list[dict]:
    """Samples/s of the recipe at each batch size on ``device``, each step on one batch drawn once."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for b in batches:
            cfg = dataclasses.replace(base, batch=b, out=tmp, init="", device=device, workers=0)
            t = trainer(cfg, tuple(cfg.scale_aug))  # the recipe's rescaling: part of what drawing costs
            draws = []
            for k in range(3):
                t0 = time.perf_counter()
                drawn = t.draw(k)
                draws.append(time.perf_counter() - t0)
            draw_s = statistics.median(draws)
            t.draw = lambda step, drawn=drawn: drawn
            sec = statistics.median(measure(cfg, steps, t=t))
            rows.append({"batch": b, "s_per_step": sec, "samples_per_s": b / sec, "draw_s": draw_s})
            del t
    for r in rows:
        r["samples_per_s_vs_first"] = r["samples_per_s"] / rows[0]["samples_per_s"]
    return rows


def bf16_units() -> str:
    """The CPU's bf16 features (Linux): AMX tiles make bf16 convs far faster than AVX512-BF16 alone."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split("flags", 2)[1].split("\n")[0].split())
    except (OSError, IndexError):
        return "unknown"
    found = [f for f in ("avx512_bf16", "amx_bf16") if f in flags]
    return ", ".join(found) or "none"


def queue_cost(steps: int, batch: int | None, threads: int = 1) -> list[dict]:
    """Each open queue run's step time here, as the relay trains it, and its hours to target."""
    import relay

    from sisr.precision import native_bf16

    rows = []
    for run in relay.open_runs(relay.read_queue()):
        cfg = load_config(REPO / run["recipe"], TrainConfig, relay.overrides(run))
        timed = min(batch or cfg.batch, cfg.batch)
        bf16 = cfg.bf16 and native_bf16("cpu")
        with tempfile.TemporaryDirectory() as tmp:
            probe = dataclasses.replace(cfg, batch=timed, bf16=bf16, out=tmp, init="", device="cpu", threads=threads)
            sec = statistics.median(measure(probe, steps, warmup=1)) * cfg.batch / timed
        left = run["target"] - relay.newest(run)[0]
        rows.append(
            {
                "run": run["name"],
                "where": run.get("where", "cpu"),
                "batch": cfg.batch,
                "timed_batch": timed,
                "precision": "bf16" if bf16 else "fp32",
                "s_per_step": sec,
                "steps_left": left,
                "hours_left": left * sec / 3600,
            }
        )
    print(
        f"open queue runs on this CPU ({cpu_name()}, {torch.get_num_threads()} threads, torch {torch.__version__}); "
        f"median of {steps} steps after one warm-up"
    )
    print("| run | where | batch (timed) | precision | s/step | steps left | hours left here |")
    print("|---|---|---:|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['run']} | {r['where']} | {r['batch']} ({r['timed_batch']}) | {r['precision']} | "
            f"{r['s_per_step']:.2f} | {r['steps_left']:,} | {r['hours_left']:,.1f} |"
        )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="configs/rrgan_x4_psnr.toml", help="recipe (relative to the repository)")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--queue", action="store_true", help="time the queue's open runs instead")
    ap.add_argument("--batch", type=int, help="with --queue: time this many samples a step, scaled to the recipe's")
    ap.add_argument("--threads", type=int, default=1, help="with --queue: threads (the relay trains on one)")
    ap.add_argument("--batches", help="comma-separated batch sizes: samples/s of the recipe at each")
    ap.add_argument("--device", default="cpu", help="with --batches: cpu, cuda, cuda:N")
    args = ap.parse_args()
    cfg_path = Path(args.config) if Path(args.config).exists() else REPO / args.config
    if args.batches:
        base = load_config(cfg_path, TrainConfig)
        rows = batch_sizes(base, [int(b) for b in args.batches.split(",")], args.device, args.steps)
        where = torch.cuda.get_device_name(args.device) if args.device.startswith("cuda") else cpu_name()
        print(
            f"recipe {args.config}: {base.patch}px LR patches, {'bf16' if base.bf16 else 'fp32'}, on {where}, "
            f"torch {torch.__version__}; median of {args.steps} steps, each on one batch drawn once"
        )
        print(
            "| batch | s/step | steps/s | samples/s | samples/s vs batch "
            + f"{rows[0]['batch']} | drawing a batch (one process) |"
        )
        print("|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['batch']} | {r['s_per_step']:.4f} | {1 / r['s_per_step']:.1f} | {r['samples_per_s']:.0f} | "
                f"{r['samples_per_s_vs_first']:.2f}x | {r['draw_s'] * 1000:.1f} ms |"
            )
        if args.json:
            Path(args.json).write_text(
                json.dumps({"config": args.config, "device": where, "batches": rows}, indent=1) + "\n"
            )
        return
    if args.queue:
        rows = queue_cost(args.steps, args.batch, args.threads)
        if args.json:
            Path(args.json).write_text(json.dumps({"queue": rows}, indent=1) + "\n")
        return
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
