"""The training relay: resume the head of configs/queue.toml, and save its state for the next session.

    python tools/relay.py status            # the queue, and the head run's latest step and validation
    python tools/relay.py start             # resume the head run in the background on one core
    python tools/relay.py stop              # stop it (it saves its state on SIGTERM)
    python tools/relay.py save [--commit]   # copy the head run's state into checkpoints/, update the queue

A run trains in ``runs/<name>/`` (ignored by git); ``checkpoints/<name>/`` holds its latest
committed state (weights, EMA, optimizer, step, RNG), from which ``start`` resumes on a fresh
clone. Training precision follows the machine: bf16 where the CPU or GPU has native bf16
(the recipe's setting), fp32 elsewhere, where emulated bf16 is many times slower.
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
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUEUE = REPO / "configs" / "queue.toml"
FIELDS = ("name", "recipe", "target", "status", "step", "val")


def read_queue() -> list[dict]:
    return tomllib.loads(QUEUE.read_text())["run"]


def write_queue(runs: list[dict]) -> None:
    text = QUEUE.read_text()
    header = text[: text.index("[[run]]")]
    body = []
    for r in runs:
        lines = ["[[run]]"]
        for k in FIELDS:
            v = r[k]
            lines.append(f"{k} = {json.dumps(v) if isinstance(v, str) else v}")
        body.append("\n".join(lines) + "\n")
    QUEUE.write_text(header + "\n".join(body))


def head(runs: list[dict]) -> dict | None:
    return next((r for r in runs if r["status"] != "done"), None)


def state_step(path: Path) -> int:
    """The step stored in a training state, or -1 when there is none."""
    if not path.is_file():
        return -1
    from sisr.checkpoint import read_header

    return int(read_header(path, "train-state")["step"])


def last_val(log: Path) -> tuple[int, dict] | None:
    if not log.is_file():
        return None
    vals = [json.loads(line) for line in log.read_text().splitlines() if '"val_psnr"' in line]
    if not vals:
        return None
    from sisr.train.supervised import val_figures

    return vals[-1]["step"], val_figures(vals[-1])


def folders(run: dict) -> tuple[Path, Path]:
    return REPO / "runs" / run["name"], REPO / "checkpoints" / run["name"]


def pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def cmd_status(runs: list[dict]) -> None:
    for r in runs:
        live, saved = folders(r)
        print(f"{r['name']}: {r['status']}, target {r['target']}, queue step {r['step']}, val {r['val'] or '-'}")
        if r["status"] != "done":
            pid = pid_alive(live / "relay.pid")
            print(f"  runs/: step {state_step(live / 'state.safetensors')}, last val {last_val(live / 'log.jsonl')}")
            print(f"  checkpoints/: step {state_step(saved / 'state.safetensors')}; training: {pid or 'no'}")


def head_or_exit(runs: list[dict]) -> tuple[dict, Path, Path]:
    """The queue's head run and its ``runs/`` and ``checkpoints/`` folders; exits when the queue is empty."""
    run = head(runs)
    if run is None:
        sys.exit("relay: the queue is empty (every run is done)")
    return (run, *folders(run))


def take_committed(live: Path, saved: Path) -> None:
    """Start from the committed state when it is newer than the one in ``runs/``."""
    live.mkdir(parents=True, exist_ok=True)
    if state_step(saved / "state.safetensors") > state_step(live / "state.safetensors"):
        for f in ("state.safetensors", "log.jsonl"):
            shutil.copy2(saved / f, live / f)


def cmd_start(runs: list[dict], threads: int) -> None:
    from sisr.precision import native_bf16

    run, live, saved = head_or_exit(runs)
    if pid_alive(live / "relay.pid"):
        sys.exit(f"relay: {run['name']} is already training (pid {(live / 'relay.pid').read_text().strip()})")
    take_committed(live, saved)
    device = "cuda" if _cuda() else "cpu"
    cmd = [sys.executable, "-m", "sisr", "train", str(REPO / run["recipe"])]
    cmd += ["--set", f"out={live}", "--set", f"steps={run['target']}", "--set", f"device={device}"]
    if not native_bf16(device):
        cmd += ["--set", "bf16=false"]
    if device == "cpu":
        cmd += ["--set", f"threads={threads}"]
    if (live / "state.safetensors").is_file():
        cmd.append("--resume")
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    if "SISR_DATA" not in env and (REPO.parent / "shared" / "datasets").is_dir():
        env["SISR_DATA"] = str(REPO.parent / "shared" / "datasets")  # the layout CI uses
    if "SISR_DATA" not in env:
        sys.exit("relay: set SISR_DATA to the folder of datasets (T91/HR, BSD200/HR, ...)")
    with (live / "relay.log").open("a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    (live / "relay.pid").write_text(str(proc.pid))
    print(f"relay: {run['name']} training in the background (pid {proc.pid}); log {live / 'relay.log'}")
    print("  " + " ".join(cmd))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_stop(runs: list[dict]) -> None:
    run = head(runs)
    pid = pid_alive(folders(run)[0] / "relay.pid") if run else None
    if pid is None:
        print("relay: nothing is training")
        return
    os.killpg(pid, signal.SIGTERM)
    # Wait for the exit, so that a `start` or `save` right after sees a stopped run.
    for _ in range(600):
        if pid_alive(folders(run)[0] / "relay.pid") is None:
            print(f"relay: stopped {run['name']} (pid {pid}); it saved its state in runs/{run['name']}/ on the way out")
            return
        time.sleep(0.1)
    print(f"relay: {run['name']} (pid {pid}) is still saving after 60 s; run `relay.py status` before `save`")


def cmd_save(runs: list[dict], commit: bool) -> None:
    run, live, saved = head_or_exit(runs)
    step = state_step(live / "state.safetensors")
    if step <= state_step(saved / "state.safetensors"):
        sys.exit(f"relay: runs/{run['name']} holds no newer state than checkpoints/ (step {step})")
    saved.mkdir(parents=True, exist_ok=True)
    for f in ("state.safetensors", "log.jsonl"):
        tmp = saved / (f + ".part")
        shutil.copy2(live / f, tmp)
        tmp.replace(saved / f)
    val = last_val(live / "log.jsonl")
    run["step"] = step
    run["status"] = "done" if step >= run["target"] else "active"
    if val:
        run["val"] = f"step {val[0]}: " + ", ".join(f"x{k} {v:.2f}" for k, v in val[1].items()) + " dB (held-out)"
    write_queue(runs)
    msg = f"Relay: {run['name']} state at step {step:,} of {run['target']:,}" + (f"; val {run['val']}" if val else "")
    print(msg)
    if commit:
        subprocess.run(["git", "add", str(saved), str(QUEUE)], cwd=REPO, check=True)
        # Only the state and the queue: other staged work keeps its own commit.
        subprocess.run(["git", "commit", "-m", msg, "--", str(saved), str(QUEUE)], cwd=REPO, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status")
    p = sub.add_parser("start")
    p.add_argument("--threads", type=int, default=1)
    sub.add_parser("stop")
    p = sub.add_parser("save")
    p.add_argument("--commit", action="store_true", help="git-commit the state and the queue file")
    args = ap.parse_args()
    runs = read_queue()
    if args.cmd == "status":
        cmd_status(runs)
    elif args.cmd == "start":
        cmd_start(runs, args.threads)
    elif args.cmd == "stop":
        cmd_stop(runs)
    else:
        cmd_save(runs, args.commit)


if __name__ == "__main__":
    main()
