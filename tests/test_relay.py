"""The training relay's queue file and state bookkeeping (tools/relay.py)."""

import json
import os
import shutil
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import relay  # noqa: E402

from sisr.checkpoint import load_checkpoint, save_tensors  # noqa: E402
from sisr.config import apply_overrides, load_config  # noqa: E402
from sisr.data import TEST_SETS  # noqa: E402  (measured once, at the end: never a run's validation)


def test_queue_round_trip_head_and_state_step(tmp_path, monkeypatch):
    q = tmp_path / "queue.toml"
    q.write_text(relay.QUEUE.read_text())
    monkeypatch.setattr(relay, "QUEUE", q)
    runs = relay.read_queue()
    assert runs and all(set(relay.FIELDS) <= set(r) for r in runs)
    assert all((relay.REPO / r["recipe"]).is_file() for r in runs)
    runs[0]["status"], runs[0]["step"], runs[0]["val"] = "done", 5, "x4 30.00"
    relay.write_queue(runs)
    back = relay.read_queue()
    assert back[0]["status"] == "done" and back[0]["step"] == 5 and back[0]["val"] == "x4 30.00"
    head = relay.head(back)  # the first run not done, whatever the committed queue's statuses are
    first = len(back) if head is None else next(i for i, r in enumerate(back) if r is head)
    assert first > 0 and all(r["status"] == "done" for r in back[:first])
    assert head is None or head["status"] != "done"
    assert q.read_text().startswith("# The training queue")  # the header comment is kept
    state = save_tensors(tmp_path / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 42})
    assert relay.state_step(state) == 42 and relay.state_step(tmp_path / "none") == -1
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 0.1}\n{"step": 250, "val_psnr": {"4": 27.5}}\n')
    assert relay.last_val(log) == (250, {"4": 27.5})
    with log.open("a") as f:
        f.write('{"step": 400, "val_psnr": {"4": 27.6}, "val_clean_psnr": {"4": 30.1}}\n')
    assert relay.last_val(log) == (400, {"4": 27.6, "4 clean": 30.1})
    assert relay.last_rate(log) is None and relay.last_rate(tmp_path / "none") is None
    with log.open("a") as f:  # a resume's first rate is low; the median of the last ones is the run's
        f.writelines(f'{{"step": {s}, "steps_per_s": {r}}}\n' for s, r in ((425, 0.1), (450, 0.5), (475, 0.6)))
    assert relay.last_rate(log) == 0.5 and relay.last_rate(log, last=2) == 0.55


RECIPES = sorted(p.name for p in (relay.REPO / "configs").glob("*.toml") if p.name != "queue.toml")


@pytest.mark.parametrize("run", RECIPES + [r["name"] for r in relay.read_queue()])
def test_every_recipe_and_queue_run_validates_on_held_out_images(run, data_root):
    from sisr.data import dataset_images
    from sisr.train.supervised import TrainConfig

    entry = next((r for r in relay.read_queue() if r["name"] == run), None)
    recipe, sets = (entry["recipe"], relay.overrides(entry)) if entry else (f"configs/{run}", [])
    cfg = load_config(relay.REPO / recipe, TrainConfig, sets)
    assert cfg.val_data.split(":")[0] not in TEST_SETS
    val = set(dataset_images(cfg.val_data))
    train = {p for d in cfg.data for p in dataset_images(d)}
    assert val and train and not val & train, sorted(val & train)


def test_cpu_head_skips_gpu_runs_and_save_records_every_newer_state(tmp_path, monkeypatch, capsys):
    q = tmp_path / "queue.toml"
    q.write_text("# header\n\n[[run]]\n")
    monkeypatch.setattr(relay, "QUEUE", q)
    monkeypatch.setattr(relay, "REPO", tmp_path)
    runs = [
        {"name": n, "recipe": "r.toml", "target": 10, "status": st, "step": 0, "val": ""}
        for n, st in (("a", "done"), ("big", "active"), ("small", "queued"))
    ]
    runs[1]["where"] = "gpu"
    runs[1]["set"] = {"data": ["T91", "BSD200:train"], "val_data": "BSD200:val", "model": {"channels": 256}}
    relay.write_queue(runs)
    runs = relay.read_queue()
    assert runs[1]["where"] == "gpu" and "where" not in runs[2]  # kept only where set
    assert runs[1]["set"]["model"] == {"channels": 256} and "set" not in runs[2]
    cmd = relay.train_command(runs[1], tmp_path / "live", ["device=cpu"])
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--set"]
    # the recipe's overrides first, then the relay's own (which win), and nothing to resume yet
    assert sets == [
        'data=["T91", "BSD200:train"]',
        'val_data="BSD200:val"',
        "model.channels=256",
        "out=live",  # relative to the repository: the weights' recipe names no machine's folders
        "steps=10",
        "device=cpu",
    ]
    assert "--resume" not in cmd
    assert apply_overrides({"model": {"channels": 64, "recursions": 8}}, sets[:3]) == {
        "model": {"channels": 256, "recursions": 8},
        "data": ["T91", "BSD200:train"],
        "val_data": "BSD200:val",
    }
    assert relay.head(runs)["name"] == "big" and relay.head(runs, cpu=True)["name"] == "small"
    for name, step in (("big", 4), ("small", 10)):  # a GPU chunk advanced one, the CPU relay finished the other
        live = tmp_path / "runs" / name
        live.mkdir(parents=True)
        save_tensors(live / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": step})
        (live / "log.jsonl").write_text(f'{{"step": {step}, "val_psnr": {{"4": 27.5}}}}\n')
    with (tmp_path / "runs" / "big" / "log.jsonl").open("a") as f:  # logged past its last state, still running
        f.write('{"step": 5, "loss": 0.1}\n{"step": 6, "val_psnr": {"4": 27.9}}\n')
    earlier = tmp_path / "checkpoints" / "small"  # the finished run's state, committed while it was active
    earlier.mkdir(parents=True)
    save_tensors(earlier / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 6})
    relay.cmd_save(runs, commit=False)
    assert not earlier.exists()  # a finished run keeps no state in checkpoints/
    back = {r["name"]: r for r in relay.read_queue()}
    assert (back["big"]["status"], back["big"]["step"]) == ("active", 4)
    assert (back["small"]["status"], back["small"]["step"]) == ("done", 10)
    assert back["small"]["val"] == "step 10: x4 27.50 dB (held-out)"
    assert relay.state_step(tmp_path / "checkpoints" / "big" / "state.safetensors") == 4
    # its val and committed log go as far as its state: the steps past it are redone on resume
    assert back["big"]["val"] == "step 4: x4 27.50 dB (held-out)"
    assert (tmp_path / "checkpoints" / "big" / "log.jsonl").read_text() == '{"step": 4, "val_psnr": {"4": 27.5}}\n'
    with pytest.raises(SystemExit):  # nothing newer the second time
        relay.cmd_save(relay.read_queue(), commit=False)
    with (tmp_path / "runs" / "big" / "log.jsonl").open("a") as f:
        f.write('{"step": 4, "steps_per_s": 0.001}\n')
    capsys.readouterr()
    relay.cmd_status(relay.read_queue())
    assert "about 1.7 h to target at 0.001 steps/s, its last logged rate (on a machine its state does not record)" in (
        capsys.readouterr().out
    )  # 6 steps left
    state = tmp_path / "runs" / "big" / "state.safetensors"
    save_tensors(
        state, {"w": torch.zeros(1)}, "train-state", {"step": 4, "devices": [["cpu", 0, 2], ["NVIDIA H200", 2, 4]]}
    )
    relay.cmd_status(relay.read_queue())
    assert "0.001 steps/s, its last logged rate (on NVIDIA H200)" in capsys.readouterr().out  # the last stretch's


def test_a_cpu_takes_bf16_runs_only_with_native_bf16_unmarked_and_started_runs_first(tmp_path, monkeypatch):
    def queue(*runs):
        return [{"name": n, "status": st, **({"where": w} if w else {})} for n, st, w in runs]

    runs = queue(("a", "done", None), ("big", "active", "gpu"), ("mid", "queued", "bf16"), ("small", "queued", None))
    assert relay.head(runs)["name"] == "big"  # a GPU takes the first run of any kind
    assert relay.head(runs, cpu=True)["name"] == "small"  # an AVX2 CPU: fp32 would take hundreds of hours
    assert relay.head(runs[:3], cpu=True, bf16=True)["name"] == "mid"
    # an unmarked run before a bf16 one, even one the GPU started: a GPU trains it ~100x faster
    runs[2]["status"] = "active"
    assert relay.head(runs, cpu=True, bf16=True)["name"] == "small"
    assert relay.head(runs, cpu=True, bf16=True) is relay.head(runs, cpu=True)
    runs[3]["status"] = "done"
    assert relay.head(runs, cpu=True, bf16=True)["name"] == "mid"
    more = queue(("m1", "queued", "bf16"), ("m2", "active", "bf16"), ("s1", "queued", None), ("s2", "active", None))
    assert relay.head(more, cpu=True, bf16=True)["name"] == "s2"  # a started run before a queued one
    assert relay.head(more[:3], cpu=True, bf16=True)["name"] == "s1"
    assert relay.head(more[:2], cpu=True, bf16=True)["name"] == "m2"
    assert relay.head(queue(("big", "queued", "gpu")), cpu=True, bf16=True) is None
    q = tmp_path / "queue.toml"
    q.write_text(
        '[[run]]\nname = "x"\nrecipe = "r.toml"\ntarget = 1\nstatus = "queued"\nstep = 0\nval = ""\nwhere = "tpu"\n'
    )
    monkeypatch.setattr(relay, "QUEUE", q)
    with pytest.raises(SystemExit, match="x: where = 'tpu'"):
        relay.read_queue()


def _tiny_queue(monkeypatch, root: Path, recipe: str, *tools) -> None:
    """An empty queue and a tiny SRCNN recipe ``r.toml`` (with ``recipe``'s lines) in ``root``,
    which the relay and ``tools`` take for the repository."""
    (root / "r.toml").write_text(
        f'arch = "srcnn"\npatch = 8\nscale_aug = [1.0]\nchannels_last = false\n{recipe}'
        "[model]\nscale = 4\nf1 = 3\nf2 = 1\nf3 = 3\nn1 = 8\nn2 = 4\n"
    )
    (root / "queue.toml").write_text("# header\n\n[[run]]\n")
    monkeypatch.setattr(relay, "QUEUE", root / "queue.toml")
    for mod in (relay, *tools):
        monkeypatch.setattr(mod, "REPO", root)


def test_files_stage_set_aside_return_before_a_save_and_stop_a_start(tmp_path, monkeypatch, capsys):
    import subprocess

    import gpu_relay

    _tiny_queue(monkeypatch, tmp_path, "", gpu_relay)
    weights = tmp_path / "src" / "w.safetensors"
    weights.parent.mkdir()
    weights.write_bytes(b"w" * (2 * gpu_relay.MiB))
    small = tmp_path / "small.txt"
    small.write_text("stays")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(["git", "add", "."], cwd=tmp_path, check=True)
    assert gpu_relay._aside([]) == 1 and not weights.exists() and small.exists()
    relay.cmd_status([])
    assert "1 tracked files are set aside" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="set aside for a GPU call"):  # the GPU calls still need them aside
        relay.cmd_start([], threads=1)
    assert not weights.exists()
    with pytest.raises(SystemExit, match="no run in runs/"):  # nothing to save, but the tree is whole again
        relay.cmd_save([], commit=False)
    assert weights.read_bytes() == b"w" * (2 * gpu_relay.MiB) and not relay.aside_files()
    assert "restored 1 files" in capsys.readouterr().out
    # A file already back in the tree (`git checkout`) is kept; its copy set aside goes.
    assert gpu_relay._aside([]) == 1
    weights.write_bytes(b"from git")
    gpu_relay.cmd_back()
    assert weights.read_bytes() == b"from git" and not relay.aside().exists()


def test_queue_cost_times_each_open_run_as_the_relay_trains_it(tmp_path, monkeypatch, capsys):
    sys.path.insert(0, str(relay.REPO / "benchmarks"))
    import train_throughput

    _tiny_queue(monkeypatch, tmp_path, "batch = 6\nbf16 = true\n", train_throughput)
    runs = [
        {"name": n, "recipe": "r.toml", "target": 1000, "status": st, "step": step, "val": ""}
        for n, st, step in (("old", "done", 1000), ("wide", "active", 400))
    ]
    runs[1]["set"] = {"model": {"n1": 16}}
    relay.write_queue(runs)
    live = tmp_path / "runs" / "wide"  # the relay's state is ahead of the queue's record
    live.mkdir(parents=True)
    save_tensors(live / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 600})
    timed = []

    def measure(cfg, steps, warmup):  # a 2-sample step of the run's own model takes 0.5 s
        timed.append(cfg)
        return [0.4, 0.5, 0.6]

    monkeypatch.setattr(train_throughput, "measure", measure)
    monkeypatch.setattr("sisr.precision.native_bf16", lambda device: False)  # a CPU without bf16 units
    (row,) = train_throughput.queue_cost(steps=3, batch=2)
    assert (timed[0].batch, timed[0].threads, timed[0].device, timed[0].init) == (2, 1, "cpu", "")
    assert (
        timed[0].model["n1"] == 16 and timed[0].bf16 is False
    )  # the queue's override; the recipe's bf16, but fp32 here
    assert (row["run"], row["batch"], row["timed_batch"], row["precision"]) == ("wide", 6, 2, "fp32")
    assert row["steps_left"] == 400 and row["s_per_step"] == pytest.approx(1.5)  # scaled to the batch of 6
    assert row["hours_left"] == pytest.approx(400 * 1.5 / 3600)
    assert "| wide | cpu | 6 (2) | fp32 |" in capsys.readouterr().out


def test_batch_probe_times_each_batch_size_on_one_batch_drawn_once(tmp_path, monkeypatch):
    """The GPU batch-size probe: every timed step reuses one drawn batch (the figure is the device's,
    not the patch drawing's), at the recipe's model and patch, each batch against the first."""
    sys.path.insert(0, str(relay.REPO / "benchmarks"))
    import train_throughput

    from sisr.config import load_config
    from sisr.data import PatchSampler
    from sisr.train.supervised import TrainConfig

    _tiny_queue(monkeypatch, tmp_path, "batch = 6\n", train_throughput)
    base = load_config(tmp_path / "r.toml", TrainConfig)
    drawn = []
    sample = PatchSampler.sample
    monkeypatch.setattr(PatchSampler, "sample", lambda self, rng, n: drawn.append(n) or sample(self, rng, n))
    rows = train_throughput.batch_sizes(base, [2, 4], "cpu", steps=2)
    assert drawn == [2, 2, 2, 4, 4, 4]  # three draws timed per size; the 2 + 3 warm-up steps draw none
    assert [r["batch"] for r in rows] == [2, 4] and rows[0]["samples_per_s_vs_first"] == 1.0
    assert rows[1]["samples_per_s_vs_first"] == pytest.approx(rows[1]["samples_per_s"] / rows[0]["samples_per_s"])
    assert all(r["samples_per_s"] == pytest.approx(r["batch"] / r["s_per_step"]) and r["draw_s"] > 0 for r in rows)


def test_gpu_relay_zeroshot_runs_each_image_apart_and_merges_what_finished(tmp_path, monkeypatch, photo):
    import json

    import gpu_relay

    from sisr.io import write_image

    hr = tmp_path / "stage" / "part1" / "data" / "Tiny" / "HR"
    hr.mkdir(parents=True)
    write_image(hr / "a.png", photo[:64, :72])
    write_image(hr / "b.png", photo[100:160, 200:256])
    monkeypatch.setattr(gpu_relay, "STAGE", tmp_path / "stage")
    monkeypatch.setenv("SISR_DATA", "")  # cmd_zeroshot points it at the staged data
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    tiny = ["preset=paper", "iters=1", "d_steps=1", "g_steps=1", "channels=8"]
    gpu_relay.cmd_zeroshot("singan", "Tiny", [2], tiny, seconds=600)
    rep = json.loads((tmp_path / "out" / "singan_Tiny_x2.json").read_text())
    (row,) = rep["results"]
    assert [i["name"] for i in row["images"]] == ["a", "b"] and "unfinished" not in rep
    assert abs(row["psnr_y"] - sum(i["psnr_y"] for i in row["images"]) / 2) < 1e-9
    assert rep["zero_shot_settings"]["singan"]["iters"] == 1
    # A deadline that nothing meets: every run is stopped and no report is written.
    monkeypatch.setenv("OUT", str(tmp_path / "late"))
    gpu_relay.cmd_zeroshot("singan", "Tiny", [2], tiny, seconds=0)
    assert not (tmp_path / "late" / "singan_Tiny_x2.json").exists()


def test_gpu_relay_packs_parts_in_order_within_the_room():
    import gpu_relay

    assert gpu_relay.pack([5, 5, 3, 9, 1], 10) == [[0, 1], [2], [3, 4]]
    assert gpu_relay.pack([], 10) == []
    with pytest.raises(ValueError, match="larger than a part"):
        gpu_relay.pack([4, 11], 10)


def test_gpu_relay_stages_every_dataset_its_runs_train_and_validate_on(tmp_path, monkeypatch):
    import gpu_relay

    _tiny_queue(monkeypatch, tmp_path, 'data = ["T91", "Tiny:train"]\nval_data = "BSD200:val"\n', gpu_relay)
    run = {"name": "a", "recipe": "r.toml", "target": 1, "status": "queued", "step": 0, "val": ""}
    assert gpu_relay.datasets([run]) == ["Set5", "T91", "BSD200", "Tiny"]
    run["set"] = {"val_data": "skimage"}  # a queue override names another folder
    assert gpu_relay.datasets([run]) == ["Set5", "T91", "BSD200", "Tiny", "skimage"]
    assert gpu_relay.datasets([]) == ["Set5", "T91", "BSD200"]
    # A bench's sets come last, each once, and not again where the runs read them already.
    assert gpu_relay.datasets([run], "skimage,Set14,BSD100:1-5,Set14") == [
        *gpu_relay.datasets([run]),
        "Set14",
        "BSD100",
    ]
    assert gpu_relay.datasets([], "Set5") == ["Set5", "T91", "BSD200"]


def test_gpu_relay_stage_packs_a_benchs_test_images_into_the_last_part(tmp_path, monkeypatch, photo):
    import subprocess

    import gpu_relay

    from sisr.io import write_image

    _tiny_queue(monkeypatch, tmp_path, "", gpu_relay)
    relay.write_queue([])
    monkeypatch.setattr(gpu_relay, "STAGE", tmp_path / ".gpudata")
    data = tmp_path / "data"
    for d in ("Set5", "T91", "BSD200", "Test"):
        (data / d / "HR").mkdir(parents=True)
        write_image(data / d / "HR" / f"{d}.png", photo[:32, :32])
    monkeypatch.setenv("SISR_DATA", str(data))
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    size = (data / "Test" / "HR" / "Test.png").stat().st_size
    gpu_relay.cmd_stage(0, part_mib=2.5 * size / gpu_relay.MiB, bench="Test")
    parts = gpu_relay._parts()
    assert [p.name for p in parts] == ["part1", "part2"]
    assert (parts[-1] / "data" / "Test" / "HR" / "Test.png").is_file()
    assert not list(parts[0].glob("data/Test/*"))
    gpu_relay.cmd_back()
    big = tmp_path / "big.bin"  # a tracked file that staging sets aside
    big.write_bytes(b"b" * (2 * gpu_relay.MiB))
    subprocess.run(["git", "add", "big.bin"], cwd=tmp_path, check=True)
    with pytest.raises(SystemExit, match="no Nowhere under"):
        gpu_relay.cmd_stage(0, part_mib=1.0, bench="Test,Nowhere")
    assert big.is_file() and not relay.aside_files()  # refused before anything was set aside


def test_gpu_relay_trains_runs_side_by_side_and_their_states_come_back_in_pieces(tmp_path, monkeypatch, photo, capsys):
    import gpu_relay

    from sisr.io import write_image

    there, here = tmp_path / "there", tmp_path / "here"  # the GPU machine's checkout, and this one
    stage = there / ".gpudata"
    hr = stage / "part1" / "data" / "Tiny" / "HR"
    hr.mkdir(parents=True)
    write_image(hr / "a.png", photo[:96, :96])
    write_image(hr / "b.png", photo[200:296, 200:296])
    extra = 'data = ["Tiny"]\nval_data = "Tiny"\nbatch = 2\nval_every = 2\nlog_every = 1\nwarmup = 1\nbf16 = false\n'
    _tiny_queue(monkeypatch, there, extra, gpu_relay)
    monkeypatch.setattr(gpu_relay, "STAGE", stage)
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    runs = [{"name": "done", "recipe": "r.toml", "target": 1, "status": "done", "step": 1, "val": ""}]
    runs += [
        {"name": n, "recipe": "r.toml", "target": t, "status": "queued", "step": 0, "val": ""}
        for n, t in (("a", 3), ("b", 4))
    ]
    runs[2]["set"] = {"model": {"n1": 16}}
    relay.write_queue(runs)
    assert gpu_relay.cmd_train(seconds=300, workers=2, val_every=2, runs_n=2) == 0
    for name, step in (("a", 3), ("b", 4)):
        assert relay.state_step(there / "runs" / name / "state.safetensors") == step
    # Both reached their targets there: measured there, held out then test, one report each.
    assert gpu_relay.cmd_bench("Tiny", "Tiny:1-1", None, runs_n=2) == 0  # each at its network's scales
    said = capsys.readouterr().out
    assert (
        "runs/a (heldout) Tiny x4: " in said and "2 rows on the test sets in bench_test.json (not shown here)" in said
    )
    assert "(test)" not in said
    helds = json.loads((tmp_path / "out" / "bench_heldout.json").read_text())["results"]
    tests = json.loads((tmp_path / "out" / "bench_test.json").read_text())["results"]
    for name, held, test in zip(("a", "b"), helds, tests, strict=True):
        assert (held["model"], len(held["images"]), len(test["images"]), held["scale"]) == (f"runs/{name}", 2, 1, 4)
        assert held["images"][0]["psnr_y"] == pytest.approx(test["images"][0]["psnr_y"])
    assert helds[0]["psnr_y"] != pytest.approx(helds[1]["psnr_y"])  # two models, each its own weights
    assert gpu_relay.cmd_bench("Tiny", "Nowhere", "4", runs_n=2) == 1  # a missing set: said, and the exit says so
    said = capsys.readouterr().out
    assert "bench of runs/a on Nowhere failed: " in said and "bench of runs/b on Nowhere failed: " in said
    runs[1]["target"] = 5
    relay.write_queue(runs)
    monkeypatch.setenv("OUT", str(tmp_path / "none"))
    assert gpu_relay.cmd_bench("Tiny", "", "4", runs_n=1) == 0 and not (tmp_path / "none").exists()
    assert "no run here has reached its target" in capsys.readouterr().out
    runs[1]["target"] = 3
    relay.write_queue(runs)
    monkeypatch.setenv("OUT", str(tmp_path / "out"))
    # Back here: the pieces are joined and each newer state lands in runs/.
    monkeypatch.setattr(relay, "REPO", here)
    gpu_relay.cmd_fetch(tmp_path / "out")
    for name, step in (("a", 3), ("b", 4)):
        assert relay.state_step(here / "runs" / name / "state.safetensors") == step
        assert (here / "runs" / name / "model.safetensors").is_file()
        assert relay.last_val(here / "runs" / name / "log.jsonl")[0] == step
    with pytest.raises(SystemExit, match="no newer state"):
        gpu_relay.cmd_fetch(tmp_path / "out")
    # Small pieces, and a limit that leaves out the EMA weights: the states still come back whole.
    lives = [there / "runs" / n for n in ("a", "b")]
    limit = sum((f.stat().st_size + 1024) for lv in lives for f in lv.iterdir() if f.name != "model.safetensors")
    pieces = gpu_relay.pack_back(lives, tmp_path / "small", piece=4096, limit=limit + 10)
    assert len(pieces) > 2 and all(p.stat().st_size <= 4096 for p in pieces)
    # Room for one run's weights: a finished run's go first (the file a bench there measured).
    room = limit + (there / "runs" / "b" / "model.safetensors").stat().st_size + 1024 + 10
    gpu_relay.pack_back(lives, tmp_path / "one", limit=room, finished=[lives[1]])
    with tarfile.open(tmp_path / "one" / "back.tar.000") as tar:
        names = tar.getnames()
    assert "b/model.safetensors" in names and "a/model.safetensors" not in names
    # Runs at their targets: the weights that did not come back are written from the states here.
    (tmp_path / "elsewhere").mkdir()
    shutil.copy(there / "r.toml", tmp_path / "elsewhere" / "r.toml")
    monkeypatch.setattr(relay, "REPO", tmp_path / "elsewhere")
    monkeypatch.setenv("SISR_DATA", str(stage / "data"))
    gpu_relay.cmd_fetch(tmp_path / "small")
    got = tmp_path / "elsewhere" / "runs" / "a"
    assert relay.state_step(got / "state.safetensors") == 3
    made, trained = (
        load_checkpoint(got / "model.safetensors"),
        load_checkpoint(there / "runs" / "a" / "model.safetensors"),
    )
    assert made.meta["steps"] == 3 and made.state_dict.keys() == trained.state_dict.keys()
    assert all(torch.equal(v, trained.state_dict[k]) for k, v in made.state_dict.items())
    # A staged state (the committed one, carried in a part) is where a fresh machine resumes.
    monkeypatch.setattr(relay, "REPO", there)
    staged = stage / "part2" / "states" / "a"
    staged.mkdir(parents=True)
    for f in gpu_relay.STATE_FILES:
        shutil.move(there / "runs" / "a" / f, staged / f)
    runs = relay.read_queue()
    runs[1]["target"], runs[1]["step"] = 5, 3
    relay.write_queue(runs)
    hidden = stage / "part2"
    hidden.rename(stage / "elsewhere")  # a part not carried: the run refuses to start over
    with pytest.raises(SystemExit, match="is at step 3 in the queue"):
        gpu_relay.cmd_train(seconds=300, workers=1, val_every=2, runs_n=1)
    (stage / "elsewhere").rename(hidden)
    monkeypatch.setenv("OUT", str(tmp_path / "out2"))
    assert gpu_relay.cmd_train(seconds=300, workers=1, val_every=2, runs_n=1) == 0
    assert relay.state_step(there / "runs" / "a" / "state.safetensors") == 5
    assert '"step": 3' in (there / "runs" / "a" / "log.jsonl").read_text()  # the staged log, continued
    # A run still going after its grace is killed with its batch-drawing workers: nothing is left behind.
    runs = relay.read_queue()
    runs[1]["target"] = 10**6
    relay.write_queue(runs)
    assert gpu_relay.cmd_train(seconds=4, workers=1, val_every=0, runs_n=1, grace=0) == 0
    time.sleep(0.5)
    assert _trainers(there, "runs/a") == []


def _trainers(repo: Path, out: str) -> list[Path]:
    """Processes training into ``out`` (a path relative to ``repo``, where the relay runs them)."""
    found = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if f"out={out}" in _cmdline(p) and Path(os.readlink(p / "cwd")) == repo:
                found.append(p)
        except OSError:
            continue
    return found


def _cmdline(proc: Path) -> str:
    try:
        return (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_val_trend_is_each_scales_slope_over_the_last_validations(tmp_path):
    log = tmp_path / "log.jsonl"
    assert relay.val_trend(log) is None
    rows = [{"step": s, "steps_per_s": 1.0} for s in (500, 1500)]
    rows += [{"step": 1000 * k, "val_psnr": {"2": 30 + 0.01 * k, "4": 27.0}} for k in range(1, 8)]
    log.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert relay.val_trend(log) == "x2 +0.010, x4 +0.000 dB per 1,000 steps over steps 3,000-7,000"
    assert relay.val_trend(log, upto=4000, last=3) == "x2 +0.010, x4 +0.000 dB per 1,000 steps over steps 2,000-4,000"
    assert relay.val_trend(log, upto=2000) is None  # two validations say too little


def test_relay_curves_draws_a_panel_per_run_with_a_curve(tmp_path, monkeypatch):
    sys.path.insert(0, str(relay.REPO / "benchmarks"))
    import relay_curves

    _tiny_queue(monkeypatch, tmp_path, 'val_data = "BSD200:val"\n', relay_curves)
    runs = [
        {"name": n, "recipe": "r.toml", "target": 10000, "status": st, "step": 0, "val": ""}
        for n, st in (("old", "done"), ("two", "active"), ("one", "active"), ("none", "queued"))
    ]
    relay.write_queue(runs)
    for name, vals in (("old", 3), ("two", 3), ("one", 1)):
        saved = tmp_path / "checkpoints" / name
        saved.mkdir(parents=True)
        rows = [{"step": 1000 * k, "val_psnr": {"2": 30 + 0.1 * k, "4": 26 + 0.05 * k}} for k in range(1, vals + 1)]
        (saved / "log.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    finished = tmp_path / "f.jsonl"
    finished.write_text('{"step": 5, "val_psnr": {"4": 27.0}}\n{"step": 9, "val_psnr": {"4": 27.1}}\n')
    items = relay_curves.panels([("shipped", finished)])
    # "old" is done, "one" has a single validation (no curve yet), "none" no log.
    assert [p["title"] for p in items] == ["two (on BSD200:val; target 10,000)", "shipped (finished)"]
    assert items[0]["curve"]["4"][-1] == (3000, pytest.approx(26.15)) and items[1]["end"] == 9
    fig = relay_curves.figure(items)
    assert fig.size == (2 * relay_curves.W, relay_curves.H)
    px = np.asarray(fig)
    assert (px == (214, 39, 40)).all(axis=2).any()  # the x4 lines are drawn
    with pytest.raises(SystemExit, match="no validation in it"):
        relay_curves.panels([("empty", tmp_path / "r.toml")])


def test_judge_applies_a_runs_rule_to_its_final_weights_on_held_out_images(tmp_path, monkeypatch, photo, capsys):
    import json
    import shutil

    from sisr.bench import run_bench
    from sisr.checkpoint import find_weights
    from sisr.errors import SisrError
    from sisr.io import write_image

    _tiny_queue(monkeypatch, tmp_path, "")
    held = tmp_path / "Held" / "HR"
    held.mkdir(parents=True)
    for i, (y, x) in enumerate(((0, 0), (150, 200), (300, 40))):
        write_image(held / f"{i}.png", photo[y : y + 96, x : x + 120])
    rule = {"data": str(held.parent), "against": "bicubic", "scale": 4, "gain": 0.02, "hold": [3]}
    run = {"name": "grow", "recipe": "r.toml", "target": 10, "status": "active", "step": 10, "val": "", "rule": rule}
    relay.write_queue([run])
    assert relay.read_queue()[0]["rule"] == rule  # the queue keeps it through a save
    live = tmp_path / "runs" / "grow"
    live.mkdir(parents=True)
    shutil.copy(find_weights("rrgan-x234.safetensors"), live / "model.safetensors")  # x2, x3, x4 from one model
    save_tensors(live / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 6})
    with pytest.raises(SisrError, match="at step 6 of 10; its rule is for its final weights"):
        relay.judge(run)
    save_tensors(live / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 10})
    ok, lines, both = relay.judge(run)
    assert ok and len(lines) == 2 and lines[0].startswith(f"grow x4 on {held.parent}: +")
    assert "needs at least +0.02: yes" in lines[0] and "needs not below 0 (held): yes" in lines[1]
    # a rule it cannot meet; and the same rows taken from a (GPU) report of runs/grow
    report = run_bench([str(live)], [str(held.parent)], [3, 4], progress=False)
    for r in report["results"]:
        r["model"] = "runs/grow"
    assert relay.judge({**run, "rule": {**rule, "gain": 50}}, report)[:2] == (False, [
        lines[0].replace("at least +0.02: yes", "at least +50.00: no"), lines[1]
    ])  # fmt: skip
    assert [r["model"] for r in both["results"]] == ["runs/grow"] * 2 + ["bicubic"] * 2
    assert both["budgets"]["runs/grow"]["steps"] > 0 and "runs/grow" in both["provenance"]["weights"]
    report["provenance"]["weights"]["runs/grow"] = report["provenance"]["weights"].pop(str(live))
    report["provenance"]["weights"]["runs/grow"]["sha256"] = "0" * 64  # the GPU's file is not the one here
    with pytest.raises(SisrError, match="the report measured other weights than runs/grow/model.safetensors"):
        relay.judge(run, report)
    del report["provenance"]["weights"]["runs/grow"]
    report["provenance"]["datasets"][str(held.parent)]["sha256"] = "0" * 64
    with pytest.raises(SisrError, match="images are not the ones here"):
        relay.judge(run, report)
    (tmp_path / "r.json").write_text(json.dumps({"results": report["results"][:1]}))  # x3 only
    with pytest.raises(SystemExit, match=r"relay: the report has no .* rows of runs/grow at x4, x3"):
        relay.cmd_judge([run], "grow", str(tmp_path / "r.json"))
    with pytest.raises(SystemExit, match="relay: grow: no rule in the queue"):
        relay.cmd_judge([{**run, "rule": {}}], "grow", None)
    assert relay.cmd_judge([run], "grow", None) == 0
    rule_said = f"replaces bicubic if {held.parent} x4 gains >= 0.02 dB, x3 not falling"
    assert capsys.readouterr().out.endswith(f"relay: grow replaces bicubic (its rule: {rule_said})\n")
    relay.cmd_status([run])
    assert f"  rule: {rule_said} (`relay.py judge grow` at its target)\n" in capsys.readouterr().out


def test_judge_ship_puts_a_passing_run_in_the_shipped_models_place(tmp_path, monkeypatch, photo, capsys):
    import shutil

    from sisr.checkpoint import find_weights
    from sisr.io import write_image

    _tiny_queue(monkeypatch, tmp_path, "")
    held = tmp_path / "Held" / "HR"
    held.mkdir(parents=True)
    write_image(held / "a.png", photo[:96, :120])
    rule = {"data": str(held.parent), "against": "srcnn", "scale": 4, "gain": 0.02}
    run = {"name": "y", "recipe": "r.toml", "target": 10, "status": "active", "step": 10, "val": "", "rule": rule}
    live = tmp_path / "runs" / "y"
    live.mkdir(parents=True)
    shutil.copy(find_weights("srcnn-y.safetensors"), live / "model.safetensors")
    (live / "log.jsonl").write_text('{"step": 10, "val_psnr": {"4": 27.0}}\n')
    save_tensors(live / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 10})
    weights = tmp_path / "src" / "sisr" / "weights" / "srcnn.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"the old weights")
    code = relay.cmd_judge([{**run, "rule": {**rule, "gain": 50}}], "y", None, ship=True)
    assert code == 1 and weights.read_bytes() == b"the old weights"  # a run that fails its rule ships nothing
    assert not (tmp_path / "benchmarks").exists()
    capsys.readouterr()
    assert relay.cmd_judge([{**run, "rule": {**rule, "gain": -50}}], "y", None, ship=True) == 0
    assert weights.read_bytes() == (live / "model.safetensors").read_bytes()
    assert (tmp_path / "benchmarks/cards/logs/srcnn.jsonl").read_text() == (live / "log.jsonl").read_text()
    record = (tmp_path / "benchmarks/results/srcnn/heldout.md").read_text()
    assert "### PSNR against srcnn" in record and "| runs/y | " in record  # the old weights measured beside it
    assert "relay: shipped y as srcnn: benchmarks/results/srcnn/heldout.md" in capsys.readouterr().out


def test_every_open_queue_run_has_a_rule_that_names_a_shipped_model():
    """A run's rule is written before it finishes (and before anyone sees its held-out figures past
    its validation): an open run without one, or one that names no shipped model, fails here."""
    from sisr.models import PRETRAINED

    for run in relay.open_runs(relay.read_queue()):
        rule = run.get("rule")
        assert rule, f"{run['name']}: no rule"
        assert set(rule) <= {"data", "against", "scale", "gain", "hold"} and {
            "data",
            "against",
            "scale",
            "gain",
        } <= set(rule), rule
        assert rule["against"] in PRETRAINED and rule["data"] not in ("Set5", "Set14", "BSD100"), rule
        assert (
            isinstance(rule["scale"], int)
            and rule["gain"] >= 0
            and all(isinstance(s, int) for s in rule.get("hold", []))
        )
