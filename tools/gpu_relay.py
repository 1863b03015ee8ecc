"""GPU playbook: advance the training queue on a lent GPU machine in resumable chunks.

The machine sees a copy of the repository (at most 64 MiB with what is carried) and nothing
else, and each command may run 10 minutes. So the training images travel in parts of at most
``--part-mib`` MiB, one part per call (ignored folders stay on the machine between calls while
it is warm), and each chunk trains for at most 9 minutes, then stops cleanly (SIGTERM: the
trainer saves its state) and returns the state in ``$OUT``.

Here (no GPU):
    python tools/gpu_relay.py stage --part-mib 38   # .gpudata/part1, part2, ... (ignored by .gitignore)
    python tools/gpu_relay.py aside                 # big tracked files the run does not need -> .gpudata/aside
The working tree travels with each call and the limit (64 MiB) counts it with the carried part;
``aside`` brings the tree to about 19 MiB, ``back`` (or ``git checkout -- .``) restores it.
Then, with the device tool, one call per part (on a warm machine):
    run(command="true", carry=[".gpudata/part1"])   # and so on for each part
and chunks of training:
    run(command="python3 tools/gpu_relay.py train --seconds 500", timeout_s=570)
Keep --seconds at least 60 under the call's timeout (start-up, data loading, the final save): a
call killed at its limit returns nothing, though the periodic state (every ckpt_minutes) stays in
runs/<name>/ on the warm machine and a quick call can copy it to $OUT.
A zero-shot bench (Set5 travels in part1), one process per image and scale, merged per scale:
    run(command="python3 tools/gpu_relay.py zeroshot --model singan --data Set5 --scale 2,4 "
                "--set preset=paper --seconds 500", carry=[".gpudata/part1"], timeout_s=570)
and here `sisr bench --from-json FILES_AT/singan_Set5_x2.json,... --per-image` makes the tables.
Back here, with the files the call returned:
    python tools/gpu_relay.py fetch FILES_AT        # state -> runs/<name>/, then relay save
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import relay  # noqa: E402  (the queue helpers beside this file; it also puts the checkout's sisr on the path)

REPO = relay.REPO
STAGE = REPO / ".gpudata"
DATASETS = ("Set5", "T91", "BSD200")  # Set5 (1.4 MB) first: zero-shot benches need only part1


def cmd_stage(part_mib: float) -> None:
    root = Path(os.environ.get("SISR_DATA") or REPO.parent / "shared" / "datasets")
    files = [f for d in DATASETS for f in sorted((root / d / "HR").iterdir()) if f.is_file()]
    for old in [*STAGE.glob("part*"), STAGE / "data"]:  # never .gpudata/aside: files set aside live there
        shutil.rmtree(old, ignore_errors=True)
    part, size, parts = 1, 0, []
    for f in files:
        if size and size + f.stat().st_size > part_mib * 2**20:
            part, size = part + 1, 0
        dest = STAGE / f"part{part}" / f.parent.parent.name / "HR" / f.name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f, dest)
        size += f.stat().st_size
        if part > len(parts):
            parts.append(part)
    print(f"staged {len(files)} images in {len(parts)} parts under .gpudata/ (each carried by one call)")


def _assemble() -> Path:
    """``.gpudata/data/NAME/HR`` linking the images of every part that has arrived."""
    data = STAGE / "data"
    for part in sorted(STAGE.glob("part*")):
        for img in part.glob("*/HR/*"):
            link = data / img.parent.parent.name / "HR" / img.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(img.resolve())
    return data


ASIDE = STAGE / "aside"


def cmd_aside() -> None:
    """Move tracked files over 1 MiB that the queue's head does not read (other weights, other
    runs' states, figures) under ``.gpudata/aside``, so the working tree leaves room for data."""
    import tomllib

    from sisr.config import apply_overrides

    run = relay.head(relay.read_queue())
    recipe = apply_overrides(tomllib.loads((REPO / run["recipe"]).read_text()), relay.overrides(run))
    keep = {REPO / recipe.get("init", ""), relay.folders(run)[1] / "state.safetensors"}
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    moved = 0
    for name in filter(None, files.decode().split("\0")):
        f = REPO / name
        if f.is_file() and f.stat().st_size > 2**20 and f not in keep:
            dest = ASIDE / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(f, dest)
            moved += 1
    print(f"moved {moved} files to .gpudata/aside; `python tools/gpu_relay.py back` restores them")


def cmd_back() -> None:
    for f in [p for p in ASIDE.rglob("*") if p.is_file()]:
        dest = REPO / f.relative_to(ASIDE)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f, dest)
    print("restored the files set aside")


def cmd_train(seconds: float, workers: int, val_every: int) -> int:
    run = relay.head(relay.read_queue())
    if run is None:
        print("gpu_relay: the queue is empty")
        return 0
    data = _assemble()
    live, saved = relay.folders(run)
    relay.take_committed(live, saved)
    env = dict(os.environ, SISR_DATA=str(data), PYTHONPATH=str(REPO / "src"), PYTHONUNBUFFERED="1")
    # The GPU outruns one CPU's degradation pipeline, and validating every few hundred steps would
    # take a good part of the chunk: draw batches in worker processes, validate less often.
    cmd = relay.train_command(run, live, ["device=auto", "threads=0", f"workers={workers}", f"val_every={val_every}"])
    proc = subprocess.Popen(cmd, env=env)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # the trainer saves its state after the current step
        proc.wait(timeout=120)
    out = Path(os.environ.get("OUT", REPO / "runs" / "gpu_out"))
    out.mkdir(parents=True, exist_ok=True)
    # model.safetensors: the EMA weights at the same step, ready to ship when the run is done.
    for f in ("state.safetensors", "log.jsonl", "model.safetensors"):
        if (live / f).is_file():
            shutil.copy2(live / f, out / f)
    print(f"gpu_relay: {run['name']} at step {relay.state_step(live / 'state.safetensors')}; state in {out}")
    return 0


def cmd_zeroshot(model: str, data: str, scales: list[int], settings: list[str], seconds: float) -> int:
    """A zero-shot bench with one process per (image, scale), all at once on the GPU (a pyramid's
    small convolutions leave it mostly idle, so runs side by side cost little more than one), each
    writing its report; what finishes within ``seconds`` is merged into one report per scale in
    ``$OUT`` (a run still going at the deadline is stopped and left out, and the report says so)."""
    root = _assemble()
    env = dict(os.environ, SISR_DATA=str(root), PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    os.environ["SISR_DATA"] = str(root)
    from sisr.data import dataset_images

    count = len(dataset_images(data))
    out = Path(os.environ.get("OUT", REPO / "runs" / "gpu_out"))
    parts = out / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    if not any(kv.startswith("device=") for kv in settings):
        import torch

        settings = [*settings, f"device={'cuda' if torch.cuda.is_available() else 'cpu'}"]
    extra = [a for kv in settings for a in ("--set", kv)]
    procs = {}
    for s in scales:
        for i in range(1, count + 1):
            dest = parts / f"{model}_x{s}_{i:03d}.json"
            cmd = [sys.executable, "-m", "sisr", "bench", "--models", model, "--data", f"{data}:{i}-{i}"]
            cmd += ["--scale", str(s), "--per-image", "--json", str(dest), "--set", "threads=1", *extra]
            with open(dest.with_suffix(".log"), "wb") as log:
                # Own session: the bench's worker process goes with it at the deadline.
                procs[(s, i)] = subprocess.Popen(
                    cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
    deadline = time.monotonic() + seconds
    for (s, i), p in procs.items():
        try:
            p.wait(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            print(f"gpu_relay: x{s} image {i} stopped at the deadline")
            continue
        if p.returncode:
            lines = (parts / f"{model}_x{s}_{i:03d}.log").read_text(errors="replace").splitlines()
            print(f"gpu_relay: x{s} image {i} failed: {lines[-1] if lines else p.returncode}")
    for s in scales:
        reports = [json.loads(f.read_text()) for f in sorted(parts.glob(f"{model}_x{s}_*.json"))]
        images = [img for r in reports for img in r["results"][0]["images"]]
        if not images:
            print(f"gpu_relay: {model} x{s}: no image finished")
            continue
        row = {"model": model, "dataset": data, "scale": s, "images": images}
        for k in ("psnr_y", "ssim_y"):
            row[k] = sum(img[k] for img in images) / len(images)
        row["seconds"] = round(sum(img["seconds"] for img in images), 3)
        report = {k: v for k, v in reports[0].items() if k != "results"} | {"results": [row]}
        if len(images) < count:
            report["unfinished"] = count - len(images)
        (out / f"{model}_{data}_x{s}.json").write_text(json.dumps(report, indent=1))
        print(f"gpu_relay: {model} {data} x{s}: {len(images)}/{count} images, mean {row['psnr_y']:.2f} dB")
    return 0


def cmd_fetch(folder: Path) -> None:
    run = relay.head(relay.read_queue())
    live, _ = relay.folders(run)
    got = relay.state_step(folder / "state.safetensors")
    if got <= relay.state_step(live / "state.safetensors"):
        sys.exit(f"gpu_relay: {folder} holds no newer state (step {got})")
    live.mkdir(parents=True, exist_ok=True)
    for f in ("state.safetensors", "log.jsonl", "model.safetensors"):
        if (folder / f).is_file():
            shutil.copy2(folder / f, live / f)
    print(f"gpu_relay: runs/{run['name']} now at step {got}; `python tools/relay.py save --commit` records it")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("stage")
    p.add_argument("--part-mib", type=float, default=38.0, help="with `aside`, two parts fit the 64 MiB limit")
    sub.add_parser("aside")
    sub.add_parser("back")
    p = sub.add_parser("train")
    p.add_argument("--seconds", type=float, default=500.0, help="training time before the clean stop")
    p.add_argument("--workers", type=int, default=max(1, (os.cpu_count() or 2) - 2), help="batch-drawing processes")
    p.add_argument("--val-every", type=int, default=1000)
    p = sub.add_parser("zeroshot", help="a zero-shot bench, one process per image and scale")
    p.add_argument("--model", default="singan")
    p.add_argument("--data", default="Set5")
    p.add_argument("--scale", default="2,4")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="zero-shot settings")
    p.add_argument("--seconds", type=float, default=500.0, help="runs still going then are stopped")
    p = sub.add_parser("fetch")
    p.add_argument("folder", type=Path)
    args = ap.parse_args()
    if args.cmd == "stage":
        cmd_stage(args.part_mib)
    elif args.cmd == "aside":
        cmd_aside()
    elif args.cmd == "back":
        cmd_back()
    elif args.cmd == "train":
        return cmd_train(args.seconds, args.workers, args.val_every)
    elif args.cmd == "zeroshot":
        scales = [int(x) for x in args.scale.split(",")]
        return cmd_zeroshot(args.model, args.data, scales, args.set, args.seconds)
    else:
        cmd_fetch(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
