"""GPU playbook: advance the training queue on a lent GPU machine in resumable chunks.

The machine sees a copy of the repository and nothing else: what travels with one call (the
working tree and the paths it carries) is at most 64 MiB, each command may run 10 minutes, and
what comes back from ``$OUT`` is at most 8 files of 16 MiB (64 MiB together). So:

Here (no GPU):
    python tools/gpu_relay.py stage --runs 3
moves the big tracked files the runs do not read (other weights, every run's committed state,
figures) under ``.gpudata/aside`` (``back`` restores them, as does ``relay.py save``),
then packs the training images and the committed states of the queue's first ``--runs`` open
runs into ``.gpudata/part1``, ``part2``, ... each small enough to travel beside the tree. With
the device tool, one call per part (parts stay on the machine while it is warm; the training
call carries the last one):
    run(command="nvidia-smi; PYTHONPATH=src python3 -m pytest -q -rs -p no:cacheprovider "
                "tests/test_train.py tests/test_contract.py -k gpu",
        carry=[".gpudata/part1"])   # the trainer's and inference's GPU-only paths (tests skipped without CUDA)
    run(command="du -sh .gpudata", carry=[".gpudata/part2"])   # a middle part, where stage made three
    run(command="python3 tools/gpu_relay.py train --runs 3 --seconds 500 > $OUT/train.txt 2>&1",
        carry=[".gpudata/part3"], timeout_s=600)   # the last part
``train`` trains those runs side by side on the GPU (a small model alone leaves much of the GPU
idle between its kernels; each run's printed rate says what running side by side cost), stops
each cleanly at the deadline (SIGTERM: the trainer saves its state), prints each run's steps and
rate, and leaves the states, logs and EMA weights in ``$OUT`` as one tar in pieces of at most
15 MiB (``back.tar.000``, ...). Keep --seconds at least 60 under the call's timeout (start-up,
the final saves, the packing).
Back here, with the files the call returned:
    python tools/gpu_relay.py back                  # the files set aside return to the tree
    python tools/gpu_relay.py fetch FILES_AT        # each run's newer state -> runs/<name>/ (done: + weights)
    python tools/relay.py save --commit             # records them in checkpoints/ and the queue
The call that takes a run to its target can measure it there too (``stage --bench
skimage,Set5,Set14,BSD100`` packs those images last): append ``; python3 tools/gpu_relay.py bench
--runs 3 >> $OUT/train.txt 2>&1`` to the training command; ``$OUT/bench_heldout.json`` and
``bench_test.json`` come back.
A zero-shot bench (Set5 travels in part1), one process per image and scale, merged per scale:
    run(command="python3 tools/gpu_relay.py zeroshot --model singan --data Set5 --scale 2,4 "
                "--set preset=paper --seconds 500", carry=[".gpudata/part1"], timeout_s=570)
and here `sisr bench --from-json FILES_AT/singan_Set5_x2.json,... --per-image` makes the tables.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import relay  # noqa: E402  (the queue helpers beside this file; it also puts the checkout's sisr on the path)

REPO = relay.REPO
STAGE = REPO / ".gpudata"
DATASETS = ("Set5", "T91", "BSD200")  # and what the staged runs name; Set5 (1.4 MB) first: zero-shot needs only part1
MiB = 2**20
TRAVEL = 62 * MiB  # a call's tree and carried paths (64 MiB), less a margin for files that change
PIECE = 15 * MiB  # files back: 16 MiB each at most
BACK = 60 * MiB  # files back: 64 MiB together, 8 files at most (the call's own train.txt is one)
STATE_FILES = ("state.safetensors", "log.jsonl")


def _tree_bytes() -> int:
    """What travels with every call: tracked files and untracked ones git does not ignore."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    return sum(f.stat().st_size for n in set(filter(None, out.decode().split("\0"))) if (f := REPO / n).is_file())


def _recipes(runs: list[dict]) -> list[dict]:
    """Each run's recipe with its queue overrides applied."""
    return [relay.recipe(r) for r in runs]


def _env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of a sisr command run here: the staged datasets, the checkout's sisr."""
    return dict(os.environ, SISR_DATA=str(data), PYTHONPATH=str(REPO / "src"), PYTHONUNBUFFERED="1", **extra)


def datasets(runs: list[dict], bench: str = "") -> list[str]:
    """The dataset folders ``runs`` train and validate on (splits name the folder once), after
    ``Set5``, which goes first: a zero-shot bench needs only the first part; then those ``bench``
    names (comma-separated), which go last, into the part the training call carries."""
    names = list(DATASETS)
    for recipe in _recipes(runs):
        for d in [*recipe.get("data", []), recipe.get("val_data", "")]:
            if (name := str(d).split(":")[0]) and name not in names:
                names.append(name)
    return names + [n for n in dict.fromkeys(d.split(":")[0] for d in bench.split(",")) if n and n not in names]


def _aside(runs: list[dict]) -> int:
    """Move tracked files over 1 MiB that ``runs`` do not read from the tree (their inits stay;
    their states travel in the parts) to ``.gpudata/aside``."""
    keep = {REPO / recipe["init"] for recipe in _recipes(runs) if recipe.get("init")}
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    moved = 0
    for name in filter(None, files.decode().split("\0")):
        f = REPO / name
        if f.is_file() and f.stat().st_size > MiB and f not in keep:
            dest = relay.aside() / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(f, dest)
            moved += 1
    return moved


def _committed(path: Path) -> Path:
    """A tracked file, wherever it is now: in the tree, or set aside."""
    return path if path.is_file() else relay.aside() / path.relative_to(REPO)


def pack(sizes: list[int], room: int) -> list[list[int]]:
    """Indices of ``sizes`` in order, cut into consecutive groups of at most ``room`` bytes each."""
    groups: list[list[int]] = []
    used = room
    for i, size in enumerate(sizes):
        if size > room:
            raise ValueError(f"item {i} ({size / MiB:.1f} MiB) is larger than a part ({room / MiB:.1f} MiB)")
        if used + size > room:
            groups.append([])
            used = 0
        groups[-1].append(i)
        used += size
    return groups


def cmd_stage(runs_n: int, part_mib: float | None, bench: str = "") -> None:
    runs = relay.open_runs(relay.read_queue())[:runs_n]
    root = Path(os.environ.get("SISR_DATA") or REPO.parent / "shared" / "datasets")
    names, later = datasets(runs), datasets(runs, bench)[len(datasets(runs)) :]
    if missing := [d for d in names + later if not (root / d / "HR").is_dir()]:  # before anything moves
        sys.exit(f"gpu_relay: no {', '.join(missing)} under {root} (a folder NAME/HR of images each)")
    moved = _aside(runs)
    tree = _tree_bytes()
    room = int(part_mib * MiB) if part_mib else TRAVEL - tree
    items = [(f, Path("data") / d / "HR" / f.name) for d in names for f in sorted((root / d / "HR").iterdir())]
    for run in runs:
        saved = relay.folders(run)[1]
        for name in STATE_FILES:
            src = _committed(saved / name)
            if src.is_file():
                items.append((src, Path("states") / run["name"] / name))
    # The bench's test images last: they are needed only once a run has reached its target.
    items += [(f, Path("data") / d / "HR" / f.name) for d in later for f in sorted((root / d / "HR").iterdir())]
    try:
        groups = pack([f.stat().st_size for f, _ in items], room)
    except ValueError as e:
        sys.exit(f"gpu_relay: {e}; the tree that travels is {tree / MiB:.1f} MiB")
    for old in [*STAGE.glob("part*"), STAGE / "data"]:  # never .gpudata/aside: files set aside live there
        shutil.rmtree(old, ignore_errors=True)
    for k, group in enumerate(groups, 1):
        for i in group:
            src, rel = items[i]
            dest = STAGE / f"part{k}" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
    states = sum(1 for _, rel in items if rel.name == STATE_FILES[0])
    print(f"gpu_relay: moved {moved} files to .gpudata/aside (`back` restores them); the tree is {tree / MiB:.1f} MiB")
    print(
        f"gpu_relay: staged {len(items)} files ({states} run states) in {len(groups)} parts of at most "
        f"{room / MiB:.1f} MiB: carry one per call, "
        + ", ".join(f".gpudata/part{k}" for k in range(1, len(groups) + 1))
    )
    print("gpu_relay: runs: " + ", ".join(r["name"] for r in runs))


def _parts() -> list[Path]:
    return sorted(STAGE.glob("part*"), key=lambda p: int(p.name[4:]))


def _assemble() -> Path:
    """``.gpudata/data/NAME/HR`` linking the images of every part that has arrived."""
    data = STAGE / "data"
    for part in _parts():
        for img in part.glob("data/*/HR/*"):
            link = data / img.parent.parent.name / "HR" / img.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(img.resolve())
    return data


def cmd_back() -> None:
    print(f"gpu_relay: restored the {relay.restore_aside()} files set aside")


def _progress(state: Path) -> tuple[int, float]:
    """(step, training seconds) a state records; (0, 0.0) without one."""
    from sisr.checkpoint import read_header

    if not state.is_file():
        return 0, 0.0
    meta = read_header(state, "train-state")
    return int(meta["step"]), float(meta["elapsed"])


def _staged_state(name: str) -> Path | None:
    return next((d for p in _parts() if (d := p / "states" / name / "state.safetensors").is_file()), None)


def cmd_train(seconds: float, workers: int, val_every: int, runs_n: int, grace: float = 120.0) -> int:
    runs = relay.open_runs(relay.read_queue())[:runs_n]
    if not runs:
        print("gpu_relay: the queue is empty")
        return 0
    data = _assemble()
    env = _env(data)
    # The GPU outruns one CPU's batch drawing: batches come from worker processes, shared out among
    # the runs, and validation comes less often than on a CPU.
    share = max(1, workers // len(runs))
    threads = max(1, (os.cpu_count() or 2) // len(runs))
    settings = ["device=auto", f"threads={threads}", f"workers={share}", f"val_every={val_every}"]
    lives = []
    for run in runs:
        live, saved = relay.folders(run)
        relay.take_committed(live, saved)
        if (staged := _staged_state(run["name"])) is not None:
            relay.take_committed(live, staged.parent)
        if _progress(live / "state.safetensors")[0] < run["step"]:
            # Its committed state was set aside and not staged: training it would start over.
            sys.exit(
                f"gpu_relay: {run['name']} is at step {run['step']} in the queue but its state is not here; "
                f"stage it (`stage --runs {runs_n}`) and carry every part"
            )
        lives.append(live)
    started = time.monotonic()
    procs = []
    for run, live in zip(runs, lives):
        first = _progress(live / "state.safetensors")
        with open(live / "chunk.txt", "wb") as log:
            # Own session: a run killed at the end of its grace takes its batch-drawing workers along.
            proc = subprocess.Popen(
                relay.train_command(run, live, settings),
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        procs.append((run, live, first, proc))
    for _, _, _, proc in procs:
        try:
            proc.wait(timeout=max(0.0, started + seconds - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGTERM)  # the trainer saves its state after the current step
    until = time.monotonic() + grace
    for run, live, first, proc in procs:
        try:
            proc.wait(timeout=max(0.0, until - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its last periodic state stays (states are written whole)
            proc.wait()
        step, seconds_in = _progress(live / "state.safetensors")
        val = relay.last_val(live / "log.jsonl", upto=step)
        if step > first[0]:
            rate = (step - first[0]) / (seconds_in - first[1])  # the trainer's step time: no start-up, no saves
            done = f"step {first[0]:,} -> {step:,} of {run['target']:,} ({rate:.2f} steps/s)"
        else:
            done = f"no new state (step {first[0]:,})"
        print(f"gpu_relay: {run['name']}: {done}; exit {proc.returncode}; val {relay.val_text(val) if val else '-'}")
        if proc.returncode:
            tail = (live / "chunk.txt").read_text(errors="replace").replace("\r", "\n").splitlines()[-5:]
            print("  " + "\n  ".join(tail))
    out = Path(os.environ.get("OUT", REPO / "runs" / "gpu_out"))
    finished = [live for run, live, _, _ in procs if _progress(live / "state.safetensors")[0] >= run["target"]]
    pack_back([live for _, live, _, _ in procs], out, finished=finished)
    return 0


def pack_back(
    lives: list[Path], out: Path, piece: int = PIECE, limit: int = BACK, finished: list[Path] = ()
) -> list[Path]:
    """The runs' states and logs, then their EMA weights (``model.safetensors``) where they fit,
    those of the ``finished`` runs first (the very file a bench there measured, so that its
    checksum in the report is the shipped file's), as one tar cut into pieces of at most ``piece``
    bytes and ``limit`` together in ``out``."""
    groups = [[live / n for n in (*STATE_FILES, "chunk.txt")] for live in lives]  # what a next chunk resumes from
    groups += [[live / "model.safetensors"] for live in sorted(lives, key=lambda lv: lv not in finished)]
    members: list[Path] = []
    total = 0
    for group in groups:
        files = [f for f in group if f.is_file()]
        size = sum(f.stat().st_size + 1024 for f in files)  # and a tar header per member
        if total + size > limit:
            print(
                f"gpu_relay: {', '.join(f.name for f in files)} of {group[0].parent.name} do not fit "
                "what comes back; they stay in runs/ on the machine"
            )
            continue
        members += files
        total += size
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for f in members:
            tar.add(f, f"{f.parent.name}/{f.name}")
    blob = buf.getvalue()
    out.mkdir(parents=True, exist_ok=True)
    pieces = []
    for k, at in enumerate(range(0, len(blob), piece)):
        pieces.append(out / f"back.tar.{k:03d}")
        pieces[-1].write_bytes(blob[at : at + piece])
    print(f"gpu_relay: {len(members)} files in back.tar, {len(pieces)} piece(s) in {out}")
    return pieces


def cmd_zeroshot(model: str, data: str, scales: list[int], settings: list[str], seconds: float) -> int:
    """A zero-shot bench with one process per (image, scale), all at once on the GPU (a pyramid's
    small convolutions leave it mostly idle, so runs side by side cost little more than one), each
    writing its report; what finishes within ``seconds`` is merged into one report per scale in
    ``$OUT`` (a run still going at the deadline is stopped and left out, and the report says so)."""
    root = _assemble()
    env = _env(root, OMP_NUM_THREADS="1")
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


def cmd_bench(heldout: str, test: str, scales: str | None, runs_n: int) -> int:
    """Measure the first ``runs_n`` open runs that have reached their targets on this machine
    (their final EMA weights in ``runs/<name>/``), each at its network's scales (or ``scales``), on
    the ``heldout`` sets, then on the ``test`` sets: one report each in ``$OUT``
    (``bench_heldout.json``, ``bench_test.json``, per image; two files, so that with the state
    pieces and the call's log they stay within the 8 that come back). Back here, a run's rule
    (README) is applied to the held-out report before the test report is read; nothing in either
    chooses the weights, which are the target step's."""
    from sisr.infer import load_model

    runs = relay.open_runs(relay.read_queue())[:runs_n]
    env = _env(_assemble())
    out = Path(os.environ.get("OUT", REPO / "runs" / "gpu_out"))
    done = [
        str(live.relative_to(REPO))
        for run in runs
        if relay.state_step((live := relay.folders(run)[0]) / "state.safetensors") >= run["target"]
        and (live / "model.safetensors").is_file()
    ]
    if not done:
        print("gpu_relay: no run here has reached its target; nothing to measure")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for kind, sets in (("heldout", heldout), ("test", test)):
            if not sets:
                continue
            parts = []
            for model in done:
                at = scales or ",".join(str(s) for s in load_model(str(REPO / model), scale=None).scales)
                parts.append(Path(tmp) / f"{kind}_{len(parts)}.json")
                cmd = [sys.executable, "-m", "sisr", "bench", "--models", model, "--data", sets, "--scale", at]
                cmd += ["--per-image", "--quiet", "--json", str(parts[-1])]
                got = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
                if got.returncode:
                    failed += 1
                    tail = (got.stderr.strip().splitlines() or ["no output"])[-1]
                    print(f"gpu_relay: bench of {model} on {sets} failed: {tail}")
                    parts.pop()
            if not parts:
                continue
            dest = out / f"bench_{kind}.json"
            merge = [sys.executable, "-m", "sisr", "bench", "--from-json", ",".join(map(str, parts))]
            subprocess.run([*merge, "--json", str(dest)], cwd=REPO, env=env, capture_output=True, check=True)
            rows = json.loads(dest.read_text())["results"]
            if kind == "test":  # its figures are read once the rule has been applied to the held-out ones
                print(f"gpu_relay: {len(rows)} rows on the test sets in {dest.name} (not shown here)")
                continue
            for r in rows:
                print(
                    f"gpu_relay: {r['model']} ({kind}) {r['dataset']} x{r['scale']}: {r['psnr_y']:.2f} dB; {dest.name}"
                )
    return 1 if failed else 0


def _final_weights(run: dict, live: Path) -> None:
    """A finished run's EMA weights, which do not fit what comes back: its resume at the target
    trains no step and writes them from the state."""
    cmd = relay.train_command(run, live, ["device=cpu", "threads=1"])
    done = subprocess.run(cmd, cwd=relay.REPO, env=relay.train_env(1), capture_output=True, text=True)
    if done.returncode or not (live / "model.safetensors").is_file():
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"gpu_relay: {run['name']} reached its target, and writing its weights failed: {tail}")
    weights = live.relative_to(relay.REPO) / "model.safetensors"
    print(f"gpu_relay: {run['name']} reached its target; its weights: {weights}")


def cmd_fetch(folder: Path) -> None:
    pieces = sorted(folder.glob("back.tar.*"))
    if not pieces:
        sys.exit(f"gpu_relay: {folder} holds no back.tar pieces")
    runs = {r["name"]: r for r in relay.open_runs(relay.read_queue())}
    newer = 0
    with tempfile.TemporaryDirectory() as tmp:
        blob = io.BytesIO(b"".join(p.read_bytes() for p in pieces))
        with tarfile.open(fileobj=blob) as tar:
            tar.extractall(tmp, filter="data")
        for got in sorted(Path(tmp).iterdir()):
            live = relay.REPO / "runs" / got.name
            step, have = relay.state_step(got / "state.safetensors"), relay.state_step(live / "state.safetensors")
            if got.name not in runs or step <= have:
                print(f"gpu_relay: {got.name}: nothing newer (step {step}; runs/ holds {have})")
                continue
            live.mkdir(parents=True, exist_ok=True)
            for f in got.iterdir():
                shutil.copy2(f, live / f.name)
            print(f"gpu_relay: runs/{got.name} now at step {step:,}")
            newer += 1
            if step >= runs[got.name]["target"] and not (got / "model.safetensors").is_file():
                _final_weights(runs[got.name], live)
    if not newer:
        sys.exit("gpu_relay: no newer state came back")
    print("gpu_relay: `python tools/relay.py save --commit` records them")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("stage", help="set big files aside; pack images and run states into parts")
    p.add_argument("--runs", type=int, default=1, help="the queue's first N open runs")
    p.add_argument("--part-mib", type=float, default=None, help="default: what fits beside the tree")
    p.add_argument("--bench", default="", help="datasets for `bench` too, e.g. skimage,Set5,Set14,BSD100")
    sub.add_parser("back", help="return the files set aside to the tree")
    p = sub.add_parser("train", help="train the first N open runs side by side")
    p.add_argument("--runs", type=int, default=1, help="the queue's first N open runs")
    p.add_argument("--seconds", type=float, default=500.0, help="training time before the clean stop")
    p.add_argument(
        "--workers",
        type=int,
        default=max(1, (os.cpu_count() or 2) - 2),
        help="batch-drawing processes, all runs together",
    )
    p.add_argument("--val-every", type=int, default=1000)
    p = sub.add_parser("zeroshot", help="a zero-shot bench, one process per image and scale")
    p.add_argument("--model", default="singan")
    p.add_argument("--data", default="Set5")
    p.add_argument("--scale", default="2,4")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="zero-shot settings")
    p.add_argument("--seconds", type=float, default=500.0, help="runs still going then are stopped")
    p = sub.add_parser("bench", help="measure the runs that reached their targets here: held out, then test")
    p.add_argument("--runs", type=int, default=1, help="the queue's first N open runs")
    p.add_argument("--heldout", default="skimage", help="datasets the run's rule reads")
    p.add_argument("--test", default="Set5,Set14,BSD100", help="datasets measured once, at the end")
    p.add_argument("--scale", default=None, help="default: each run's network's scales")
    p = sub.add_parser("fetch", help="each run's newer state from the returned pieces -> runs/")
    p.add_argument("folder", type=Path)
    args = ap.parse_args()
    if args.cmd == "stage":
        cmd_stage(args.runs, args.part_mib, args.bench)
    elif args.cmd == "back":
        cmd_back()
    elif args.cmd == "train":
        return cmd_train(args.seconds, args.workers, args.val_every, args.runs)
    elif args.cmd == "bench":
        return cmd_bench(args.heldout, args.test, args.scale, args.runs)
    elif args.cmd == "zeroshot":
        scales = [int(x) for x in args.scale.split(",")]
        return cmd_zeroshot(args.model, args.data, scales, args.set, args.seconds)
    else:
        cmd_fetch(args.folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
