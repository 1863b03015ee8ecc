import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from sisr.checkpoint import load_checkpoint
from sisr.config import load_config
from sisr.data import PatchSampler
from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.models import model_from_checkpoint
from sisr.train.supervised import TrainConfig, Trainer, lr_at

from .train_helpers import tiny_images, tiny_trainer

REPO = Path(__file__).resolve().parents[1]


def test_psnr_phase_smoke_training_learns(tmp_path, photo):
    t = tiny_trainer(tmp_path, photo, steps=20, lr=2e-3)
    before = t.validate()
    t.run(progress=False)
    after = t.history[-1]["val_psnr"]
    assert "val_clean_psnr" not in t.history[-1]  # a bicubic-trained run validates once
    assert t.step == 20
    assert after["4"] > before[4] + 0.5, (before, after)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert any("steps_per_s" in r for r in log) and any("val_psnr" in r for r in log)
    up = load_model(str(tmp_path / "run" / "model.safetensors"), scale=2)
    assert up.meta["steps"] == 20 and up.scale == 2
    assert up(photo[:20, :24]).shape == (40, 48, 3)


def test_gan_phase_smoke_training_from_phase_one(tmp_path, photo):
    t = tiny_trainer(tmp_path / "p1", photo, steps=4)
    t.run(progress=False)
    init = tmp_path / "p1" / "run" / "model.safetensors"
    g = tiny_trainer(
        tmp_path / "p2",
        photo,
        phase="gan",
        init=str(init),
        perceptual="disc_features",
        pixel_loss="mse",
        disc_model={"channels": 8},
        steps=20,
    )
    d0 = [p.clone() for p in g.disc.parameters()]
    g.run(progress=False)
    log = [json.loads(line) for line in (tmp_path / "p2" / "run" / "log.jsonl").read_text().splitlines()]
    rec = [r for r in log if "d_loss" in r]
    assert rec and all(np.isfinite(r["d_loss"]) and np.isfinite(r["adversarial"]) for r in rec)
    assert any(not torch.equal(a, b) for a, b in zip(d0, g.disc.parameters()))


def test_an_rgb_init_starts_a_luma_run_from_its_function_on_gray(tmp_path, photo):
    from sisr.models.base import SRModel

    small = BASELINE_SMALL["srcnn"]
    tiny_trainer(tmp_path / "rgb", photo, arch="srcnn", model=small, steps=2).run(progress=False)
    init = str(tmp_path / "rgb" / "run" / "model.safetensors")
    lum = tiny_trainer(tmp_path / "lum", photo, arch="srcnn", init=init, model={**small, "luma": True}, steps=2)
    gray = torch.rand(1, 1, 10, 14).expand(1, 3, 10, 14)
    ref = model_from_checkpoint(load_checkpoint(init)).eval()
    with torch.no_grad():
        torch.testing.assert_close(lum.net.eval()(gray)[:, :1], SRModel.luma(ref(gray)), rtol=0, atol=1e-5)
    lum.run(progress=False)
    back = str(tmp_path / "lum" / "run" / "model.safetensors")
    assert load_model(back).module.config.luma
    with pytest.raises(SisrError, match="do not match"):  # a luma network has no RGB form to go back to
        tiny_trainer(tmp_path / "again", photo, arch="srcnn", init=back, model=small)


def test_grow_starts_from_the_smaller_models_function_and_then_trains(tmp_path, photo):
    small = tiny_trainer(tmp_path / "small", photo, steps=4)
    small.run(progress=False)
    init = str(tmp_path / "small" / "run" / "model.safetensors")
    grown = {"channels": 8, "blocks": 3, "recursions": 2}
    big = tiny_trainer(tmp_path / "big", photo, init=init, grow=True, model=grown)
    assert big.net.config.blocks == 3
    x = torch.rand(1, 3, 10, 14)
    ref = model_from_checkpoint(load_checkpoint(init)).eval()
    with torch.no_grad():  # channels-last in the trainer: equal up to float rounding
        torch.testing.assert_close(big.net.eval()(x), ref(x), rtol=0, atol=1e-5)
    new_conv = big.net.stages[0][2].unit.conv2.weight
    assert not new_conv.any()
    big.run(progress=False)
    assert new_conv.any()  # the new blocks take part in training


def test_a_multiscale_vdsr_trains_and_validates_every_scale_from_a_single_scale_one(tmp_path, photo):
    small = {"depth": 3, "channels": 8}
    one = tiny_trainer(tmp_path / "one", photo, arch="vdsr", model=small, steps=2, val_every=2)
    one.run(progress=False)
    init = str(tmp_path / "one" / "run" / "model.safetensors")
    many = tiny_trainer(
        tmp_path / "many", photo, arch="vdsr", init=init, grow=True, model={**small, "scales": (2, 3, 4)}, steps=2
    )
    assert many.net.scales == (2, 3, 4)
    before = [p.detach().clone() for p in many.net.parameters()]
    many.run(progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, many.net.parameters()))
    vals = [
        json.loads(x) for x in (tmp_path / "many" / "run" / "log.jsonl").read_text().splitlines() if "val_psnr" in x
    ]
    assert list(vals[-1]["val_psnr"]) == ["2", "3", "4"]


def test_grow_takes_more_blocks_or_scales_and_refuses_anything_else(tmp_path, photo):
    small = tiny_trainer(tmp_path / "small", photo, steps=2)
    small.run(progress=False)
    init = str(tmp_path / "small" / "run" / "model.safetensors")
    x234 = {"channels": 8, "blocks": 1, "recursions": 2, "scales": [2, 3, 4]}
    grown = tiny_trainer(tmp_path / "x234", photo, init=init, grow=True, model=x234, steps=2)
    assert grown.net.scales == (2, 3, 4)
    grown.run(progress=False)
    assert grown.net.tails[1].conv.weight.any()  # the new stage trains
    for model in ({"channels": 16, "blocks": 3, "recursions": 2}, {"channels": 8, "blocks": 2, "recursions": 3}):
        with pytest.raises(SisrError, match="do not match"):
            tiny_trainer(tmp_path / "big", photo, init=init, grow=True, model=model)
    with pytest.raises(SisrError, match="do not match"):  # grow is opt-in
        tiny_trainer(tmp_path / "big", photo, init=init, model={"channels": 8, "blocks": 3, "recursions": 2})


def test_init_takes_a_shipped_model_or_a_run_folder_and_says_how_its_model_differs(tmp_path, photo):
    shipped = load_model("srcnn-y").module
    ft = tiny_trainer(tmp_path / "ft", photo, arch="srcnn", init="srcnn-y", model={}, steps=2)
    assert ft.net.config == shipped.config
    assert all(torch.equal(a, b) for a, b in zip(ft.net.state_dict().values(), shipped.state_dict().values()))
    ft.run(progress=False)
    again = tiny_trainer(tmp_path / "again", photo, arch="srcnn", init=str(tmp_path / "ft" / "run"), model={})
    assert again.net.config == shipped.config
    with pytest.raises(SisrError, match=r"init: unknown model 'srcnn-z' \(did you mean 'srcnn-y'\?"):
        tiny_trainer(tmp_path / "x", photo, arch="srcnn", init="srcnn-z")
    with pytest.raises(SisrError, match="init: 'bicubic' has no weights"):
        tiny_trainer(tmp_path / "x", photo, arch="srcnn", init="bicubic")
    missing = tmp_path / "p1" / "model.safetensors"  # a phase 1 run not trained yet (SRGAN's recipe)
    with pytest.raises(
        SisrError, match=rf"init: {missing}: no such weights file; .*shipped 'srcnn' model \(--set init=srcnn\)"
    ):
        tiny_trainer(tmp_path / "x", photo, arch="srcnn", init=str(missing))
    with pytest.raises(SisrError) as e:  # the recipe's RGB table: the keys that differ, as --set pastes them
        tiny_trainer(tmp_path / "x", photo, arch="srcnn", init="srcnn-y", model={**BASELINE_SMALL["srcnn"]})
    said = str(e.value)
    assert "luma = false (the init's: true)" in said and "--set model.luma=true" in said
    assert "grow" not in said  # SRCNN cannot grow: not offered
    with pytest.raises(SisrError, match=r"scales = \[2,3,4\] \(the init's: \[2,4\]\).*or grow = true"):
        tiny_trainer(
            tmp_path / "x",
            photo,
            init="rrgan-x4",
            model={**asdict(load_model("rrgan-x4").module.config), "scales": [2, 3, 4]},
        )


def test_gan_phase_without_vgg_weights_stops_clearly(tmp_path, photo, monkeypatch):
    monkeypatch.delenv("SISR_VGG19", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(SisrError, match="VGG19 ImageNet weights"):
        tiny_trainer(tmp_path, photo, phase="gan", perceptual="vgg")


@pytest.mark.parametrize("bf16", [True, False])
def test_emulated_bf16_on_a_cpu_is_named_before_training(tmp_path, photo, monkeypatch, capsys, bf16):
    import sisr.train.supervised as sup

    monkeypatch.setattr(sup, "native_bf16", lambda device: False)  # a CPU without AVX512-BF16 or AMX
    tiny_trainer(tmp_path, photo, steps=1, val_every=0, bf16=bf16).run(progress=False)
    said = capsys.readouterr().err
    assert ("emulated" in said and "--set bf16=false" in said) == bf16


def test_weights_record_each_device_and_the_steps_it_trained(tmp_path, photo, monkeypatch):
    import sisr.train.supervised as sup

    hardware = sup._hardware
    for label, steps in (("cpu A", 6), ("gpu B", 8), ("cpu A", 10)):  # a relay: CPU, a lent GPU, CPU again
        monkeypatch.setattr(sup, "_hardware", lambda device, bf16, label=label: label)
        t = tiny_trainer(tmp_path, photo, steps=steps, val_every=0)
        if steps > 6:
            t.load_state()
        t.run(progress=False)
        t.save_state()
    meta = load_checkpoint(tmp_path / "run" / "model.safetensors").meta
    assert meta["hardware"] == "cpu A (steps 0-6 and 8-10); gpu B (steps 6-8)"
    assert sup.hardware_label([["cpu A", 0, 5]]) == "cpu A"  # one device: its label, as before
    assert sup.hardware_label([["unrecorded", 0, 3], ["cpu A", 3, 5]]) == "unrecorded (steps 0-3); cpu A (steps 3-5)"
    cpu = torch.device("cpu")
    assert hardware(cpu, bf16=False).endswith(("CPU, 1 thread", "threads"))  # fp32: the label as before
    for units, how in (((), "emulated"), (("avx512_bf16",), "AVX512-BF16"), (("avx512_bf16", "amx_bf16"), "AMX")):
        monkeypatch.setattr(sup, "cpu_bf16_units", lambda units=units: units)
        assert hardware(cpu, bf16=True).endswith(f", bf16 ({how})")


def test_resume_is_exact(tmp_path, photo):
    full = tiny_trainer(tmp_path / "a", photo, steps=8, val_every=0)
    full.run(progress=False)
    half = tiny_trainer(tmp_path / "b", photo, steps=8, val_every=0)
    half.run(steps=4, progress=False)
    half.save_state()
    resumed = tiny_trainer(tmp_path / "b", photo, steps=8, val_every=0)
    resumed.load_state()
    assert resumed.step == 4
    resumed.run(progress=False)
    for (k, a), b in zip(full.net.state_dict().items(), resumed.net.state_dict().values()):
        assert torch.equal(a, b), k
    for a, b in zip(full.ema.state_dict().values(), resumed.ema.state_dict().values()):
        assert torch.equal(a, b)


def test_a_resume_of_a_finished_state_writes_the_weights_it_lacks(tmp_path, photo):
    """A GPU chunk brings back a run's state without its weights: resuming it at its end wrote
    nothing, and `sisr train` said "weights in .../model.safetensors"."""
    tiny_trainer(tmp_path, photo, steps=4, val_every=0).run(progress=False)
    weights = tmp_path / "run" / "model.safetensors"
    trained = load_checkpoint(weights)
    weights.unlink()
    again = tiny_trainer(tmp_path, photo, steps=4, val_every=0)
    again.load_state()
    again.run(progress=False)
    back = load_checkpoint(weights)
    assert back.meta["steps"] == 4
    for k, v in trained.state_dict.items():
        assert torch.equal(v, back.state_dict[k]), k
    stamp = weights.stat().st_mtime_ns
    last = tiny_trainer(tmp_path, photo, steps=4, val_every=0)
    last.load_state()
    last.run(progress=False)  # a current file stays as it is
    assert weights.stat().st_mtime_ns == stamp


def test_a_resume_with_a_changed_recipe_says_so_and_its_weights_keep_it(tmp_path, photo, capsys):
    """The weights' recipe is the last stretch's: a run resumed at another lr would have claimed
    that lr for all its steps."""
    from sisr.cli import _weights_summary
    from sisr.train.supervised import recipe_changes

    first = tiny_trainer(tmp_path, photo, steps=4, val_every=0)
    first.run(progress=False)
    same = tiny_trainer(tmp_path, photo, steps=4, val_every=0, threads=2, ckpt_minutes=1.0)  # how, not what
    same.load_state()
    assert same.changes == [] and "changed recipe" not in capsys.readouterr().err
    second = tiny_trainer(tmp_path, photo, steps=6, val_every=0, lr=1e-3)
    second.load_state()
    assert "resuming at step 4 with a changed recipe: steps 6 (was 4), lr 0.001 (was 0.0002)" in capsys.readouterr().err
    second.run(progress=False)
    third = tiny_trainer(tmp_path, photo, steps=6, val_every=0, lr=1e-3)
    third.load_state()  # the change is kept across later resumes, and not counted twice
    assert third.changes == [[4, {"steps": [4, 6], "lr": [2e-4, 1e-3]}]]
    summary = _weights_summary(load_model(str(tmp_path / "run")))
    assert "| recipe changed on resume | at step 4: steps 6 (was 4), lr 0.001 (was 0.0002) |" in summary
    assert (
        recipe_changes({"data": ["T91"]}, {"data": ("T91",), "grad_clip": 0.0}) == {}
    )  # a key added since: its default


def test_gan_resume_is_exact(tmp_path, photo):
    kw = dict(phase="gan", perceptual="disc_features", disc_model={"channels": 8}, steps=6, val_every=0)
    full = tiny_trainer(tmp_path / "a", photo, **kw)
    full.run(progress=False)
    half = tiny_trainer(tmp_path / "b", photo, **kw)
    half.run(steps=3, progress=False)
    half.save_state()
    resumed = tiny_trainer(tmp_path / "b", photo, **kw)
    resumed.load_state()
    resumed.run(progress=False)
    for a, b in zip(full.disc.state_dict().values(), resumed.disc.state_dict().values()):
        assert torch.equal(a, b)
    for a, b in zip(full.net.state_dict().values(), resumed.net.state_dict().values()):
        assert torch.equal(a, b)


def test_lr_schedule_is_a_pure_function_of_step():
    cfg = TrainConfig(lr=1e-3, lr_min=0.0, warmup=10, steps=110)
    assert lr_at(0, cfg) == pytest.approx(1e-4)
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(60, cfg) == pytest.approx(5e-4)
    assert lr_at(110, cfg) == pytest.approx(0.0, abs=1e-12)


def test_sampler_is_deterministic_and_augments(photo):
    s = PatchSampler(tiny_images(photo), 32, scale_aug=(1.0, 0.5), gray_prob=0.5)
    a = s.sample(np.random.default_rng([0, 0, 5]), 8)
    b = s.sample(np.random.default_rng([0, 0, 5]), 8)
    c = s.sample(np.random.default_rng([0, 1, 5]), 8)
    assert a.shape == (8, 32, 32, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert len(s.images) == 6


def test_recipes_load_and_reject_unknown_keys(tmp_path):
    for recipe in sorted((REPO / "configs").glob("*.toml")):
        if recipe.name == "queue.toml":  # the training queue, not a recipe
            continue
        cfg = load_config(recipe, TrainConfig)
        assert cfg.arch and cfg.steps > 0
    cfg = load_config(REPO / "configs" / "rrgan_x4_psnr.toml", TrainConfig, ["model.channels=16", "lr=1e-3"])
    assert cfg.model["channels"] == 16 and cfg.lr == 1e-3
    bad = tmp_path / "bad.toml"
    bad.write_text('arch = "rrgan"\nlearning_rate = 1\n')
    with pytest.raises(SisrError, match="unknown keys learning_rate"):
        load_config(bad, TrainConfig)
    with pytest.raises(SisrError, match=r"unknown keys stepz \(did you mean 'steps'\? known: arch, model"):
        load_config(None, TrainConfig, ["stepz=10"])
    with pytest.raises(SisrError, match="must be int"):
        load_config(None, TrainConfig, ["steps=many"])
    for bad_value in ("steps=-5", "batch=0", "patch=0", "warmup=-1", "workers=-2"):  # -5 steps "trained" to step 0
        with pytest.raises(SisrError, match=f"{bad_value.split('=')[0]} must be at least"):
            load_config(None, TrainConfig, [bad_value])
    assert load_config(None, TrainConfig, ["val_every=0"]).val_every == 0  # 0: never validate


@pytest.mark.parametrize(
    "override, said",
    [  # each was a traceback from the optimiser, or trained without a word
        ("lr=-1", "lr must be above 0, got -1"),
        ("lr=nan", "lr must be above 0, got nan"),
        ("betas=[2]", "betas must be 2 numbers, got [2]"),
        ("betas=[0.9, 1.5]", "each of betas must be at least 0 and below 1, got [0.9, 1.5]"),
        ("ema=2", "ema must be at least 0 and below 1, got 2"),
        ("gray_prob=2", "gray_prob must be at least 0 and at most 1, got 2"),
        ("scale_aug=[0]", "each of scale_aug must be above 0 and at most 1, got [0]"),
        ("schedule=linear", "schedule must be 'cosine' or 'constant', got 'linear'"),
        ("pixel_loss=l3", "pixel_loss must be 'l1' or 'mse', got 'l3'"),
        ("perceptual=lpips", "perceptual must be 'vgg' or 'disc_features' or 'none', got 'lpips'"),
        ("grad_clip=-1", "grad_clip must be at least 0, got -1"),
        ("ckpt_minutes=0", "ckpt_minutes must be above 0, got 0"),
        ("clean_prob=0.5", "clean_prob needs degradation = 'real'"),
        ("data=[]", "data must have at least one entry"),
        ('scale_aug=["a"]', "'scale_aug' must be float, got 'a'"),
    ],
)
def test_a_recipe_that_cannot_train_is_refused_in_one_line_as_it_loads(override, said):
    with pytest.raises(SisrError) as e:
        load_config(None, TrainConfig, [override])
    assert said in str(e.value) and "\n" not in str(e.value)


def test_one_dataset_or_one_shrink_factor_alone_is_a_list_of_one_and_code_made_configs_are_checked():
    assert load_config(None, TrainConfig, ["data=T91", "scale_aug=1.0"]).data == ("T91",)  # was T, 9, 1
    assert load_config(None, TrainConfig, ["scale_aug=1"]).scale_aug == (1.0,)
    from sisr.config import build_dataclass
    from sisr.models.rrgan import RRGANConfig

    assert build_dataclass(RRGANConfig, {"scales": (2, 4)}, "code").scales == (2, 4)  # a tuple stays as it is
    with pytest.raises(SisrError, match="training config: lr must be above 0"):
        Trainer(TrainConfig(lr=-1.0, out="unused"))
    from sisr.precision import device_here

    if not torch.cuda.is_available():
        with pytest.raises(SisrError, match="device 'cuda': no such CUDA GPU here"):
            device_here("cuda")  # was an AssertionError from torch, once the data had loaded
    with pytest.raises(SisrError, match="device must be 'cpu' or 'cuda"):
        device_here("tpu")


def test_a_run_folder_with_a_state_is_not_started_over_without_resume(tmp_path, capsys):
    from sisr.checkpoint import save_tensors
    from sisr.cli import main

    save_tensors(tmp_path / "state.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 7})
    (tmp_path / "log.jsonl").write_text('{"step": 7, "loss": 0.1}\n')
    before = (tmp_path / "state.safetensors").read_bytes()
    assert main(["train", str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"out={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"sisr: error: {tmp_path}: holds a run at step 7; --resume continues it, --set out=DIR starts another\n"
    )
    assert (tmp_path / "state.safetensors").read_bytes() == before  # and its log is not trimmed
    assert (tmp_path / "log.jsonl").read_text() == '{"step": 7, "loss": 0.1}\n'


def test_a_run_folder_that_cannot_be_written_is_refused_at_the_start(tmp_path, capsys):
    from sisr.cli import main

    (tmp_path / "file").write_text("x")
    out = tmp_path / "file" / "run"
    assert main(["train", str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"out={out}"]) == 2
    assert capsys.readouterr().err == (
        f"sisr: error: {out / 'state.safetensors'}: cannot write ({tmp_path / 'file'} is a file, not a folder)\n"
    )


def test_a_state_of_another_model_is_refused_in_one_line(tmp_path, photo):
    """A run folder resumed with another recipe's architecture or model table was a RuntimeError
    traceback from load_state_dict."""
    t = tiny_trainer(tmp_path, photo, steps=2, val_every=0)
    t.run(progress=False)
    other = tiny_trainer(tmp_path, photo, arch="srcnn", model={"n1": 8, "n2": 4})
    with pytest.raises(SisrError, match=r"a 'rrgan' run, and this recipe trains 'srcnn'; resume with the recipe"):
        other.load_state()
    wider = tiny_trainer(tmp_path, photo, model={"channels": 12, "blocks": 1, "recursions": 2})
    with pytest.raises(SisrError, match=r"its 'net' does not fit this recipe's model \(size mismatch for "):
        wider.load_state()


def test_an_empty_run_folder_or_dataset_name_is_refused(tmp_path, monkeypatch):
    """out = "" put a run's state and weights in the current folder, and val_data = "" validated on
    whatever images lay there."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SisrError, match=r"out must name the run's folder, got ''"):
        load_config(REPO / "configs" / "srcnn_x4.toml", TrainConfig, ['out=""'])
    from sisr.data import dataset_images

    with pytest.raises(SisrError, match="a dataset name is empty"):
        dataset_images("")


def test_datasets_are_found_before_anything_is_written(tmp_path, photo, capsys, monkeypatch):
    """A misnamed val_data stopped a run at its first validation (step 2,000 of the recipes), its
    steps since the last state lost; and a folder of one's own photos, without an HR/ folder inside,
    was not a dataset."""
    from sisr.cli import main

    photos = tmp_path / "my photos"
    photos.mkdir()
    Image.fromarray(photo[:64, :64]).save(photos / "a.png")
    Image.fromarray(photo[64:128, 64:128]).save(photos / "b.webp")  # any format a folder run takes
    monkeypatch.delenv("SISR_DATA", raising=False)
    from sisr.data import dataset_images

    assert [f.name for f in dataset_images(photos)] == ["a.png", "b.webp"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(SisrError, match=r"empty: a folder with no images \(of png, bmp, jpg"):
        dataset_images(tmp_path / "empty")
    recipe = [str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"data={photos}", "--set", "bf16=false"]
    small = ["--set", "batch=2", "--set", "steps=2", "--set", "model.n1=4", "--set", "model.n2=4"]
    run = tmp_path / "run"
    bad = ["--set", f"out={run}", "--set", f"val_data={tmp_path / 'nowhere'}", "--set", "val_every=2"]
    assert main(["train", *recipe, *small, *bad]) == 2
    assert f"dataset '{tmp_path / 'nowhere'}' not found" in capsys.readouterr().err and not run.exists()
    good = ["--set", f"out={run}", "--set", f"val_data={photos}", "--set", "val_every=2"]
    assert main(["train", *recipe, *small, *good]) == 0
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2 and "val_psnr" in log[-1]


def test_an_unreadable_or_small_training_image_is_left_out_and_said_and_a_bad_val_image_stops_the_start(
    tmp_path, photo, capsys, monkeypatch
):
    """One broken file in a folder of one's own photos stopped the run; one among the validation
    images stopped it at its first validation, with the steps since the last state lost."""
    from sisr.cli import main
    from sisr.data import PatchSampler

    photos, val = tmp_path / "photos", tmp_path / "val"
    photos.mkdir()
    val.mkdir()
    Image.fromarray(photo[:64, :64]).save(photos / "a.png")
    Image.fromarray(photo[:20, :20]).save(photos / "tiny.png")
    (photos / "notes.png").write_text("not an image")
    Image.fromarray(photo[200:264, 200:264]).save(val / "v.png")
    said = r"^2 of the 3 training images are left out \(8.9% of the pixels\): .*notes.png: not a readable image; "
    said += r".*tiny.png: 20 x 20, "
    with pytest.warns(UserWarning, match=said + "smaller than the 32 px HR patches$"):
        assert len(PatchSampler.from_datasets([str(photos)], 32).images) == 1
    (photos / "a.png").unlink()
    with pytest.raises(SisrError, match=r"none of the 2 training images can be used: .*notes.png: not a readable"):
        PatchSampler.from_datasets([str(photos)], 32)
    Image.fromarray(photo[:64, :64]).save(photos / "a.png")
    monkeypatch.delenv("SISR_DATA", raising=False)
    recipe = [str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"data={photos}", "--set", "bf16=false"]
    small = ["--set", "batch=2", "--set", "steps=2", "--set", "patch=8", "--set", "model.n1=4", "--set", "model.n2=4"]
    run = ["--set", f"val_data={val}", "--set", "val_every=2", "--set", f"out={tmp_path / 'run'}"]
    assert main(["train", *recipe, *small, *run]) == 0
    assert "2 of the 3 training images are left out" in capsys.readouterr().err
    (val / "broken.png").write_bytes((val / "v.png").read_bytes()[:200])
    Image.fromarray(photo[:12, :12]).save(val / "small.png")
    for bad, said in (("broken.png", "cannot decode image"), ("small.png", "12 x 12 is too small to measure at x4")):
        run = ["--set", f"val_data={val}", "--set", "val_every=2", "--set", f"out={tmp_path / bad}"]
        assert main(["train", *recipe, *small, *run]) == 2
        err = capsys.readouterr().err
        assert bad in err and said in err and not (tmp_path / bad).exists(), err
        (val / bad).unlink()


def test_a_dry_run_checks_the_recipe_times_steps_and_writes_nothing(tmp_path, photo, capsys, monkeypatch):
    from sisr.cli import main

    photos, val = tmp_path / "photos", tmp_path / "val"
    photos.mkdir()
    val.mkdir()
    Image.fromarray(photo[:64, :64]).save(photos / "a.png")
    Image.fromarray(photo[200:264, 200:264]).save(val / "v.png")
    monkeypatch.delenv("SISR_DATA", raising=False)
    out = tmp_path / "run"
    cmd = ["train", str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"data={photos}", "--set", f"val_data={val}",
           "--set", "bf16=false", "--set", "batch=2", "--set", "steps=40", "--set", "val_every=20", "--set", "patch=8",
           "--set", "model.n1=4", "--set", "model.n2=4", "--set", f"out={out}"]  # fmt: skip
    assert main([*cmd, "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert 'model: srcnn {"scale": 4, "f1": 9, "f2": 5, "f3": 5, "n1": 4, "n2": 4' in said
    assert f"data: 1 file in {photos} (5 images with their scale_aug copies); batch 2 of 32 px HR patches" in said
    assert "schedule: steps 0 to 40, lr 0.0005 (cosine to 1e-06, 200 warm-up steps)" in said
    assert f"validation: 1 image of {val}, every 20 steps" in said
    assert re.search(r"here \(.*CPU.*\): [0-9.e-]+ s a step, [0-9.e-]+ s a validation\n", said), said
    assert re.search(r"about \d+ s for the 40 steps left and 2 validations\n", said), said
    assert not out.exists()
    assert main([*cmd, "--set", "steps=2"]) == 0
    capsys.readouterr()
    assert main([*cmd, "--dry-run"]) == 2  # as the run itself: a state there needs --resume
    assert "holds a run at step 2; --resume continues it" in capsys.readouterr().err
    before = {f.name: f.stat().st_mtime_ns for f in out.iterdir()}
    assert main([*cmd, "--dry-run", "--resume"]) == 0
    assert "schedule: steps 2 to 40" in capsys.readouterr().out
    assert {f.name: f.stat().st_mtime_ns for f in out.iterdir()} == before
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main([*cmd, "--dry-run"]) == 2
    assert "--dry-run runs in one process" in capsys.readouterr().err


def test_a_test_set_as_validation_or_training_data_is_said(tmp_path, photo, capsys, monkeypatch):
    """Set5, Set14 and BSD100 are measured once: a checkpoint chosen on one scores it too well."""
    from sisr.cli import main
    from sisr.data import test_set_of

    assert [test_set_of(n) for n in ("Set5", "Set14:1-3", "/data/BSD100", "BSD200:val", "my_photos")] == [
        "Set5", "Set14", "BSD100", None, None]  # fmt: skip
    photos, set5 = tmp_path / "photos", tmp_path / "Set5"
    for d in (photos, set5):
        d.mkdir()
        Image.fromarray(photo[:64, :64] if d == photos else photo[200:264, 200:264]).save(d / "a.png")
    monkeypatch.delenv("SISR_DATA", raising=False)
    cmd = ["train", str(REPO / "configs" / "srcnn_x4.toml"), "--set", "bf16=false", "--set", "batch=2",
           "--set", "steps=2", "--set", "val_every=2", "--set", "model.n1=4", "--set", "model.n2=4"]  # fmt: skip
    assert main([*cmd, "--set", f"data={photos}", "--set", f"val_data={set5}", "--set", f"out={tmp_path / 'a'}"]) == 0
    assert f"val_data {set5} is a test set (Set5, Set14, BSD100)" in capsys.readouterr().err
    assert main([*cmd, "--set", f"data={set5}", "--set", f"val_data={photos}", "--set", f"out={tmp_path / 'b'}"]) == 0
    err = capsys.readouterr().err
    assert "data holds the test set Set5" in err and "is a test set" not in err


def test_validating_on_training_images_is_said_and_recorded(tmp_path, photo, capsys, monkeypatch):
    """A user's val_data that holds training images (the same folder, or a copy of one) gives
    figures that are not held out: the run says so, and so do its weights."""
    import shutil

    from sisr.cli import _weights_summary, main

    photos, val, other = tmp_path / "photos", tmp_path / "val", tmp_path / "other"
    for d in (photos, val, other):
        d.mkdir()
    Image.fromarray(photo[:64, :64]).save(photos / "a.png")
    Image.fromarray(photo[64:128, 64:128]).save(photos / "b.png")
    shutil.copy(photos / "a.png", val / "renamed.png")  # a copy under another name
    Image.fromarray(photo[200:264, 200:264]).save(val / "c.png")
    Image.fromarray(photo[200:264, 200:264]).save(other / "c.png")
    monkeypatch.delenv("SISR_DATA", raising=False)
    recipe = [str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"data={photos}", "--set", "bf16=false"]
    small = [
        "--set",
        "batch=2",
        "--set",
        "steps=2",
        "--set",
        "val_every=2",
        "--set",
        "model.n1=4",
        "--set",
        "model.n2=4",
    ]
    for folder, seen in ((val, [1, 2]), (other, None)):
        run = tmp_path / f"run_{folder.name}"
        assert main(["train", *recipe, *small, "--set", f"val_data={folder}", "--set", f"out={run}"]) == 0
        out, err = capsys.readouterr()
        said = rf"trained to step 2; weights in {run}/model.safetensors \(sisr upscale IMAGE --model {run}\); "
        assert re.search(said + rf"at step 2, x4 \d+\.\d\d dB on {folder}\n", out), out
        assert ("1 of the 2 images of val_data" in err) == bool(seen), err
        assert load_checkpoint(run / "model.safetensors").meta.get("val_seen") == seen
        summary = _weights_summary(load_model(str(run)))
        assert ("not held out: 1 of its 2 images are training images" in summary) == bool(seen)
        assert main(["models", str(run)]) == 0  # a run folder: its card, then its validation curve
        card = capsys.readouterr().out
        assert f"## Validation curve ({folder}, EMA weights, Y-PSNR)" in card
        assert re.search(r"\n\| 2 \| \d+\.\d\d \|\n", card), card


def test_torchrun_two_processes_end_with_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(REPO / "tests" / "ddp_worker.py"), str(tmp_path),
    ]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    w0, w1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert w0.keys() == w1.keys()
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # Only rank 0 writes the log and checkpoints.
    assert (tmp_path / "run" / "state.safetensors").is_file()
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log if "val_psnr" in r] == [3, 6]


def test_torchrun_ranks_stop_at_the_same_step_on_sigterm_with_the_state_saved(tmp_path):
    """torchrun's agent passes a SIGTERM (or Ctrl-C) to every rank. Each rank died at once, with
    the steps since the last state lost; a rank that went on alone would have waited forever in
    the gradient all-reduce."""
    import re
    import signal
    import time

    from sisr.checkpoint import load_tensors

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
        str(REPO / "tests" / "ddp_worker.py"), str(tmp_path), "100000",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = tmp_path / "run" / "log.jsonl"
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    stops = {int(r): int(n) for r, n in re.findall(r"rank (\d) stopped at step (\d+) by", out)}
    assert len(stops) == 2 and stops[0] == stops[1] >= 3, out + err[-2000:]
    assert load_tensors(tmp_path / "run" / "state.safetensors", "train-state")[1]["step"] == stops[0]
    w0, w1 = load_file(tmp_path / "rank0.safetensors"), load_file(tmp_path / "rank1.safetensors")
    assert all(torch.equal(w0[k], w1[k]) for k in w0)


BASELINE_SMALL = {
    "srcnn": {"n1": 8, "n2": 4, "f1": 5, "f3": 3},
    "vdsr": {"depth": 4, "channels": 8},
    "drcn": {"channels": 8, "recursions": 3},
    "srresnet": {"channels": 8, "blocks": 2},
}


@pytest.mark.parametrize("arch", sorted(BASELINE_SMALL))
def test_every_baseline_smoke_trains_through_the_one_loop(arch, tmp_path, photo):
    t = tiny_trainer(tmp_path, photo, arch=arch, model=BASELINE_SMALL[arch], steps=8, val_every=8, lr=1e-3)
    w0 = [p.detach().clone() for p in t.net.parameters()]
    t.run(progress=False)
    assert t.step == 8
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses and all(np.isfinite(losses))
    assert any(not torch.equal(a, b) for a, b in zip(w0, t.net.parameters()))
    up = load_model(str(tmp_path / "run" / "model.safetensors"))
    assert up.meta["recipe"]["arch"] == arch
    assert up(photo[:10, :12]).shape == (40, 48, 3)


def test_srgan_phase_smoke_training_with_its_discriminator(tmp_path, photo):
    t = tiny_trainer(tmp_path / "p1", photo, arch="srresnet", model=BASELINE_SMALL["srresnet"], steps=2)
    t.run(progress=False)
    g = tiny_trainer(
        tmp_path / "p2",
        photo,
        arch="srresnet",
        model=BASELINE_SMALL["srresnet"],
        phase="gan",
        init=str(tmp_path / "p1" / "run" / "model.safetensors"),
        perceptual="disc_features",
        pixel_loss="mse",
        discriminator="srgan_disc",
        disc_model={"channels": 4, "dense": 16},
        steps=4,
        log_every=2,
    )
    g.run(progress=False)
    log = [json.loads(line) for line in (tmp_path / "p2" / "run" / "log.jsonl").read_text().splitlines()]
    rec = [r for r in log if "d_loss" in r]
    assert rec and all(np.isfinite(r["d_loss"]) and np.isfinite(r["perceptual"]) for r in rec)


def test_drcn_recursive_supervision_weights_every_prediction():
    from sisr.models import build_model

    m = build_model("drcn", {"channels": 8, "recursions": 4, "alpha": 0.4})
    x = torch.rand(1, 3, 9, 11)
    sup = m.forward_supervised(x)[4]
    assert len(sup) == 5
    assert sum(w for w, _ in sup) == pytest.approx(1.0)
    torch.testing.assert_close(sup[0][1], m(x))


def test_sigterm_stops_after_the_step_with_the_state_saved(tmp_path, photo):
    import os
    import signal
    import threading

    from sisr.checkpoint import load_tensors

    t = tiny_trainer(tmp_path, photo, steps=100000, val_every=0, ckpt_minutes=60.0)
    done = []
    real_step = t.train_step

    def step_then_signal():
        out = real_step()
        done.append(1)
        if len(done) == 3:
            threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGTERM)).start()
        return out

    t.train_step = step_then_signal
    t.run(progress=False)
    assert 3 <= t.step < 50
    assert load_tensors(tmp_path / "run" / "state.safetensors", "train-state")[1]["step"] == t.step
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_ctrl_c_stops_after_the_step_with_the_state_saved(tmp_path, photo):
    """Ctrl-C lost every step since the last state (5 minutes of them by default), and exited 0."""
    import signal
    import time

    from sisr.checkpoint import load_tensors

    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(photo[:96, :96]).save(photos / "a.png")
    cmd = [sys.executable, "-m", "sisr", "train", str(REPO / "configs" / "srcnn_x4.toml"), "--set", f"data={photos}",
           "--set", "val_every=0", "--set", "bf16=false", "--set", "threads=1", "--set", "batch=2", "--set", "patch=8",
           "--set", "model.n1=4", "--set", "model.n2=4", "--set", "log_every=1",
           "--set", f"out={tmp_path / 'run'}"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO / "src")}
    log = tmp_path / "run" / "log.jsonl"
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 120
    while not (log.is_file() and log.read_text().count("\n") >= 3) and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]  # a script that goes on after training does not take it as done
    step = load_tensors(tmp_path / "run" / "state.safetensors", "train-state")[1]["step"]
    assert f"stopped at step {step} of 20000; state saved" in out and step >= 3, out
    assert "(--resume continues)" in out and "weights so far in" in out
    assert "stopping after this step" in err and "Traceback" not in err


def test_a_second_ctrl_c_stops_at_once(tmp_path, photo):
    import signal

    t = tiny_trainer(tmp_path, photo, steps=100000, val_every=0, ckpt_minutes=60.0)
    before = signal.getsignal(signal.SIGINT)
    real_step = t.train_step

    def step_then_press_twice():
        out = real_step()
        if t.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # the first asks to stop after this step
            os.kill(os.getpid(), signal.SIGINT)  # the second interrupts now
        return out

    t.train_step = step_then_press_twice
    with pytest.raises(KeyboardInterrupt):
        t.run(progress=False)
    assert t.step == 3 and not (tmp_path / "run" / "state.safetensors").exists()
    assert signal.getsignal(signal.SIGINT) is before


def test_training_on_degraded_lr_is_deterministic_and_validates(tmp_path, photo):
    a = tiny_trainer(tmp_path / "a", photo, degradation="real", steps=3, val_every=3)
    b = tiny_trainer(tmp_path / "b", photo, degradation="real", steps=3, val_every=3)
    lr_a, _ = a.batch(5)
    lr_b, _ = b.batch(5)
    assert lr_a.shape == (2, 3, 12, 12) and torch.equal(lr_a, lr_b)
    clean = tiny_trainer(tmp_path / "c", photo, steps=3)
    assert not torch.equal(clean.batch(5)[0], lr_a)
    a.run(progress=False)
    assert a.history and np.isfinite(a.history[-1]["val_psnr"]["4"])
    # A blind run validates on clean inputs too: the clean figure is the bicubic-LR one.
    last = a.history[-1]
    assert last["val_clean_psnr"]["4"] == pytest.approx(a.validate(clean=True)[4], abs=1e-4)
    assert last["val_clean_psnr"]["4"] != last["val_psnr"]["4"]
    with pytest.raises(SisrError, match="degradation must be"):
        tiny_trainer(tmp_path / "d", photo, degradation="jpeg")


def test_clean_prob_mixes_plain_bicubic_lr_into_degraded_batches(tmp_path, photo):
    from sisr.resize import imresize

    every = tiny_trainer(tmp_path / "a", photo, degradation="real", clean_prob=1.0, steps=3)
    hr, lr = every.draw(5)
    for h, lo in zip(hr, lr):
        assert np.array_equal(lo, imresize(h, 0.25).astype(np.float32) / 255)
    some = tiny_trainer(tmp_path / "b", photo, degradation="real", clean_prob=0.5, steps=3)
    again = tiny_trainer(tmp_path / "c", photo, degradation="real", clean_prob=0.5, steps=3)
    plain = []
    for step in range(8):
        hr, lr = some.draw(step)
        assert np.array_equal(lr, again.draw(step)[1])  # still a pure function of (seed, rank, step)
        plain += [np.array_equal(lo, imresize(h, 0.25).astype(np.float32) / 255) for h, lo in zip(hr, lr)]
    assert 0 < sum(plain) < len(plain)  # both kinds of LR occur
    with pytest.raises(SisrError, match="clean_prob"):
        tiny_trainer(tmp_path / "d", photo, clean_prob=0.5)
    with pytest.raises(SisrError, match="clean_prob"):
        tiny_trainer(tmp_path / "e", photo, degradation="real", clean_prob=1.5)


def test_workers_draw_the_same_batches_so_the_run_ends_identically(tmp_path, photo):
    serial = tiny_trainer(tmp_path / "a", photo, degradation="real", steps=4, val_every=0)
    serial.run(progress=False)
    ahead = tiny_trainer(tmp_path / "b", photo, degradation="real", steps=4, val_every=0, workers=2)
    ahead.run(progress=False)
    assert ahead.step == 4 and ahead._ahead is None
    for (k, a), b in zip(serial.net.state_dict().items(), ahead.net.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_drops_the_log_records_past_the_saved_state(tmp_path, photo):
    run = tiny_trainer(tmp_path, photo, steps=4, val_every=0, log_every=1)
    run.run(steps=2, progress=False)
    run.save_state()
    run.run(progress=False)  # steps 3 and 4 logged, then "killed" before saving them
    resumed = tiny_trainer(tmp_path, photo, steps=4, val_every=0, log_every=1)
    resumed.load_state()
    resumed.run(progress=False)
    steps = [json.loads(ln)["step"] for ln in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps) and steps.count(3) == 1 and steps[-1] == 4


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: the GPU playbook's first call runs it")
def test_training_on_a_gpu_draws_the_cpus_batches_learns_and_saves(tmp_path, photo):
    # The device-only paths: pinned copies, LR made on the GPU, losses read at log steps, validation there.
    gpu = tiny_trainer(tmp_path / "gpu", photo, device="cuda", bf16=True, channels_last=True, steps=30, val_every=15)
    cpu = tiny_trainer(tmp_path / "cpu", photo, device="cpu")
    (lr_g, tg), (lr_c, tc) = gpu.batch(0), cpu.batch(0)
    assert lr_g.is_cuda and torch.allclose(lr_g.cpu(), lr_c, atol=1e-5)
    assert all(torch.allclose(tg[s].cpu(), tc[s], atol=1e-5) for s in tc)
    gpu.run(progress=False)
    log = [json.loads(x) for x in (tmp_path / "gpu" / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert losses and all(np.isfinite(losses)) and losses[-1] < losses[0]
    vals = [r["val_psnr"] for r in log if "val_psnr" in r]
    assert len(vals) == 2 and all(v > 10 for r in vals for v in r.values())
    assert load_checkpoint(tmp_path / "gpu" / "run" / "model.safetensors").meta["steps"] == 30


def test_training_images_that_would_not_fit_in_memory_are_refused_before_decoding(tmp_path, photo, monkeypatch):
    """A folder of one's own photos is a dataset now: a sampler holds each image and its scale_aug
    copies as 8-bit RGB, so too many would have ended in the kernel's OOM killer, not a message."""
    import sisr.data

    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(photo[:100, :120]).save(photos / f"{i}.png")
    need = 3 * 100 * 120 * 3 * (1 + 0.81)
    with monkeypatch.context() as m:
        m.setattr(sisr.data, "known_free_memory", lambda: int(need / 0.8) - 1)
        m.setattr(sisr.data, "read_image", lambda f: pytest.fail("decoded before the check"))
        with pytest.raises(SisrError, match=r"the 3 training images need about [\d.]+ GiB of memory .* 2 scale_aug"):
            PatchSampler.from_datasets([str(photos)], 48, scale_aug=(1.0, 0.9))
    monkeypatch.setattr(sisr.data, "known_free_memory", lambda: int(need / 0.8) + 10)
    assert len(PatchSampler.from_datasets([str(photos)], 48, scale_aug=(1.0, 0.9)).images) == 6
