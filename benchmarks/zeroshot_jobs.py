"""Zero-shot bench throughput: image-runs side by side on one thread each (the bench's default)
against one at a time on every core's threads, in the same run on the same machine.

    python benchmarks/zeroshot_jobs.py [--model drsingan] [--data T91:val] [--scale 4]
                                       [--set KEY=VALUE ...] [--json FILE]

Reports the wall seconds of each way, their ratio, the two means and the largest per-image
PSNR difference between them (threads change the order of floating-point sums, so a zero-shot
training may end elsewhere). Defaults to held-out images (T91:val), not a test set.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sisr.bench import run_bench
from sisr.config import parse_overrides
from sisr.precision import cores, cpu_name


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="drsingan")
    p.add_argument("--data", default="T91:val")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--json")
    args = p.parse_args()
    n = cores()
    settings = parse_overrides(args.set)
    ways = {
        f"1 at a time, {n} threads": {"jobs": 1, "settings": {**settings, "threads": n}},
        f"{n} at a time, 1 thread each": {"jobs": 0, "settings": settings},
    }
    rows = []
    for name, way in ways.items():
        rep = run_bench([args.model], [args.data], [args.scale], progress=False, **way)
        (res,) = rep["results"]
        rows.append(
            {"way": name, "wall_seconds": rep["wall_seconds"], "psnr_y": res["psnr_y"], "images": res["images"]}
        )
        print(f"{name}: {rep['wall_seconds']:.1f} s, {res['psnr_y']:.2f} dB", flush=True)
    diff = max(abs(a["psnr_y"] - b["psnr_y"]) for a, b in zip(rows[0]["images"], rows[1]["images"], strict=True))
    ratio = rows[0]["wall_seconds"] / rows[1]["wall_seconds"]
    print(f"side by side is {ratio:.2f}x as fast; largest per-image PSNR difference {diff:.2f} dB")
    out = {
        "cpu": cpu_name(),
        "cores": n,
        "model": args.model,
        "data": args.data,
        "scale": args.scale,
        "settings": settings,
        "speedup": round(ratio, 3),
        "max_image_psnr_diff": round(diff, 3),
        "ways": rows,
    }
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
