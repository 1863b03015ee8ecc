import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sisr.bench import run_bench, to_markdown
from sisr.cli import main
from sisr.errors import SisrError
from sisr.io import write_image

from .conftest import need_dataset

# Published bicubic figures (Y channel): Set5/BSD100 within 0.01 dB / 0.0005,
# Set14 within 0.02 dB / 0.001 (its published figures vary between sources).
PUBLISHED = {
    ("Set5", 2): (33.66, 0.9299),
    ("Set5", 3): (30.39, 0.8682),
    ("Set5", 4): (28.42, 0.8104),
    ("Set14", 2): (30.24, 0.8688),
    ("Set14", 3): (27.55, 0.7742),
    ("Set14", 4): (26.00, 0.7027),
    ("BSD100", 2): (29.56, 0.8431),
    ("BSD100", 3): (27.21, 0.7385),
    ("BSD100", 4): (25.96, 0.6675),
}


def test_bicubic_reproduces_published_table(data_root, tmp_path):
    for name in ("Set5", "Set14", "BSD100"):
        need_dataset(data_root, name)
    out = tmp_path / "out.json"
    rc = main(
        [
            "bench",
            "--models",
            "bicubic",
            "--data",
            "Set5,Set14,BSD100",
            "--scale",
            "2,3,4",
            "--json",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    report = json.loads(out.read_text())
    assert set(report) >= {"sisr_version", "results"}
    got = {(r["dataset"], r["scale"]): r for r in report["results"]}
    assert set(got) == set(PUBLISHED)
    for key, (p, s) in PUBLISHED.items():
        tol_p, tol_s = (0.02, 0.001) if key[0] == "Set14" else (0.01, 0.0005)
        r = got[key]
        assert abs(r["psnr_y"] - p) <= tol_p, f"{key}: PSNR {r['psnr_y']:.4f} vs published {p}"
        assert abs(r["ssim_y"] - s) <= tol_s, f"{key}: SSIM {r['ssim_y']:.5f} vs published {s}"
        assert r["model"] == "bicubic" and r["seconds"] >= 0
        assert len(r["images"]) == {"Set5": 5, "Set14": 14, "BSD100": 100}[key[0]]
        assert r["psnr_y"] == pytest.approx(np.mean([i["psnr_y"] for i in r["images"]]))


@pytest.fixture
def tiny_dataset(tmp_path, photo):
    hr = tmp_path / "Tiny" / "HR"
    hr.mkdir(parents=True)
    write_image(hr / "a.png", photo[:96, :120])
    write_image(hr / "b.png", photo[200:290, 100:181, :1])  # gray, odd width
    return tmp_path / "Tiny"


@pytest.mark.parametrize("flag", ["--models", "--data"])
def test_an_empty_list_of_models_or_sets_is_refused(flag, capsys):
    argv = {"--models": "bicubic", "--data": "Set5", "--scale": "2"} | {flag: ","}
    assert main(["bench", *(x for kv in argv.items() for x in kv)]) == 2  # was an empty table and exit 0
    assert capsys.readouterr().err == f"sisr: error: {flag} names nothing to measure\n"
    argv[flag] = ""
    assert main(["bench", *(x for kv in argv.items() for x in kv)]) == 2
    assert capsys.readouterr().err == f"sisr: error: {flag}: empty (give a value)\n"
    with pytest.raises(SisrError, match="a dataset name is empty"):  # "" would be the current folder
        run_bench(["bicubic"], [" "], [2], progress=False)


def test_a_scale_or_set_named_twice_is_measured_once_and_a_bad_seed_is_one_line(tiny_dataset, tmp_path, capsys):
    from sisr.cli import main

    report = run_bench(["bicubic"], [str(tiny_dataset)] * 2, [2, 2], progress=False)
    assert [(r["dataset"], r["scale"]) for r in report["results"]] == [(str(tiny_dataset), 2)]
    with pytest.raises(SisrError, match="--seed must be 0 to 4294967295, got -1"):  # was numpy's traceback
        run_bench(["bicubic"], [str(tiny_dataset)], [2], degradation="real", seed=-1)
    assert main(["bench", "--from-json", str(tmp_path / "none.json")]) == 2
    assert capsys.readouterr().err.strip() == f"sisr: error: {tmp_path / 'none.json'}: no such file"


@pytest.mark.parametrize("protocol", ["y", "rgb"])
def test_report_shape_on_a_generated_dataset(tiny_dataset, protocol):
    report = run_bench(["bicubic"], [str(tiny_dataset)], [2, 3], progress=False, protocol=protocol)
    assert [(r["dataset"], r["scale"]) for r in report["results"]] == [(str(tiny_dataset), 2), (str(tiny_dataset), 3)]
    for r in report["results"]:
        assert [i["name"] for i in r["images"]] == ["a", "b"]
        assert 20 < r["psnr_y"] < 60 and 0 < r["ssim_y"] <= 1
    md = to_markdown(report, per_image=True)
    assert "| bicubic |" in md and "| a |" in md


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "sisr", *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["bench", "--models", "nosuchmodel", "--data", "Set5"], "unknown model 'nosuchmodel'"),
        (["bench", "--data", "/nonexistent/NoSuchSet"], "not found"),
        (["bench", "--scale", "4,x"], "bad scale 'x'"),
        (["bench", "--scale", "1"], "bad scale '1'"),
        (["upscale", "/nonexistent.png", "-o", "/tmp/never.png"], "no such file"),
        (["nosuchcommand"], "invalid choice"),
    ],
)
def test_cli_errors_are_one_line_with_exit_2(args, needle, tiny_dataset):
    r = _cli(*args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_cli_models_lists_bicubic():
    r = _cli("models")
    assert r.returncode == 0
    assert "bicubic" in r.stdout


def test_tables_put_published_figures_beside_measured_ones():
    from sisr.published import PUBLISHED

    def row(model, dataset, p, s):
        return {"model": model, "dataset": dataset, "scale": 4, "psnr_y": p, "ssim_y": s, "images": []}

    report = {"results": [row("bicubic", "Set5", 28.4207, 0.81037), row("vdsr", "Set5", 30.1, 0.85)]}
    md = to_markdown(report)
    assert "Table 1: PSNR" in md and "Table 2: SSIM" in md
    assert "| Set5 x4 | pub. |" in md
    assert "| vdsr | 30.10 | 31.35 |" in md and "| bicubic | 28.42 | 28.42 |" in md
    assert "| vdsr | 0.8500 | 0.8838 |" in md
    assert PUBLISHED[("vdsr", "Set5", 4)][2] in md
    # A dataset nobody has published on gets no empty "pub." column.
    other = to_markdown({"results": [row("bicubic", "MyPhotos", 30.0, 0.9)]})
    assert "pub." not in other


def test_tables_from_saved_reports_are_merged(tiny_dataset, tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    for path, scale in ((a, "3"), (b, "2")):
        r = _cli(
            "bench",
            "--models",
            "bicubic",
            "--data",
            str(tiny_dataset),
            "--scale",
            scale,
            "--json",
            str(path),
            "--quiet",
        )
        assert r.returncode == 0, r.stderr
    r = _cli("bench", "--from-json", f"{a},{b}", "--per-image")
    assert r.returncode == 0, r.stderr
    assert "Tiny x2" in r.stdout and "Tiny x3" in r.stdout and "| a |" in r.stdout
    assert r.stdout.index("Tiny x2") < r.stdout.index("Tiny x3")  # scales ascend whatever the reports' order
    (tmp_path / "bad.json").write_text("{}")
    r = _cli("bench", "--from-json", str(tmp_path / "bad.json"))
    assert r.returncode == 2 and "not a bench --json report" in r.stderr and "Traceback" not in r.stderr


def test_rename_puts_a_run_folders_rows_under_its_shipped_name(tiny_dataset, tmp_path, capsys):
    """A GPU bench measures runs/NAME; its rows join the tables under the name its weights ship as."""
    import shutil

    from sisr.cli import _merge_reports
    from sisr.infer import weights_path

    run = tmp_path / "runs" / "srcnn_long"
    run.mkdir(parents=True)
    shutil.copy(weights_path("srcnn"), run / "model.safetensors")
    gpu, cpu = tmp_path / "gpu.json", tmp_path / "cpu.json"
    gpu.write_text(json.dumps(run_bench([str(run)], [str(tiny_dataset)], [4], progress=False)))
    cpu.write_text(json.dumps(run_bench(["bicubic"], [str(tiny_dataset)], [4], progress=False)))
    merged = _merge_reports([str(cpu), str(gpu)], {str(run): "srcnn-long"})
    assert [r["model"] for r in merged["results"]] == ["bicubic", "srcnn-long"]
    assert "srcnn-long" in merged["budgets"] and "srcnn-long" in merged["provenance"]["weights"]
    assert merged["budgets"]["srcnn-long"]["steps"] == 20000  # the budget travels with the row
    for rename, said in (
        ("nope=x", "--rename nope: no such model in the reports"),
        ("nope", "--rename nope: give OLD=NEW"),
        (f"{run}=bicubic", "--rename to bicubic: a model of the reports already"),  # two bicubic rows
    ):
        assert main(["bench", "--from-json", f"{cpu},{gpu}", "--rename", rename]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1
    assert main(["bench", "--models", "bicubic", "--data", str(tiny_dataset), "--rename", "a=b"]) == 2
    assert "--rename names the rows of reports merged with --from-json" in capsys.readouterr().err


def test_a_report_names_the_files_it_measured_and_merges_refuse_other_files(tiny_dataset, tmp_path, capsys):
    """A report named its models and sets, not which weights or images: two reports of one model
    (shipped weights replaced between them) or of two copies of a set merged into one table."""
    import hashlib

    from sisr.cli import _merge_reports
    from sisr.infer import weights_path

    report = run_bench(["bicubic", "srcnn"], [str(tiny_dataset)], [4], progress=False)
    prov = report["provenance"]
    shipped = weights_path("srcnn")
    assert prov["weights"] == {
        "srcnn": {"file": "srcnn.safetensors", "sha256": hashlib.sha256(shipped.read_bytes()).hexdigest()}
    }
    images = sorted((tiny_dataset / "HR").iterdir())
    digests = b"".join(hashlib.sha256(f.read_bytes()).digest() for f in images)
    assert prov["datasets"] == {str(tiny_dataset): {"images": 2, "sha256": hashlib.sha256(digests).hexdigest()}}
    assert prov["environment"]["torch"].startswith("2.") and prov["environment"]["threads"] >= 1
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report))
    b.write_text(json.dumps(report))
    assert _merge_reports([str(a), str(b)])["provenance"]["weights"] == prov["weights"]
    write_image(images[0], np.zeros((96, 120, 3), np.uint8))  # the set changed between the reports
    b.write_text(json.dumps(run_bench(["bicubic"], [str(tiny_dataset)], [2], progress=False)))
    assert main(["bench", "--from-json", f"{a},{b}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"sisr: error: {b}: {tiny_dataset}'s images differ from an earlier report's (sha256 ")
    other = json.loads(a.read_text())
    other["provenance"]["weights"]["srcnn"]["sha256"] = "0" * 64
    b.write_text(json.dumps(other))
    with pytest.raises(SisrError, match="srcnn's weights differ from an earlier report's"):
        _merge_reports([str(a), str(b)])


def test_merged_reports_keep_every_models_training_budget(tmp_path):
    import json

    from sisr.bench import to_markdown
    from sisr.cli import _merge_reports

    def report(model, steps):
        row = {"model": model, "dataset": "Set5", "scale": 4, "psnr_y": 30.0, "ssim_y": 0.85, "images": []}
        budget = {"steps": steps, "batch": 16, "hours": 1.0, "hardware": "cpu", "runs": 1, "complete": True}
        return {"protocol": "y", "results": [row], "budgets": {model: budget}}

    paths = []
    for model, steps in (("srcnn", 20000), ("vdsr", 13000)):
        paths.append(str(tmp_path / f"{model}.json"))
        (tmp_path / f"{model}.json").write_text(json.dumps(report(model, steps)))
    merged = _merge_reports(paths)
    assert set(merged["budgets"]) == {"srcnn", "vdsr"}
    md = to_markdown(merged)
    assert "20,000 x 16" in md and "13,000 x 16" in md


def test_merged_reports_state_a_setting_that_differs_per_scale(tmp_path):
    import json

    from sisr.cli import _merge_reports

    paths = []
    for scale, iters in ((2, 600), (4, 1000)):
        p = tmp_path / f"x{scale}.json"
        results = [{"model": "drsingan", "dataset": "Set5", "scale": scale, "images": []}]
        settings = {"drsingan": {"finest_iters": iters, "lr": 0.001}}
        p.write_text(json.dumps({"protocol": "y", "results": results, "zero_shot_settings": settings}))
        paths.append(str(p))
    cfg = _merge_reports(paths)["zero_shot_settings"]["drsingan"]
    assert cfg == {"finest_iters": "600 at x2, 1000 at x4", "lr": 0.001}


def test_table_1_states_each_models_training_budget(tmp_path):
    from sisr.bench import training_budget
    from sisr.checkpoint import save_checkpoint
    from sisr.models import build_model

    net = build_model("srcnn", {"n1": 4, "n2": 4})
    p1 = save_checkpoint(tmp_path / "p1.safetensors", net, "srcnn", net.config, steps=100, train_seconds=3600,
                         hardware="cpu A, 1 threads", recipe={"batch": 8})  # fmt: skip
    p2 = save_checkpoint(tmp_path / "p2.safetensors", net, "srcnn", net.config, steps=50, train_seconds=1800,
                         hardware="cpu A, 1 thread", recipe={"batch": 16, "init": str(p1)})  # fmt: skip
    from sisr.checkpoint import load_checkpoint

    b = training_budget(load_checkpoint(p2).meta)
    assert (b["steps"], b["batch"], b["hours"], b["runs"], b["complete"]) == (150, 16, 1.5, 2, True)
    assert b["hardware"] == "cpu A, 1 thread"  # older weights' "1 threads" reads as the newer label

    def row(model):
        return {"model": model, "dataset": "Set5", "scale": 4, "psnr_y": 30.0, "ssim_y": 0.8, "images": []}

    md = to_markdown({"results": [row("bicubic"), row("mine")], "budgets": {"mine": b}})
    table1 = md.split("Table 2")[0]
    assert "| mine | 30.00 | 31.35 |" not in table1  # 'mine' has no published figure
    assert "150 x 16, 1.50 h, cpu A, 1 thread (2 runs) |" in table1
    assert "| bicubic | 30.00 | 28.42 | none (no training) |" in table1
    assert "none (no training)" not in md.split("Table 2")[1]
    # a chain whose runs moved between devices: each device named once in the cell, the report keeping the spans
    b["hardware"] = "cpu A, 2 threads; cpu A, 2 threads (steps 23-800); cpu A, 1 thread (steps 0-23); GPU (steps 1-2)"
    table1 = to_markdown({"results": [row("mine")], "budgets": {"mine": b}}).split("Table 2")[0]
    assert "150 x 16, 1.50 h, cpu A, 2 threads; cpu A, 1 thread; GPU (2 runs) |" in table1, table1


def test_a_budget_follows_init_through_a_run_folder_and_a_shipped_models_name(tmp_path):
    """``init`` takes what ``--model`` takes; the budget's chain must follow each of them."""
    from sisr.bench import training_budget
    from sisr.checkpoint import find_weights, load_checkpoint, read_header, save_checkpoint
    from sisr.models import PRETRAINED, model_from_checkpoint, weights_path

    shipped = read_header(weights_path("srcnn"), "weights")
    ck = load_checkpoint(weights_path("srcnn"))
    net = model_from_checkpoint(ck)
    (tmp_path / "run").mkdir()
    save_checkpoint(tmp_path / "run" / "model.safetensors", net, ck.arch, ck.config, steps=100, train_seconds=3600,
                    hardware="cpu A, 1 thread", recipe={"batch": 8, "init": "srcnn"})  # fmt: skip
    p2 = save_checkpoint(tmp_path / "p2.safetensors", net, ck.arch, ck.config, steps=50, train_seconds=1800,
                         hardware="cpu A, 1 thread", recipe={"batch": 8, "init": str(tmp_path / "run")})  # fmt: skip
    b = training_budget(load_checkpoint(p2).meta)
    assert (b["runs"], b["complete"], b["steps"]) == (3, True, 150 + shipped["steps"])
    for name in PRETRAINED:  # every shipped model, by name, as an installed package finds it
        assert find_weights(name) == weights_path(name)
    assert find_weights("no-such-model") is None and find_weights("") is None


def test_compare_figure_for_an_input_without_ground_truth(tmp_path, photo):
    from sisr.cli import main
    from sisr.io import write_image

    src = tmp_path / "photo_small.jpg"
    write_image(src, photo[:40, :50])
    out = tmp_path / "fig.png"
    args = ["compare", str(src), "--lr", "--models", "bicubic,rrgan-x4", "--scale", "4", "--crop", "40,40,64,48"]
    assert main([*args, "-o", str(out)]) == 0
    from PIL import Image

    fig = Image.open(out)
    assert fig.height == 144 + 18 and fig.width > 2 * 192
    assert main([*args[:-1], "190,0,64,48", "-o", str(tmp_path / "bad.png")]) == 2


def test_per_image_tables_print_the_papers_table_2_beside_ours():
    from sisr.published import PUBLISHED

    images = [{"name": n, "psnr_y": 30.0, "ssim_y": 0.9, "seconds": 1.0} for n in ("baby", "bird", "mine")]
    rows = [{"model": "drsingan", "dataset": "Set5", "scale": 4, "psnr_y": 30.0, "ssim_y": 0.9, "images": images}]
    md = to_markdown({"results": rows}, per_image=True)
    assert "| image | PSNR | SSIM | pub. PSNR | pub. SSIM | seconds |" in md
    assert "| baby | 30.00 | 0.9000 | 25.161 | 0.746 | 1.0 |" in md and "| mine | 30.00 | 0.9000 |  |  | 1.0 |" in md
    assert "Zheng & Zhang, Table 2" in md
    assert PUBLISHED[("singan", "Set5", 2)][0] == 28.186 and PUBLISHED[("singan", "Set5", 4)][0] == 24.824
    plain = to_markdown({"results": [{**rows[0], "model": "rrgan-x4"}]}, per_image=True)
    assert "pub. PSNR" not in plain


def test_dataset_splits_and_ranges(tmp_path, monkeypatch):
    from sisr.data import dataset_images

    (tmp_path / "D" / "HR").mkdir(parents=True)
    for i in range(25):
        write_image(tmp_path / "D" / "HR" / f"{i:02d}.png", np.zeros((8, 8, 3), np.uint8))
    monkeypatch.setenv("SISR_DATA", str(tmp_path))
    names = lambda spec: [f.stem for f in dataset_images(spec)]  # noqa: E731
    assert names("D:val") == ["00", "20"]
    assert len(names("D:train")) == 23 and "00" not in names("D:train")
    assert names("D:3-5") == ["02", "03", "04"]
    assert names("D:1-25") == names("D")
    for bad in ("D:0-3", "D:5-4", "D:20-26"):
        with pytest.raises(SisrError, match="range must lie within 1-25"):
            dataset_images(bad)


def test_a_zero_shot_bench_bar_counts_work_from_the_start(tiny_dataset, monkeypatch):
    """With a zero-shot model the bar's total is the work of every image, known before the first
    starts, and it moves during each image's training: the time estimate needs no finished image."""
    import sisr.bench as bench

    bars = []

    class Recorder:
        def __init__(self, total, **kw):
            self.total, self.updates = total, []
            bars.append(self)

        def update(self, n=1):
            self.updates.append(n)

        def set_description(self, text):
            pass

        def close(self):
            pass

    monkeypatch.setattr(bench, "tqdm", Recorder)
    tiny = {"preset": "paper", "iters": 3, "d_steps": 1, "g_steps": 1, "channels": 8, "growth": 4}
    run_bench(["bicubic", "drsingan"], [str(tiny_dataset)], [2], settings=tiny)
    (bar,) = bars
    assert sum(bar.updates) == bar.total > 0 and all(u >= 0 for u in bar.updates)
    assert len(bar.updates) > 2 * 3  # more than once per image: inside each image's training
    run_bench(["bicubic"], [str(tiny_dataset)], [2])
    assert bars[1].total == 2 and bars[1].updates == [1, 1]  # no zero-shot model: images


def test_zero_shot_image_runs_in_parallel_match_one_at_a_time(tiny_dataset):
    """Image-runs go to worker processes on one thread each: two at once give the same per-image
    figures as one at a time, in the files' order, and the report says how many ran at once."""
    tiny = {"preset": "paper", "iters": 3, "d_steps": 1, "g_steps": 1, "channels": 8, "growth": 4}
    one = run_bench(["drsingan", "bicubic"], [str(tiny_dataset)], [2], progress=False, settings=tiny, jobs=1)
    two = run_bench(["drsingan", "bicubic"], [str(tiny_dataset)], [2], progress=False, settings=tiny, jobs=2)
    assert one["zero_shot_jobs"] == 1 and two["zero_shot_jobs"] == 2
    assert one["zero_shot_settings"]["drsingan"]["threads"] == 1
    for a, b in zip(one["results"], two["results"], strict=True):
        assert [r["name"] for r in a["images"]] == [r["name"] for r in b["images"]]
        assert [r["psnr_y"] for r in a["images"]] == [r["psnr_y"] for r in b["images"]]
    assert [r["model"] for r in two["results"]] == ["drsingan", "bicubic"]
    with pytest.raises(SisrError, match="--jobs"):
        run_bench(["drsingan"], [str(tiny_dataset)], [2], progress=False, settings=tiny, jobs=-1)


def test_zero_shot_workers_die_with_a_killed_bench(tiny_dataset):
    """SIGKILL of `sisr bench` leaves no image-run training on in its worker processes."""
    import os
    import signal
    import time
    from pathlib import Path

    cmd = [
        sys.executable,
        "-m",
        "sisr",
        "bench",
        "--models",
        "drsingan",
        "--data",
        str(tiny_dataset),
        "--scale",
        "2",
        "--quiet",
    ]
    cmd += ["--set", "preset=paper", "--set", "channels=8", "--set", "growth=4", "--jobs", "2"]
    bench = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    deadline = time.monotonic() + 60
    while len(children) < 2 and time.monotonic() < deadline:  # the two workers, besides spawn's tracker
        time.sleep(0.5)
        text = Path(f"/proc/{bench.pid}/task/{bench.pid}/children").read_text()
        children = [int(c) for c in text.split() if "spawn_main" in Path(f"/proc/{c}/cmdline").read_text()]
    assert len(children) == 2, "the bench started no workers"
    os.kill(bench.pid, signal.SIGKILL)
    bench.wait()
    deadline = time.monotonic() + 60  # a worker still starting up imports torch first
    while any(Path(f"/proc/{c}").exists() for c in children) and time.monotonic() < deadline:
        time.sleep(0.5)
    alive = [
        c for c in children if Path(f"/proc/{c}").exists() and "Z" not in Path(f"/proc/{c}/stat").read_text().split()[2]
    ]
    assert not alive, f"workers {alive} outlived the bench"


@pytest.mark.parametrize("protocol", ["y", "rgb"])
def test_saved_images_are_the_images_measured(tiny_dataset, tmp_path, protocol):
    from sisr.data import sr_pair
    from sisr.io import read_image, to_uint8
    from sisr.metrics import psnr, ssim

    tiny = {"preset": "paper", "iters": 3, "d_steps": 1, "g_steps": 1, "channels": 8, "growth": 4}
    zero_shot = protocol == "y"  # and a worker process's, once
    models = ["bicubic", "rrgan-x234"] + (["drsingan"] if zero_shot else [])
    out = tmp_path / "saved"
    report = run_bench(
        models, [str(tiny_dataset)], [2, 3], False, protocol, tiny if zero_shot else None, jobs=1, save=out
    )
    for r in report["results"]:
        folder = out / r["model"] / str(tiny_dataset).strip("/").replace("/", "_") / f"x{r['scale']}"
        for row in r["images"]:
            hr, _ = sr_pair(tiny_dataset / "HR" / f"{row['name']}.png", r["scale"], protocol)
            sr = to_uint8(read_image(folder / f"{row['name']}.png").pixels)
            assert sr.shape == hr.shape  # the luma under protocol y; the gray image stays gray
            assert psnr(sr, hr, crop=r["scale"]) == row["psnr_y"] and ssim(sr, hr, crop=r["scale"]) == row["ssim_y"]


def test_save_with_from_json_is_refused(tmp_path):
    assert main(["bench", "--from-json", str(tmp_path / "r.json"), "--save", str(tmp_path / "s")]) == 2
    assert not (tmp_path / "s").exists()


def test_saved_weights_files_of_one_name_keep_apart(tiny_dataset, tmp_path):
    import shutil

    from sisr.checkpoint import find_weights

    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        shutil.copy(find_weights("srcnn.safetensors"), tmp_path / run / "model.safetensors")
    models = [str(tmp_path / run / "model.safetensors") for run in ("a", "b")]
    run_bench(models, [str(tiny_dataset)], [4], progress=False, save=tmp_path / "s", protocol="rgb")
    folders = sorted(p.name for p in (tmp_path / "s").iterdir())
    assert len(folders) == 2 and all(f.endswith(("a_model", "b_model")) for f in folders), folders


def test_a_mistyped_dataset_name_gets_the_closest_one(tiny_dataset, monkeypatch):
    monkeypatch.setenv("SISR_DATA", str(tiny_dataset.parent))
    with pytest.raises(SisrError, match=r"dataset 'tiny' not found .*\(did you mean 'Tiny'\?\)$"):
        run_bench(["bicubic"], ["tiny"], [2], progress=False)
    with pytest.raises(SisrError, match=r"images$"):  # nothing close: no guess
        run_bench(["bicubic"], ["Urban100"], [2], progress=False)


def test_a_report_older_than_the_budget_column_claims_no_budget(tmp_path):
    """Merging reports written before budgets were recorded must not make a trained model's row
    read "none (no training)"."""
    import json

    from sisr.bench import to_markdown
    from sisr.cli import _merge_reports

    row = {"model": "rrgan-x4", "dataset": "Set5", "scale": 4, "psnr_y": 31.0, "ssim_y": 0.88, "images": []}
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps({"protocol": "y", "results": [row]}))
    assert "training budget" not in to_markdown(_merge_reports([str(old)]))
    budget = {"steps": 5, "batch": 16, "hours": 1.0, "hardware": "cpu", "runs": 1, "complete": True}
    new.write_text(json.dumps({"protocol": "y", "results": [row | {"model": "vdsr"}], "budgets": {"vdsr": budget}}))
    table1 = to_markdown(_merge_reports([str(old), str(new)])).split("Table 2")[0]
    assert "| rrgan-x4 | 31.00 |  | not recorded |" in table1 and "5 x 16, 1.00 h, cpu |" in table1, table1


def test_an_image_too_small_to_measure_is_refused_before_any_work(tiny_dataset, photo):
    """A 19 x 40 image leaves no room for SSIM's window at x4 once 4 px of border are left out: one
    line naming it and what is needed, before any model runs (it was an IndexError in the resize)."""
    write_image(tiny_dataset / "HR" / "c.png", photo[:19, :40])
    assert run_bench(["bicubic"], [str(tiny_dataset)], [2], progress=False)["results"][0]["psnr_y"] > 0  # x2 fits
    r = _cli("bench", "--models", "bicubic", "--data", str(tiny_dataset), "--scale", "2,4")
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"sisr: error: {tiny_dataset / 'HR' / 'c.png'}: 40 x 19 is too small to measure at x4 (at least 20 px a side: "
        "cropped to a multiple of 4, 4 px of border left out, SSIM's window of 11 px)"
    ], r.stderr
    assert "bicubic" not in r.stdout  # no table: nothing was measured


def test_a_macs_hidden_companion_files_are_not_taken_for_images(tiny_dataset):
    """Copied from a Mac to a USB drive or unzipped from a Mac's zip, each image has a "._" file beside it."""
    before = run_bench(["bicubic"], [str(tiny_dataset)], [2], progress=False)["results"][0]
    for name in ("a.png", "b.png"):
        (tiny_dataset / "HR" / f"._{name}").write_bytes(b"\x00\x05\x16\x07" + bytes(60))
    after = run_bench(["bicubic"], [str(tiny_dataset)], [2], progress=False)["results"][0]
    assert [i["name"] for i in after["images"]] == ["a", "b"] and after["psnr_y"] == before["psnr_y"]


def test_a_report_that_cannot_be_written_is_refused_before_the_run(tiny_dataset, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = _cli("bench", "--models", "bicubic", "--data", str(tiny_dataset), "--json", str(blocker / "r.json"))
    assert r.returncode == 2 and r.stderr.strip().splitlines() == [
        f"sisr: error: {blocker / 'r.json'}: cannot write ({blocker} is a file, not a folder)"
    ], r.stderr
    assert "bicubic" not in r.stdout  # no table: nothing was measured


def _readme_bench_tables():
    """(command, markdown file, its reports, per-image) of each README `sisr bench` that writes one."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    found = []
    for line in (repo / "README.md").read_text().replace("\\\n", " ").splitlines():
        words = line.split()
        if words[:2] != ["sisr", "bench"] or "--markdown" not in words:
            continue
        reports = words[words.index("--from-json") + 1].split(",") if "--from-json" in words else []
        reports = reports or [words[words.index("--json") + 1]]
        markdown = repo / words[words.index("--markdown") + 1]
        args = (line.strip(), markdown, [str(repo / r) for r in reports], "--per-image" in words)
        found.append(pytest.param(*args, id=markdown.name))
    return found


@pytest.mark.parametrize("command, markdown, reports, per_image", _readme_bench_tables())
def test_the_readmes_tables_are_its_commands_reports(command, markdown, reports, per_image):
    """Each results table is what its README command makes of the committed reports, and a table the
    README shows is shown whole: a rerun report once left the README with the earlier run's seconds."""
    from pathlib import Path

    from sisr.cli import _merge_reports

    made = to_markdown(_merge_reports(reports), per_image=per_image)
    assert made + "\n" == markdown.read_text(), f"{markdown.name} is not what `{command}` makes"
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    rows = [r for r in made.splitlines() if r.startswith("| ")]
    if rows[0] in readme:  # its header: the README shows this table (not a summary of it)
        assert [r for r in rows if r not in readme] == []


def test_the_jpeg_advice_threshold_is_where_the_held_out_figures_cross():
    """``JPEG_ADVICE_BELOW`` is the lowest quality at which the real-photo model no longer leads
    rrgan-x4 by 0.05 dB on the held-out photos of the committed report, and the README quotes them."""
    import json
    from pathlib import Path

    from sisr.api import JPEG_ADVICE_BELOW, REAL_PHOTO_MODEL

    repo = Path(__file__).resolve().parents[1]
    report = json.loads((repo / "benchmarks/results/jpeg_advice.json").read_text())
    assert report["data"] == "skimage"  # held out: no shipped model trained on it
    lead = {r["quality"]: r[REAL_PHOTO_MODEL] - r["rrgan-x4"] for r in report["rows"]}
    assert all(r["read_back"] == [r["quality"]] for r in report["rows"])
    assert min(q for q, d in lead.items() if d < 0.05) == JPEG_ADVICE_BELOW
    readme = " ".join((repo / "README.md").read_text().split())
    said = [f"{lead[20]:+.2f} dB for `{REAL_PHOTO_MODEL}` at quality 20", f"{lead[40]:+.2f} at 40"]
    said += [f"{lead[50]:+.2f} at 50", f"{lead[60]:+.2f} at 60", f"{lead[95]:+.2f} at 95"]
    assert all(s in readme for s in said), said


def test_against_adds_paired_differences_with_a_seeded_interval(tmp_path, capsys):
    import json

    from sisr.bench import paired, to_markdown
    from sisr.cli import main

    def row(model, psnrs, dataset="D", scale=4):
        images = [{"name": f"i{k}", "psnr_y": v, "ssim_y": 0.8} for k, v in enumerate(psnrs)]
        return {"model": model, "dataset": dataset, "scale": scale, "psnr_y": float(np.mean(psnrs)), "ssim_y": 0.8,
                "images": images}  # fmt: skip

    ref = [30.0, 31.0, 28.0, 33.0, 29.0]
    b_psnrs = [v + d for v, d in zip(ref, [0.3, 0.1, 0.2, -0.1, 0.25])]
    rows = [row("a", ref), row("b", b_psnrs), row("c", [v + 0.5 for v in ref[:3]]), row("a", ref[:2], "E")]
    report = {"results": [*rows, row("b", ref[:2], "F")]}
    p = paired(report, "a")
    b = p[("b", "D", 4)]
    assert b["mean"] == pytest.approx(0.15) and (b["higher"], b["n"]) == (4, 5)
    assert -0.1 <= b["low"] < 0.15 < b["high"] <= 0.3 and paired(report, "a")[("b", "D", 4)] == b  # seeded
    c = p[("c", "D", 4)]  # on the images both have; the same difference on each: no spread
    assert (c["n"], c["higher"]) == (3, 3) and c["low"] == pytest.approx(0.5) == c["high"]
    assert ("b", "F", 4) not in p and ("a", "D", 4) not in p  # nothing to pair with; not itself
    md = to_markdown(report, published=False, against="a")
    assert "### PSNR against a (dB, Y, paired by image)" in md
    assert "| b | +0.15 (" in md and "), 4 of 5 | " in md and "| c | +0.50 (+0.50 to +0.50), 3 of 3 |" in md
    with pytest.raises(SisrError, match=r"--against z: not a model of this report \(a, b, c\)"):
        paired(report, "z")
    (tmp_path / "r.json").write_text(json.dumps(report))
    assert main(["bench", "--from-json", str(tmp_path / "r.json"), "--against", "b"]) == 0
    assert "### PSNR against b" in capsys.readouterr().out
    assert main(["bench", "--models", "bicubic", "--against", "rrgan-x4"]) == 2  # refused before any run
    assert "--against rrgan-x4: not one of --models (bicubic)" in capsys.readouterr().err


@pytest.mark.parametrize("protocol", ["y", "rgb"])
def test_outputs_made_elsewhere_score_as_the_model_that_made_them(tiny_dataset, tmp_path, protocol):
    """A folder of results (here, a bench's --save of its own) is measured as the rows it came from."""
    ran = run_bench(["bicubic", "rrgan-x234"], [str(tiny_dataset)], [2, 3], False, protocol, save=tmp_path / "s")
    # --save's layout, under another folder name; one model's results beside another model
    (tmp_path / "s" / "bicubic").rename(tmp_path / "s" / "theirs")
    got = run_bench(
        ["rrgan-x234"], [str(tiny_dataset)], [2, 3], False, protocol, outputs=[str(tmp_path / "s" / "theirs")]
    )
    rows = {(r["model"], r["scale"]): r for r in got["results"]}
    for r in ran["results"]:
        mine = rows[("theirs" if r["model"] == "bicubic" else r["model"], r["scale"])]
        assert [(i["name"], i["psnr_y"], i["ssim_y"]) for i in mine["images"]] == [
            (i["name"], i["psnr_y"], i["ssim_y"]) for i in r["images"]
        ]
    assert got["budgets"]["theirs"] == "results made elsewhere (not recorded)"
    assert got["provenance"]["outputs"]["theirs"]["images"] == 4 and "theirs" not in got["provenance"]["weights"]
    md = to_markdown(got, per_image=True)
    assert "| theirs | " in md and "| results made elsewhere (not recorded) |" in md
    # merged with another report of it, renamed: both reports' files stay on record
    x2 = run_bench([], [str(tiny_dataset)], [2], False, protocol, outputs=[str(tmp_path / "s" / "theirs")])
    for name, rep in (("a", got), ("b", x2)):
        (tmp_path / f"{name}.json").write_text(json.dumps(rep))
    assert main(["bench", "--from-json", f"{tmp_path / 'a.json'},{tmp_path / 'b.json'}", "--rename", "theirs=bicubic2",
                 "--json", str(tmp_path / "m.json")]) == 0  # fmt: skip
    merged = json.loads((tmp_path / "m.json").read_text())
    kept = merged["provenance"]["outputs"]["bicubic2"]
    assert [e["images"] for e in kept] == [4, 2] and "theirs" not in merged["provenance"]["outputs"]


def test_outputs_in_colour_or_flat_are_found_and_taken_as_their_luma(tiny_dataset, tmp_path, monkeypatch):
    from sisr.data import modcrop
    from sisr.io import read_image, to_uint8
    from sisr.metrics import psnr

    flat = tmp_path / "flat"
    flat.mkdir()
    for name in ("a", "b"):  # the HR itself, in colour (a) and gray saved as RGB (b): a perfect result
        hr = modcrop(to_uint8(read_image(tiny_dataset / "HR" / f"{name}.png").rgb), 4)
        write_image(flat / f"{name}_x4.png", hr)
    got = run_bench([], [str(tiny_dataset)], [4], False, outputs=[str(flat)])
    # under protocol y: a colour result's rounded luma (MATLAB's rgb2ycbcr), equal channels as gray
    assert [i["psnr_y"] for i in got["results"][0]["images"]] == [math.inf, math.inf]
    assert "budgets" not in got and [r["model"] for r in got["results"]] == ["flat"]
    both = tmp_path / "both"  # two datasets given as paths, by their own names
    (both / "Tiny" / "x4").mkdir(parents=True)
    for f in flat.iterdir():
        shutil.copy(f, both / "Tiny" / "x4" / f.name)
    twice = tmp_path / "Other" / "HR"
    shutil.copytree(tiny_dataset / "HR", twice)
    with pytest.raises(SisrError, match="no result for .*Other a at x4"):
        run_bench([], [str(tiny_dataset), str(twice.parent)], [4], False, outputs=[str(both)])
    shutil.copytree(both / "Tiny", both / "Other")
    got = run_bench([], [str(tiny_dataset), str(twice.parent)], [4], False, outputs=[str(both)])
    assert [i["psnr_y"] for r in got["results"] for i in r["images"]] == [math.inf] * 4
    monkeypatch.chdir(flat)  # "." is named by the folder it is, and measured once however it is spelled
    got = run_bench([], [str(tiny_dataset)], [4], False, outputs=[".", str(flat), str(flat) + "/"])
    assert [r["model"] for r in got["results"]] == ["flat"]
    with pytest.raises(SisrError, match=r"no result for .* a at x2 \(a\.\* or a_x2\.\* in .*x2\)"):
        run_bench([], [str(tiny_dataset)], [2, 4], False, outputs=[str(flat)])  # flat: for one scale only
    got = run_bench([], [str(tiny_dataset)], [4], False, "rgb", outputs=[str(flat)])  # the colour HR itself
    assert [i["psnr_y"] for i in got["results"][0]["images"]] == [math.inf, math.inf]
    colour = {"a": to_uint8(read_image(flat / "a_x4.png").pixels), "b": to_uint8(read_image(flat / "b_x4.png").pixels)}
    write_image(flat / "a_x4.png", colour["a"][:, :, :1])
    with pytest.raises(SisrError, match=r"a_x4\.png: a gray image, but a\.png is in colour under --protocol rgb"):
        run_bench([], [str(tiny_dataset)], [4], False, "rgb", outputs=[str(flat)])
    write_image(flat / "a_x4.png", colour["a"])
    # A colour result of the gray image b: its rounded full-range luma (0.299 R + 0.587 G + 0.114 B)
    tinted = np.clip(colour["b"].astype(np.int16) + np.array([4, 1, 4]), 0, 255).astype(np.uint8)
    write_image(flat / "b_x4.png", tinted)
    got = run_bench([], [str(tiny_dataset)], [4], False, outputs=[str(flat)])
    shifted = np.floor(tinted @ np.array([0.299, 0.587, 0.114]) + 0.5).astype(np.uint8)[:, :, None]
    b = modcrop(to_uint8(read_image(tiny_dataset / "HR" / "b.png").pixels), 4)
    assert got["results"][0]["images"][1]["psnr_y"] == pytest.approx(psnr(shifted, b, crop=4))
    write_image(flat / "b_x4.png", colour["b"][:, :, :1])
    write_image(flat / "a.png", np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(SisrError, match=r"2 results for a \(a\.png, a_x4\.png\); keep one"):
        run_bench([], [str(tiny_dataset)], [4], False, outputs=[str(flat)])
    (flat / "a_x4.png").unlink()
    with pytest.raises(SisrError, match=r"a\.png: 8 x 8, but a\.png at x4 is 120 x 96 \(its size cropped"):
        run_bench([], [str(tiny_dataset)], [4], False, outputs=[str(flat)])


def test_outputs_refuse_what_does_not_apply_in_one_line(tiny_dataset, tmp_path, capsys):
    (tmp_path / "bicubic").mkdir()
    data = ["--data", str(tiny_dataset), "--scale", "4"]
    for args, said in (
        (["--outputs", str(tmp_path / "none")], "no such folder"),
        (["--models", "bicubic", "--outputs", str(tmp_path / "bicubic")], "would be named 'bicubic', as bicubic's are"),
        (["--outputs", str(tmp_path / "bicubic"), "--ensemble"], "--ensemble applies to --models, and none is listed"),
        (["--outputs", str(tmp_path / "bicubic"), "--degradation", "real"], "not made from this command's degraded"),
        (["--outputs", str(tmp_path / "bicubic"), "--against", "srcnn"], "not one of --models or --outputs"),
    ):
        assert main(["bench", *args, *data]) == 2
        err = capsys.readouterr().err
        assert said in err and len(err.strip().splitlines()) == 1, err
    assert main(["bench", "--from-json", str(tmp_path / "r.json"), "--outputs", str(tmp_path / "bicubic")]) == 2
    assert "--from-json measures none" in capsys.readouterr().err


def test_compare_puts_results_made_elsewhere_beside_the_models(tiny_dataset, tmp_path, capsys):
    from PIL import Image

    from sisr.data import modcrop
    from sisr.io import read_image, to_uint8

    hr = tiny_dataset / "HR" / "a.png"
    theirs = tmp_path / "theirs" / "x4"
    theirs.mkdir(parents=True)
    write_image(theirs / "a_x4.png", modcrop(to_uint8(read_image(hr).rgb), 4))  # the HR itself
    args = ["compare", str(hr), "--models", "bicubic", "--scale", "4", "--crop", "8,8,32,32"]
    assert main([*args, "--outputs", str(theirs.parent), "-o", str(tmp_path / "f.png")]) == 0
    assert main([*args, "-o", str(tmp_path / "g.png")]) == 0
    assert Image.open(tmp_path / "f.png").width == Image.open(tmp_path / "g.png").width + 192 + 4  # one panel more
    # without ground truth the result must be the input's size times the scale
    small = tmp_path / "small.png"
    write_image(small, to_uint8(read_image(hr).rgb)[:20, :30])
    write_image(theirs / "small.png", np.zeros((80, 100, 3), np.uint8))
    lr_args = ["compare", str(small), "--lr", "--models", "bicubic", "--scale", "4", "--crop", "0,0,32,32"]
    assert main([*lr_args, "--outputs", str(theirs.parent), "-o", str(tmp_path / "h.png")]) == 2
    assert "small.png: 100 x 80, but small.png at x4 is 120 x 80 (the input's size)" in capsys.readouterr().err
    write_image(theirs / "small.png", np.zeros((80, 120, 3), np.uint8))  # equal channels: gray
    assert main([*lr_args, "--outputs", str(theirs.parent), "-o", str(tmp_path / "h.png")]) == 2
    assert "small.png: a gray image, but small.png is in colour\n" in capsys.readouterr().err
    write_image(theirs / "small.png", np.random.default_rng(0).integers(0, 256, (80, 120, 3), dtype=np.uint8))
    assert main([*lr_args, "--outputs", str(theirs.parent), "-o", str(tmp_path / "h.png")]) == 0
