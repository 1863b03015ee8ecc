"""Every model kind x every inference option: the option is honoured, or refused with one line and exit 2."""

import numpy as np
import pytest
import torch
from PIL import Image

from sisr.cli import main
from sisr.errors import SisrError
from sisr.infer import ScaleError, describe, list_models, load_model

ZS_FAST = [
    "--set",
    "preset=paper",
    "--set",
    "iters=2",
    "--set",
    "d_steps=1",
    "--set",
    "g_steps=1",
    "--set",
    "channels=8",
    "--set",
    "growth=4",
]
# model -> (scale, arguments it needs to run in seconds); one of each kind, srcnn for an HR-space net
KINDS = {
    "bicubic": (2, []),
    "rrgan-x4": (2, []),
    "srcnn": (4, []),
    "drsingan": (2, ZS_FAST),
    "pyramid": (2, []),  # a pyramid drsingan trained on the input and saved (--save-model): run again
}
OPTIONS = {
    "precision-bf16": ["--precision", "bf16"],
    "precision-auto": ["--precision", "auto"],
    "tile": ["--tile", "16"],
    "tile-overlap": ["--tile-overlap", "4"],
    "onnx": ["--backend", "onnx"],
    "onnx-bf16": ["--backend", "onnx", "--precision", "bf16"],  # the exported graph is fp32
    "set": ["--set", "lr=0.001"],
    "ensemble": ["--ensemble"],
    "save-model": ["--save-model", "PYR"],
    "device-cpu": ["--device", "cpu"],
}


def _run(argv, capsys):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.err


@pytest.fixture(scope="module")
def small_png(tmp_path_factory):
    p = tmp_path_factory.mktemp("in") / "in.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (30, 34, 3), dtype=np.uint8)).save(p)
    return p


@pytest.fixture(scope="module")
def saved_pyramid(small_png, tmp_path_factory):
    kept = tmp_path_factory.mktemp("kept")
    argv = ["upscale", str(small_png), "-o", str(kept / "o.png"), "--model", "drsingan", "--scale", "2", "--quiet"]
    assert main([*argv, *ZS_FAST, "--save-model", str(kept)]) == 0
    return str(kept / "in.png")


def _name(model: str, request) -> str:
    return request.getfixturevalue("saved_pyramid") if model == "pyramid" else model


@pytest.mark.parametrize("option", OPTIONS)
@pytest.mark.parametrize("model", KINDS)
def test_option_is_honoured_or_refused(model, option, small_png, tmp_path, capsys, request):
    extra = [a.replace("PYR", str(tmp_path / "pyr")) for a in OPTIONS[option]]
    out = tmp_path / "out.png"
    scale, needs = KINDS[model]
    name = _name(model, request)
    argv = ["upscale", str(small_png), "-o", str(out), "--model", name, "--scale", str(scale), "--quiet"]
    code, err = _run(argv + needs + extra, capsys)
    desc = describe(model) if model == "drsingan" else load_model(name, scale=None).descriptor
    applies = {
        "precision-bf16": "bf16" in desc.precisions,
        "precision-auto": "auto" in desc.precisions,
        "tile": desc.tiling,
        "tile-overlap": desc.tiling,
        "onnx": "onnx" in desc.backends,
        "onnx-bf16": False,
        "set": bool(desc.settings),
        "ensemble": desc.ensemble,
        "save-model": desc.trains,
        "device-cpu": "cpu" in desc.devices,
    }[option]
    if applies:
        assert code == 0, err
        assert Image.open(out).size == (34 * scale, 30 * scale)
        if option == "save-model":
            assert list((tmp_path / "pyr").rglob("pyramid.safetensors"))
    else:
        assert code == 2
        assert err.count("\n") == 1 and err.startswith("sisr: error: ") and "does not apply" in err, err
        assert not out.exists()


@pytest.mark.parametrize("model", KINDS)
def test_export_is_honoured_or_refused(model, tmp_path, capsys, request):
    pytest.importorskip("onnx")
    out = tmp_path / "m.onnx"
    name = _name(model, request)
    code, err = _run(["export", "--model", name, "--scale", str(KINDS[model][0]), "-o", str(out)], capsys)
    if model in ("rrgan-x4", "srcnn"):
        assert code == 0 and out.stat().st_size > 0
    else:
        assert code == 2 and err.count("\n") == 1 and "cannot be exported" in err, err
        assert not out.exists()


@pytest.mark.parametrize("tile", ["-5", "3", "15"])
def test_a_tile_below_16_px_is_refused(tile, small_png, tmp_path, capsys):
    code, err = _run(["upscale", str(small_png), "-o", str(tmp_path / "o.png"), "--tile", tile], capsys)
    assert code == 2 and err.strip() == f"sisr: error: tile must be 0 (no tiling) or at least 16 LR px, got {tile}"
    assert not (tmp_path / "o.png").exists()


def test_method_is_not_a_setting(small_png, tmp_path, capsys):
    code, err = _run(
        ["upscale", str(small_png), "-o", str(tmp_path / "o.png"), "--model", "drsingan", "--set", "method=singan"],
        capsys,
    )
    assert code == 2 and "--set method does not apply to drsingan" in err


def test_descriptors_state_what_each_kind_can_do():
    zs = describe("drsingan")
    assert (zs.kind, zs.tiling, zs.backends, zs.export) == ("zero-shot", False, ("torch",), False)
    assert "iters" in zs.settings and "method" not in zs.settings
    net = load_model("rrgan-x4").descriptor
    assert (net.kind, net.tiling, net.export, net.settings, net.scales) == ("supervised", True, True, (), (2, 4))
    assert load_model("srcnn").descriptor.feature_space == "hr"
    bic = load_model("bicubic").descriptor
    assert bic.any_scale and "bf16" not in bic.precisions and not bic.export
    # auto means fp32 for a model without bf16: bicubic ran in bf16 on a CPU with native bf16
    assert load_model("bicubic", precision="auto").precision == "fp32"


def test_a_scale_the_model_lacks_names_the_models_that_have_it(small_png, tmp_path, capsys):
    # Every registered model that upscales x3 is named, each checked by loading it; the CLI adds --width.
    code, err = _run(["upscale", str(small_png), "-o", str(tmp_path / "o.png"), "--scale", "3"], capsys)
    assert code == 2 and not (tmp_path / "o.png").exists()
    line = err.strip()
    assert line.startswith(
        "sisr: error: model 'rrgan-x4' does not upscale x3 (it supports x2, x4); models that do x3: "
    )
    assert line.endswith("; or --width enlarges x4, then resizes to the width asked")
    named = line.split("models that do x3: ")[1].split(";")[0].split(", ")
    able = [m for m in list_models() if m != "rrgan-x4" and 3 in load_model(m, scale=None).descriptor.scales]
    assert sorted(named) == sorted(able + ["bicubic"]) and "rrgan-x234" in named
    with pytest.raises(ScaleError, match=r"models that do x8: bicubic, singan, drsingan$"):
        load_model("srcnn", scale=8)  # the API has no --width: its message stops at the models


def test_models_json_gives_every_models_descriptor(capsys):
    import json

    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in rows] == list_models()
    by = {r["name"]: r for r in rows}
    assert by["rrgan-x234"]["scales"] == [2, 3, 4] and by["rrgan-x4"]["default"] and not by["srcnn"]["default"]
    assert by["rrgan-x4"]["params"] == load_model("rrgan-x4").descriptor.params > 0
    assert by["drsingan"]["kind"] == "zero-shot" and by["drsingan"]["any_scale"] and not by["drsingan"]["export"]


@pytest.mark.parametrize("device", ["cuda", "cuda:7", "tpu"])
def test_a_device_this_machine_lacks_is_refused_in_one_line(device, small_png, tmp_path, capsys):
    if device.startswith("cuda") and torch.cuda.device_count() > int(device.partition(":")[2] or 0):
        pytest.skip("this machine has that GPU")
    code, err = _run(["upscale", str(small_png), "-o", str(tmp_path / "o.png"), "--device", device], capsys)
    said = "device must be 'cpu' or 'cuda[:N]'" if device == "tpu" else f"device '{device}': no such CUDA GPU here"
    assert code == 2 and err.count("\n") == 1 and said in err and not (tmp_path / "o.png").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the GPU playbook runs it: -k gpu)")
def test_gpu_inference_matches_the_cpus(tmp_path):
    """A network and bicubic on the GPU give the CPU's result (fp32: TF32 off) to within a level of
    8 bits, tiled or not; the ONNX export of a GPU-loaded model works; bench records the GPU."""
    import importlib.util

    from sisr.bench import run_bench
    from sisr.checkpoint import save_checkpoint
    from sisr.export import onnx_bytes
    from sisr.io import write_image
    from sisr.models import build_model

    # Weights made here: the GPU playbook sets the shipped ones aside before it packs the tree.
    nets = {}
    for arch, config in (("rrgan", {"channels": 16, "blocks": 2, "recursions": 2}), ("srcnn", {"n1": 16, "n2": 8})):
        torch.manual_seed(0)
        net = build_model(arch, config)
        nets[arch] = str(save_checkpoint(tmp_path / f"{arch}.safetensors", net, arch, net.config))
    rng = np.random.default_rng(0)  # no scikit-image photo: the lent machine may lack the package
    photo = (rng.random((64, 64, 3)) * 64 + np.linspace(0, 190, 64)[:, None, None]).astype(np.uint8)
    img = photo[:40, :52]
    for name in (nets["rrgan"], nets["srcnn"], "bicubic"):
        cpu = load_model(name, scale=4, device="cpu")(img)
        for tile in (0, 16):
            gpu = load_model(name, scale=4, device="cuda", tile=tile)
            assert gpu.device.type == "cuda" and all(p.is_cuda for p in gpu.module.parameters())
            np.testing.assert_allclose(gpu(img), cpu, atol=1 / 255)
    if importlib.util.find_spec("onnx"):
        assert len(onnx_bytes(load_model(nets["srcnn"], device="cuda"))) > 0
    auto = load_model(nets["rrgan"], precision="auto")
    assert auto.device.type == "cuda" and auto.precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp32")
    hr = tmp_path / "Set" / "HR"
    write_image(hr / "a.png", photo[:64, :64])
    report = run_bench([nets["srcnn"]], [str(tmp_path / "Set")], [4], progress=False, device="cuda")
    assert report["provenance"]["environment"]["devices"][0].startswith("cuda")


def test_device_and_a_device_setting_that_disagree_are_refused(monkeypatch):
    import sisr.infer

    monkeypatch.setattr(sisr.infer, "resolve_device", lambda name: torch.device("cuda"))  # as on a GPU machine
    monkeypatch.setattr(sisr.infer, "device_here", torch.device)
    with pytest.raises(SisrError, match=r"^--device cuda and --set device=cpu disagree: give one$"):
        load_model("drsingan", device="cuda", settings={"device": "cpu"})
    with pytest.raises(SisrError, match="disagree"):
        load_model("drsingan", device="cuda", settings={"drsingan": {"device": "cpu"}})
    monkeypatch.undo()
    assert load_model("drsingan", device="cpu", settings={"device": "cpu"}).device.type == "cpu"


def test_models_name_prints_its_card_or_what_it_can_do(capsys):
    from sisr.infer import model_card, weights_path

    assert main(["models", "srcnn-y"]) == 0
    out = capsys.readouterr().out
    assert (
        out
        == weights_path("srcnn-y").with_suffix(".md").read_text().rstrip() + "\n"
        == model_card("srcnn-y").rstrip() + "\n"
    )
    assert main(["models", "drsingan"]) == 0
    assert "zero-shot; scales: any integer" in capsys.readouterr().out
    assert main(["models", "srcnn-z"]) == 2
    assert "unknown model 'srcnn-z' (did you mean 'srcnn-y'?" in capsys.readouterr().err


def test_models_with_a_weights_path_summarises_its_header(tmp_path, capsys):
    from sisr.checkpoint import save_checkpoint, save_tensors
    from sisr.models import build_model

    net = build_model("srcnn", {"n1": 8, "n2": 4})
    recipe = {"batch": 16, "val_data": "BSD200:val", "init": ""}
    meta = {"steps": 1200, "train_seconds": 7200, "data": ["T91"], "metrics": {"4": 26.5}, "phase": "psnr"}
    path = save_checkpoint(tmp_path / "mine.safetensors", net, "srcnn", net.config, recipe=recipe, **meta)
    assert main(["models", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# mine.safetensors\n") and '| architecture | srcnn {"scale": 4' in out
    assert "| 1,200 x 16, 2.00 h," in out and "| last validation (BSD200:val, Y-PSNR) | x4 26.50 dB |" in out
    assert "| training data | T91 |" in out
    assert main(["models", str(tmp_path / "none.safetensors")]) == 2
    # a training run's folder is its model.safetensors, for `models` and for --model
    run = tmp_path / "run"
    run.mkdir()
    save_checkpoint(run / "model.safetensors", net, "srcnn", net.config, recipe=recipe, **meta)
    capsys.readouterr()
    assert main(["models", str(run)]) == 0
    assert capsys.readouterr().out.startswith("# run\n")
    src = tmp_path / "p.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "p_x4.png"), "--model", str(run), "--quiet"]) == 0
    assert main(["models", str(tmp_path)]) == 2
    assert "a folder without model.safetensors" in capsys.readouterr().err
    # a run folder holding only its state (what a GPU chunk brings back): how its weights come
    save_tensors(tmp_path / "state.safetensors", {"x": torch.zeros(1)}, "train-state", {"step": 12018})
    assert main(["upscale", str(src), "-o", str(tmp_path / "q.png"), "--model", str(tmp_path), "--quiet"]) == 2
    said = capsys.readouterr().err
    assert "a training run at step 12,018 without its weights" in said and "--resume" in said
    assert not (tmp_path / "q.png").exists()


def test_a_run_folder_whose_weights_lag_its_state_says_so(tmp_path, capsys):
    """A GPU chunk brings back a newer state alone: the folder's weights are an older step's."""
    from sisr.checkpoint import save_checkpoint, save_tensors
    from sisr.models import build_model

    net = build_model("srcnn", {"n1": 8, "n2": 4})
    save_checkpoint(tmp_path / "model.safetensors", net, "srcnn", net.config, steps=1200)
    save_tensors(tmp_path / "state.safetensors", {"x": torch.zeros(1)}, "train-state", {"step": 1200})
    src = tmp_path / "p.png"
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(tmp_path / "a.png"), "--model", str(tmp_path), "--quiet"]) == 0
    assert "weights are from step" not in capsys.readouterr().err  # current weights: nothing to say
    save_tensors(tmp_path / "state.safetensors", {"x": torch.zeros(1)}, "train-state", {"step": 3000})
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", str(tmp_path), "--quiet"]) == 0
    said = capsys.readouterr().err
    assert "its weights are from step 1,200, its state is at step 3,000" in said and "--resume" in said
    assert (tmp_path / "b.png").is_file()  # still runs: older weights are weights
    assert main(["models", str(tmp_path)]) == 0
    assert capsys.readouterr().err.count("its weights are from step 1,200") == 1  # once, however often it is looked up
