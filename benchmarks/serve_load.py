"""Bounded load test of ``sisr serve`` on 127.0.0.1 only.

    python benchmarks/serve_load.py [--uploads 50] [--queue 8] [--model rrgan-x4] [--json out.json]

Sends ``--uploads`` small uploads at once against a server whose queue holds ``--queue`` jobs,
while another thread polls ``/api/health``. Every upload must end with a result or a clean 429
(no 5xx), and no job file may be left once the jobs are deleted. Prints the outcome counts, the
server's peak RSS and the health latency (p50 / p99) while jobs ran.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serve_helpers import live_server  # noqa: E402
from sisr.serve import ServeConfig  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uploads", type=int, default=50)
    ap.add_argument("--queue", type=int, default=8)
    ap.add_argument("--model", default="rrgan-x4")
    ap.add_argument("--size", type=int, default=64, help="side of the uploaded images")
    ap.add_argument("--json")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    images = []
    for _ in range(args.uploads):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)).save(buf, "PNG")
        images.append(buf.getvalue())

    with live_server(ServeConfig(max_queue=args.queue)) as (url, app):
        runner = app.state.runner
        health: list[float] = []
        stop = threading.Event()

        def poll() -> None:
            with httpx.Client(base_url=url, timeout=30) as c:
                while not stop.is_set():
                    t = time.perf_counter()
                    assert c.get("/api/health").status_code == 200
                    health.append(time.perf_counter() - t)
                    time.sleep(0.05)

        def upload(data: bytes) -> tuple[int, str]:
            with httpx.Client(base_url=url, timeout=300) as c:
                r = c.post("/api/jobs", files={"file": ("x.png", data, "image/png")}, data={"model": args.model})
                if r.status_code != 202:
                    return r.status_code, ""
                job_id = r.json()["id"]
                while True:
                    s = c.get(f"/api/jobs/{job_id}").json()
                    if s["status"] in ("done", "failed", "cancelled"):
                        break
                    time.sleep(0.1)
                ok = s["status"] == "done" and c.get(f"/api/jobs/{job_id}/result").status_code == 200
                c.delete(f"/api/jobs/{job_id}")
                return (200 if ok else 500), s["status"]

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.uploads) as pool:
            outcomes = list(pool.map(upload, images))
        wall = time.perf_counter() - t0
        stop.set()
        poller.join()
        leftovers = list(runner.root.iterdir())
    codes = [c for c, _ in outcomes]
    result = {
        "uploads": args.uploads,
        "queue": args.queue,
        "model": args.model,
        "results": codes.count(200),
        "rejected_429": codes.count(429),
        "other": len(codes) - codes.count(200) - codes.count(429),
        "leftover_job_folders": len(leftovers),
        "wall_s": round(wall, 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "health_p50_ms": round(1000 * statistics.median(health), 2),
        "health_p99_ms": round(1000 * float(np.percentile(health, 99)), 2),
        "health_samples": len(health),
    }
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n")
    return 0 if result["other"] == 0 and not leftovers else 1


if __name__ == "__main__":
    sys.exit(main())
