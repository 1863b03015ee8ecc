"""The training relay: resume the head of configs/queue.toml, and save its state for the next session.

    python tools/relay.py status            # the queue; each open run's step, validation, hours left
    python tools/relay.py start             # resume this machine's head run in the background on one core
    python tools/relay.py stop              # stop it (it saves its state on SIGTERM)
    python tools/relay.py save [--commit]   # copy every newer run state into checkpoints/, update the queue
    python tools/relay.py judge NAME [--report bench_heldout.json] [--ship]   # a finished run's rule, held out

The head is the first run not done. A CPU machine passes by the runs marked ``where = "gpu"`` (too
big for one CPU core), and those marked ``where = "bf16"`` unless it has native bf16 (tens of hours
there, hundreds in fp32). Of the rest it takes an unmarked run before a ``bf16`` one (a GPU trains
those about a hundred times faster, so an hour of one core buys a run it can finish far more), and a
run it has started (active) before a queued one, so that no run is left half done. The GPU playbook,
tools/gpu_relay.py, takes the first run of any kind.
A run's ``set = {key = value, ...}`` table overrides its recipe (passed as ``--set key=value``), so a
variant of a recipe (more steps, another split, a wider model) is a queue entry, not a copied file.

A run's ``rule = {data, against, scale, gain[, hold]}``, written before it finishes, says when its
final EMA weights replace a shipped model: ``judge`` measures both on the held-out ``data`` (or
takes the run's rows from a GPU bench report) and says whether the run gained at least ``gain`` dB
at ``scale``, paired by image, without falling at the ``hold`` scales.

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
import statistics
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(1, str(REPO / "src"))  # sisr from this checkout where it is not installed (a lent GPU machine)
QUEUE = REPO / "configs" / "queue.toml"
FIELDS = ("name", "recipe", "target", "status", "step", "val")
OPTIONAL = ("where", "set", "rule")  # where: which machines take it (WHERE); set: recipe overrides; rule: judge
WHERE = {"gpu": "GPU only", "bf16": "GPU, or a CPU with native bf16"}


def read_queue() -> list[dict]:
    runs = tomllib.loads(QUEUE.read_text()).get("run", [])
    for r in runs:
        if r.get("where", "gpu") not in WHERE:
            kinds = " or ".join(map(repr, WHERE))
            sys.exit(f"relay: {r['name']}: where = {r['where']!r} (use {kinds}, or leave it out)")
    return runs


def toml_value(v) -> str:
    """``v`` (string, number, bool, list, table) as an inline TOML value."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)  # JSON's string escapes are TOML basic-string escapes
    if isinstance(v, list):
        return "[" + ", ".join(map(toml_value, v)) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return repr(v)


def write_queue(runs: list[dict]) -> None:
    text = QUEUE.read_text()
    header = text[: text.index("[[run]]")]
    body = []
    for r in runs:
        lines = ["[[run]]"]
        lines += [f"{k} = {toml_value(r[k])}" for k in FIELDS + tuple(k for k in OPTIONAL if k in r)]
        body.append("\n".join(lines) + "\n")
    QUEUE.write_text(header + "\n".join(body))


def overrides(run: dict) -> list[str]:
    """The run's ``set`` table as ``key=value`` recipe overrides (nested tables as dotted keys)."""

    def flat(table: dict, prefix: str = "") -> list[str]:
        out = []
        for k, v in table.items():
            out += flat(v, f"{prefix}{k}.") if isinstance(v, dict) else [f"{prefix}{k}={toml_value(v)}"]
        return out

    return flat(run.get("set", {}))


def recipe(run: dict) -> dict:
    """The run's recipe (a TOML table) with its queue overrides applied."""
    from sisr.config import apply_overrides

    return apply_overrides(tomllib.loads((REPO / run["recipe"]).read_text()), overrides(run))


def train_command(run: dict, live: Path, settings: list[str]) -> list[str]:
    """``sisr train`` for ``run`` in ``live``: its recipe, its overrides, then this machine's
    ``settings`` (which win), resuming where ``live`` holds a state. Paths are relative to the
    repository (the recipe shipped weights record then names no machine's folders), so the command
    runs there (``cwd=REPO``), as the recipes' ``init`` paths need."""
    cmd = [sys.executable, "-m", "sisr", "train", run["recipe"]]
    for kv in [*overrides(run), f"out={live.relative_to(REPO)}", f"steps={run['target']}", *settings]:
        cmd += ["--set", kv]
    if (live / "state.safetensors").is_file():
        cmd.append("--resume")
    return cmd


def open_runs(runs: list[dict]) -> list[dict]:
    return [r for r in runs if r["status"] != "done"]


def head(runs: list[dict], cpu: bool = False, bf16: bool = False) -> dict | None:
    """The first run not done; with ``cpu`` (``bf16``: native), the first one such a CPU takes: an
    unmarked run before a ``bf16`` one, a started one before a queued one."""
    if not cpu:
        return next(iter(open_runs(runs)), None)
    fits = [r for r in open_runs(runs) if r.get("where") is None or (bf16 and r["where"] == "bf16")]
    # min keeps the first of equals
    return min(fits, key=lambda r: ("where" in r, r["status"] != "active"), default=None)


def state_step(path: Path) -> int:
    """The step stored in a training state, or -1 when there is none."""
    if not path.is_file():
        return -1
    from sisr.checkpoint import read_header

    return int(read_header(path, "train-state")["step"])


def last_device(path: Path) -> str | None:
    """The device a training state's last stretch of steps ran on, as the state records it (None
    for a state saved before it recorded devices)."""
    if not path.is_file():
        return None
    from sisr.checkpoint import read_header

    stretches = read_header(path, "train-state").get("devices") or []
    return stretches[-1][0] if stretches else None


def last_val(log: Path, upto: int | None = None) -> tuple[int, dict] | None:
    """The log's last validation, of a step at most ``upto`` where given (a state's step: a run
    killed between states logged steps that its resume redoes)."""
    if not log.is_file():
        return None
    vals = [json.loads(line) for line in log.read_text().splitlines() if '"val_psnr"' in line]
    vals = [v for v in vals if upto is None or v["step"] <= upto]
    if not vals:
        return None
    from sisr.train.supervised import val_figures

    return vals[-1]["step"], val_figures(vals[-1])


def last_rate(log: Path, last: int = 10) -> float | None:
    """The median of the last ``last`` step rates a run logged (one right after a resume is low)."""
    if not log.is_file():
        return None
    rates = [json.loads(line)["steps_per_s"] for line in log.read_text().splitlines() if '"steps_per_s"' in line]
    return statistics.median(rates[-last:]) if rates else None


def val_trend(log: Path, upto: int | None = None, last: int = 5) -> str | None:
    """How the held-out figure moved over the log's ``last`` validations (of steps up to
    ``upto``): each scale's least-squares slope per 1,000 steps, e.g. "x4 +0.004 dB per 1,000 steps
    over steps 54,000-62,000"; None with fewer than three."""
    if not log.is_file():
        return None
    vals = [json.loads(line) for line in log.read_text().splitlines() if '"val_psnr"' in line]
    vals = [v for v in vals if upto is None or v["step"] <= upto][-last:]
    if len(vals) < 3:
        return None
    steps = [v["step"] / 1000 for v in vals]
    mean_s = sum(steps) / len(steps)
    spread = sum((x - mean_s) ** 2 for x in steps)
    if spread == 0:
        return None
    slopes = []
    for k in vals[-1]["val_psnr"]:
        ys = [v["val_psnr"].get(k) for v in vals]
        if None in ys:
            continue
        mean_y = sum(ys) / len(ys)
        slopes.append(f"x{k} {sum((x - mean_s) * (y - mean_y) for x, y in zip(steps, ys)) / spread:+.3f}")
    span = f"steps {vals[0]['step']:,}-{vals[-1]['step']:,}"
    return f"{', '.join(slopes)} dB per 1,000 steps over {span}" if slopes else None


def val_text(val: tuple[int, dict]) -> str:
    """A ``last_val`` as the queue records it: "step 250: x2 30.69, x4 26.62 dB (held-out)"."""
    return f"step {val[0]}: " + ", ".join(f"x{k} {v:.2f}" for k, v in val[1].items()) + " dB (held-out)"


def folders(run: dict) -> tuple[Path, Path]:
    return REPO / "runs" / run["name"], REPO / "checkpoints" / run["name"]


def newest(run: dict) -> tuple[int, Path]:
    """The run's latest step (of its ``runs/`` state, its committed one and the queue's record)
    and the folder whose log goes with it."""
    live, saved = folders(run)
    steps = {d: state_step(d / "state.safetensors") for d in (live, saved)}
    folder = max(steps, key=steps.get)
    return max(run["step"], steps[folder]), folder


def pid_alive(pidfile: Path) -> int | None:
    try:
        pid = int(pidfile.read_text())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def aside() -> Path:
    """Where ``gpu_relay.py stage`` puts the tracked files a GPU call need not carry."""
    return REPO / ".gpudata" / "aside"


def aside_files() -> list[Path]:
    return sorted(p for p in aside().rglob("*") if p.is_file())


def restore_aside() -> int:
    """Return the files ``stage`` set aside to the tree (a file back there already, say from
    ``git checkout``, is kept and its copy dropped); how many came back."""
    moved = 0
    for f in aside_files():
        dest = REPO / f.relative_to(aside())
        if dest.exists():
            f.unlink()
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f, dest)
        moved += 1
    shutil.rmtree(aside(), ignore_errors=True)
    return moved


def cmd_status(runs: list[dict]) -> None:
    if held := aside_files():
        print(
            f"relay: {len(held)} tracked files are set aside in .gpudata/aside for a GPU call; "
            "`gpu_relay.py back` (or `relay.py save`) returns them"
        )
    for r in runs:
        live, saved = folders(r)
        where = f" ({WHERE[r['where']]})" if "where" in r else ""
        print(f"{r['name']}{where}: {r['status']}, target {r['target']}, queue step {r['step']}, val {r['val'] or '-'}")
        if r["status"] != "done":
            pid = pid_alive(live / "relay.pid")
            print(f"  runs/: step {state_step(live / 'state.safetensors')}, last val {last_val(live / 'log.jsonl')}")
            print(f"  checkpoints/: step {state_step(saved / 'state.safetensors')}; training: {pid or 'no'}")
            step, folder = newest(r)
            if rule := r.get("rule"):
                print(f"  rule: {rule_text(rule)} (`relay.py judge {r['name']}` at its target)")
            if trend := val_trend(folder / "log.jsonl", upto=step):
                print(f"  validation trend: {trend}")
            if rate := last_rate(folder / "log.jsonl"):
                left = (r["target"] - step) / rate / 3600
                # The rate is the last device's: a GPU run's few CPU steps would promise it hundreds of hours.
                on = last_device(folder / "state.safetensors") or "a machine its state does not record"
                print(f"  about {left:,.1f} h to target at {rate:.3g} steps/s, its last logged rate (on {on})")


def head_or_exit(runs: list[dict], cpu: bool, bf16: bool) -> tuple[dict, Path, Path]:
    """The head run and its ``runs/`` and ``checkpoints/`` folders; exits when there is none."""
    run = head(runs, cpu, bf16)
    if run is None:
        why = " or marked for a GPU" + ("" if bf16 else " or a CPU with native bf16") if cpu else ""
        sys.exit(f"relay: no run left for this machine (every run is done{why})")
    return (run, *folders(run))


def take_committed(live: Path, saved: Path) -> None:
    """Start from the committed state when it is newer than the one in ``runs/``."""
    live.mkdir(parents=True, exist_ok=True)
    if state_step(saved / "state.safetensors") > state_step(live / "state.safetensors"):
        for f in ("state.safetensors", "log.jsonl"):
            shutil.copy2(saved / f, live / f)


def train_env(threads: int) -> dict[str, str]:
    """The environment a train command runs in: ``threads`` threads, and the datasets."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), PYTHONUNBUFFERED="1")
    if "SISR_DATA" not in env and (REPO.parent / "shared" / "datasets").is_dir():
        env["SISR_DATA"] = str(REPO.parent / "shared" / "datasets")  # the layout CI uses
    if "SISR_DATA" not in env:
        sys.exit("relay: set SISR_DATA to the folder of datasets (T91/HR, BSD200/HR, ...)")
    return env


def cmd_start(runs: list[dict], threads: int) -> None:
    from sisr.precision import native_bf16

    if held := aside_files():
        # The run could lack its init or committed state, and returning them would make the tree
        # too big for the GPU calls that the files were set aside for.
        sys.exit(
            f"relay: {len(held)} tracked files are set aside for a GPU call (`gpu_relay.py stage`); "
            "run `gpu_relay.py back` after the GPU calls, then start"
        )
    device = "cuda" if _cuda() else "cpu"
    run, live, saved = head_or_exit(runs, cpu=device == "cpu", bf16=native_bf16(device))
    if pid_alive(live / "relay.pid"):
        sys.exit(f"relay: {run['name']} is already training (pid {(live / 'relay.pid').read_text().strip()})")
    take_committed(live, saved)
    settings = [f"device={device}"] + ([] if native_bf16(device) else ["bf16=false"])
    cmd = train_command(run, live, settings + ([f"threads={threads}"] if device == "cpu" else []))
    env = train_env(threads)
    with (live / "relay.log").open("a") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=REPO)
    (live / "relay.pid").write_text(str(proc.pid))
    from sisr.config import load_config
    from sisr.train.supervised import TrainConfig

    bf16 = load_config(REPO / run["recipe"], TrainConfig, overrides(run) + settings).bf16  # as the trainer reads it
    precision = "bf16 (native)" if bf16 else "fp32" + ("" if native_bf16(device) else " (no native bf16 here)")
    print(f"relay: {run['name']} training in the background in {precision} (pid {proc.pid}); log {live / 'relay.log'}")
    print("  " + " ".join(cmd))


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def cmd_stop(runs: list[dict]) -> None:
    pidfiles = [folders(r)[0] / "relay.pid" for r in open_runs(runs)]
    live = {f: pid for f in pidfiles if (pid := pid_alive(f))}
    if not live:
        print("relay: nothing is training")
    for pidfile, pid in live.items():
        name = pidfile.parent.name
        os.killpg(pid, signal.SIGTERM)
        # Wait for the exit, so that a `start` or `save` right after sees a stopped run.
        for _ in range(600):
            if pid_alive(pidfile) is None:
                print(f"relay: stopped {name} (pid {pid}); it saved its state in runs/{name}/ on the way out")
                break
            time.sleep(0.1)
        else:
            print(f"relay: {name} (pid {pid}) is still saving after 60 s; run `relay.py status` before `save`")


def cmd_save(runs: list[dict], commit: bool) -> None:
    """Record every open run whose ``runs/`` state is newer than its committed one (the CPU relay's
    head, and a run a GPU chunk advanced)."""
    if n := restore_aside():
        # `back` forgotten after the GPU calls: a commit now would record those files as deleted.
        print(f"relay: restored {n} files that `gpu_relay.py stage` had set aside, before saving")
    msgs, paths = [], [str(QUEUE)]
    for run in open_runs(runs):
        live, saved = folders(run)
        step = state_step(live / "state.safetensors")
        if step <= state_step(saved / "state.safetensors"):
            continue
        done = step >= run["target"]
        if done:
            # A finished run keeps no state: its weights ship from runs/<name>/ with a card, or its
            # log is kept as a probe's record. A state committed while it was active goes.
            tracked = subprocess.run(
                ["git", "ls-files", "--", str(saved)], cwd=REPO, capture_output=True, text=True
            ).stdout.strip()
            shutil.rmtree(saved, ignore_errors=True)
            if tracked:
                paths.append(str(saved))
        else:
            saved.mkdir(parents=True, exist_ok=True)
            tmp = saved / "state.safetensors.part"
            shutil.copy2(live / "state.safetensors", tmp)
            tmp.replace(saved / "state.safetensors")
            # The log as far as the state: the records past it are of steps a resume redoes.
            lines = (live / "log.jsonl").read_text().splitlines(keepends=True)
            kept = "".join(line for line in lines if json.loads(line).get("step", 0) <= step)
            (saved / "log.jsonl.part").write_text(kept)
            (saved / "log.jsonl.part").replace(saved / "log.jsonl")
            paths.append(str(saved))
        val = last_val(live / "log.jsonl", upto=step)
        run["step"] = step
        run["status"] = "done" if done else "active"
        if val:
            run["val"] = val_text(val)
        msg = f"{run['name']} state at step {step:,} of {run['target']:,}"
        msgs.append(msg + (" (done: its state is not kept)" if done else "") + (f"; val {run['val']}" if val else ""))
    if not msgs:
        sys.exit("relay: no run in runs/ holds a newer state than checkpoints/")
    write_queue(runs)
    msg = "Relay: " + "; ".join(msgs)
    print(msg)
    if commit:
        subprocess.run(["git", "add", *paths], cwd=REPO, check=True)
        # Only the states and the queue: other staged work keeps its own commit.
        subprocess.run(["git", "commit", "-m", msg, "--", *paths], cwd=REPO, check=True)


def rule_text(rule: dict) -> str:
    held = "".join(f", x{s} not falling" for s in rule.get("hold", []))
    return f"replaces {rule['against']} if {rule['data']} x{rule['scale']} gains >= {rule['gain']:g} dB{held}"


def judge(run: dict, report: dict | None = None) -> tuple[bool, list[str], dict]:
    """Whether ``run``'s final EMA weights pass its ``rule``, a line per scale (its mean PSNR gain
    over ``against`` on the rule's held-out set, paired by image with a 95% interval), and the
    report of both. The run's rows come from ``report`` (a GPU bench of ``runs/<name>``) or are
    measured here; the shipped model it would replace is measured here, on the same images (a
    report's images, and the weights it measured, are checked)."""
    from sisr.bench import file_sha256, paired, run_bench
    from sisr.errors import SisrError

    rule = run.get("rule")
    if not rule:
        raise SisrError(f"{run['name']}: no rule in the queue; write one before it finishes")
    live = folders(run)[0]
    step = state_step(live / "state.safetensors")
    if report is None and step < run["target"]:  # a report says which weights it measured; these are the run's now
        raise SisrError(f"{run['name']}: at step {step} of {run['target']}; its rule is for its final weights")
    scales = [int(rule["scale"]), *(int(s) for s in rule.get("hold", []))]
    mine = str(live.relative_to(REPO))
    if report is not None:
        measured = report.get("provenance", {}).get("weights", {}).get(mine, {}).get("sha256")
        here = live / "model.safetensors"
        if measured and here.is_file() and measured != file_sha256(here).hex():
            raise SisrError(
                f"the report measured other weights than {here.relative_to(REPO)}: the file that would ship"
            )
        rows = [r for r in report["results"] if r["model"] == mine and r["dataset"] == rule["data"]]
        if {r["scale"] for r in rows} < set(scales):
            raise SisrError(f"the report has no {rule['data']} rows of {mine} at x{', x'.join(map(str, scales))}")
        rows = [r for r in rows if r["scale"] in scales]
        weights = {mine: report["provenance"]["weights"][mine]} if measured else {}
        budget = report.get("budgets", {}).get(mine)
    else:
        here = run_bench([str(live)], [rule["data"]], scales, progress=False)
        rows = [{**r, "model": mine} for r in here["results"]]  # named as a GPU report names it
        weights = {mine: here["provenance"]["weights"][str(live)]}
        budget = here["budgets"][str(live)]
    theirs = run_bench([rule["against"]], [rule["data"]], scales, progress=False)
    images = (report or {}).get("provenance", {}).get("datasets", {}).get(rule["data"])
    if images and images != theirs["provenance"]["datasets"][rule["data"]]:
        raise SisrError(f"the report's {rule['data']} images are not the ones here; their figures do not pair")
    both = {**theirs, "results": rows + theirs["results"]}  # the record of the verdict, as a bench report
    both["provenance"] = {**theirs["provenance"], "weights": weights | theirs["provenance"]["weights"]}
    both["budgets"] = {mine: budget or "not recorded"} | theirs.get("budgets", {})
    gains = paired(both, rule["against"])
    ok, lines = True, []
    for s in scales:
        g = gains[(mine, rule["data"], s)]
        need = float(rule["gain"]) if s == scales[0] else 0.0
        passed = g["mean"] >= need
        ok &= passed
        what = f"at least {need:+.2f}" if s == scales[0] else "not below 0 (held)"
        lines.append(
            f"{run['name']} x{s} on {rule['data']}: {g['mean']:+.3f} dB over {rule['against']} "
            f"(95% {g['low']:+.2f} to {g['high']:+.2f}, higher on {g['higher']} of {g['n']}); "
            f"needs {what}: {'yes' if passed else 'no'}"
        )
    return ok, lines, both


def cmd_judge(runs: list[dict], name: str, report_path: str | None, ship: bool = False) -> int:
    from sisr.errors import SisrError

    run = next((r for r in runs if r["name"] == name), None)
    try:
        if run is None:
            raise SisrError(f"no run named {name} in the queue")
        report = json.loads(Path(report_path).read_text()) if report_path else None
        ok, lines, both = judge(run, report)
    except (SisrError, OSError, json.JSONDecodeError) as e:
        sys.exit(f"relay: {e}")
    print("\n".join(lines))
    verdict = f"replaces {run['rule']['against']}" if ok else f"does not replace {run['rule']['against']}"
    print(f"relay: {name} {verdict} (its rule: {rule_text(run['rule'])})")
    if ok and ship:
        _ship(run, both)
    return 0 if ok else 1


def _ship(run: dict, both: dict) -> None:
    """A run that passed its rule takes the shipped model's place: the held-out record of the verdict
    (``benchmarks/results/MODEL/heldout.*``), its EMA weights and its log (its card's curve)."""
    from sisr.atomic import write_atomic
    from sisr.bench import to_markdown
    from sisr.models import PRETRAINED

    model, live = run["rule"]["against"], folders(run)[0]
    if model not in PRETRAINED:
        sys.exit(f"relay: {model} is not a shipped model; a new name needs its PRETRAINED entry first")
    record = REPO / "benchmarks" / "results" / model
    record.mkdir(parents=True, exist_ok=True)
    write_atomic(record / "heldout.json", json.dumps(both, indent=1) + "\n")
    write_atomic(record / "heldout.md", to_markdown(both, per_image=True, against=model) + "\n")
    weights = REPO / "src" / "sisr" / "weights" / PRETRAINED[model][0]
    write_atomic(weights, (live / "model.safetensors").read_bytes())
    logs = REPO / "benchmarks" / "cards" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    write_atomic(logs / f"{model}.jsonl", (live / "log.jsonl").read_bytes())
    done = ", ".join(str(p.relative_to(REPO)) for p in (record / "heldout.md", weights, logs / f"{model}.jsonl"))
    print(
        f"relay: shipped {run['name']} as {model}: {done}. Next: the README's Tables 1 and 2 command (the "
        f"test sets, once), `python benchmarks/model_card.py {model} --bench ... --notes ... --log "
        f"benchmarks/cards/logs/{model}.jsonl`, then `relay.py save --commit`"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("status")
    p = sub.add_parser("start")
    p.add_argument("--threads", type=int, default=1)
    sub.add_parser("stop")
    p = sub.add_parser("save")
    p.add_argument("--commit", action="store_true", help="git-commit the state and the queue file")
    p = sub.add_parser("judge", help="a finished run's rule: does it replace the shipped model (exit 0) or not (1)")
    p.add_argument("name", help="a run of configs/queue.toml")
    p.add_argument("--report", help="the run's rows from a bench report (gpu_relay bench's bench_heldout.json)")
    p.add_argument("--ship", action="store_true", help="if it passes: its weights, log and held-out record ship")
    args = ap.parse_args()
    runs = read_queue()
    try:
        if args.cmd == "status":
            cmd_status(runs)
        elif args.cmd == "start":
            cmd_start(runs, args.threads)
        elif args.cmd == "stop":
            cmd_stop(runs)
        elif args.cmd == "judge":
            sys.exit(cmd_judge(runs, args.name, args.report, args.ship))
        else:
            cmd_save(runs, args.commit)
    except BrokenPipeError:  # `relay.py status | head`
        from sisr.errors import closed_pipe

        sys.exit(closed_pipe())
    except ModuleNotFoundError as e:  # sisr's own imports are lazy: a Python without torch gets this far
        sys.exit(f"relay: {e.name} is missing; run it with the project's Python (`make setup`, then .venv/bin/python)")


if __name__ == "__main__":
    main()
