"""Zero-shot SR (SinGAN, DR-SinGAN): pyramid geometry, per-scale G/D, smoke runs, save/load, CLI."""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.io import read_image, write_image
from sisr.models.drsingan import DRSinGANDiscriminator, DRSinGANGenerator, DRSinGANScaleConfig
from sisr.models.singan import SinGANDiscriminator, SinGANGenerator, SinGANScaleConfig
from sisr.train.zeroshot import train_pyramid
from sisr.zeroshot import ZeroShotConfig, load_pyramid, pyramid_sizes, sr_steps

FAST = {"iters": 3, "d_steps": 1, "g_steps": 1, "channels": 8, "growth": 4}
TINY = {"preset": "paper", **FAST}  # through load_model: the paper preset's plain settings at a tiny budget


@pytest.mark.parametrize("scale, k", [(2, 3), (4, 6), (3, 5), (8, 9)])
def test_sr_steps_follow_singan(scale, k):
    steps, ratio = sr_steps(scale)
    assert steps == k
    assert ratio**steps == pytest.approx(scale)
    assert 1.2 < ratio < 1.35


@pytest.mark.parametrize("scale, per_octave, k", [(2, 1, 1), (4, 1, 2), (3, 1, 2), (8, 1, 3), (4, 0.5, 1)])
def test_sr_steps_per_octave(scale, per_octave, k):
    steps, ratio = sr_steps(scale, per_octave)
    assert steps == k
    assert ratio**steps == pytest.approx(scale)


def test_sr_steps_refuse_bad_values():
    with pytest.raises(SisrError, match="above 1"):
        sr_steps(1)
    with pytest.raises(SisrError, match="positive"):
        sr_steps(2, 0)


@pytest.mark.parametrize("h, w", [(25, 25), (48, 48), (31, 77), (256, 171), (97, 26)])
def test_pyramid_sizes_for_odd_shapes(h, w):
    _, ratio = sr_steps(2)
    sizes = pyramid_sizes(h, w, ratio, 25)
    assert sizes[-1] == (h, w)
    assert min(sizes[0]) >= 25 - 1  # rounding
    assert min(sizes[0]) / ratio < 25  # one more scale would be below the minimum
    for (a, b), (c, d) in zip(sizes, sizes[1:]):
        assert a <= c and b <= d
        assert c / a == pytest.approx(ratio, rel=0.1)


def test_tiny_images_are_refused_clearly():
    with pytest.raises(SisrError, match="at least 25 px"):
        pyramid_sizes(20, 100, 1.26, 25)


@pytest.mark.parametrize(
    "gen, disc, cfg",
    [
        (SinGANGenerator, SinGANDiscriminator, SinGANScaleConfig(channels=8)),
        (DRSinGANGenerator, DRSinGANDiscriminator, DRSinGANScaleConfig(channels=8, growth=4, layers=4)),
    ],
)
def test_scale_generator_and_discriminator_forward_backward(gen, disc, cfg):
    g, d = gen(cfg), disc(cfg)
    prev = torch.rand(2, 3, 21, 30) * 2 - 1
    out = g(prev + 0.1 * torch.randn_like(prev), prev)
    assert out.shape == prev.shape
    score = d(out)
    assert score.shape == (2, 1, 21, 30)
    score.mean().backward()
    for name, p in g.named_parameters():
        assert p.grad is not None, name


def test_drsingan_blocks_deepen_with_scale():
    from sisr.zeroshot import build_scale

    cfg = ZeroShotConfig(method="drsingan", base_layers=2)
    g0, _ = build_scale(cfg, 0)
    g3, d3 = build_scale(cfg, 3)
    assert len(g0.block.convs) == 2 and len(g3.block.convs) == 5 and len(d3.block.convs) == 5
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in g3.modules())


@pytest.mark.parametrize("method", ["singan", "drsingan"])
def test_smoke_run_on_a_48px_image_and_save_load(method, photo, tmp_path):
    img = photo[200:248, 150:198].astype(np.float32) / 255
    cfg = ZeroShotConfig(method=method, pairs=method == "drsingan", crop=32, **FAST)
    pyr = train_pyramid(img, 2, cfg)
    assert pyr.sizes[-1] == (48, 48) and len(pyr.gens) == len(pyr.amps) == 3
    out = pyr.enlarge(img, 2)
    assert out.shape == (96, 96, 3) and np.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    pyr.save(tmp_path / "pyr")
    back = load_pyramid(tmp_path / "pyr")
    np.testing.assert_array_equal(back.enlarge(img, 2), out)
    assert back.ratio == pyr.ratio and back.sizes == pyr.sizes


def test_load_pyramid_rejects_other_files(tmp_path):
    bad = tmp_path / "x.safetensors"
    bad.write_bytes(b"not a pyramid")
    with pytest.raises(SisrError, match="not a safetensors file"):
        load_pyramid(bad)


def test_zero_shot_models_work_through_load_model_and_keep_gray(photo):
    up = load_model("drsingan", scale=2, settings=TINY)
    gray = photo[200:240, 150:190, :1].astype(np.float32) / 255
    from sisr.api import upscale

    out = upscale(gray[:, :, 0], model="drsingan", scale=2, settings=TINY)
    assert out.shape == (80, 80, 1)
    with pytest.raises(SisrError, match="itres does not apply to singan: not one of its settings"):
        load_model("singan", settings={"itres": 3})
    assert up.scale == 2


def test_upscale_cli_trains_and_saves_the_pyramid(tmp_path, photo):
    src = tmp_path / "in.png"
    write_image(src, photo[100:140, 100:150])
    out = tmp_path / "out.png"
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    r = subprocess.run(
        [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(out), "--model", "singan", "--scale", "2"]
        + sets
        + ["--save-model", str(tmp_path / "kept"), "--quiet"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert read_image(out).pixels.shape == (80, 100, 3)
    assert (tmp_path / "kept" / "in.png" / "pyramid.safetensors").is_file()  # named after its image
    r = subprocess.run(
        [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(tmp_path / "o2.png"), "--model", "singan"]
        + ["--set", "iters=two"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "iters" in r.stderr
    assert not (tmp_path / "o2.png").exists()


def test_a_saved_pyramid_runs_again_as_a_model_on_the_image_it_was_trained_on(tmp_path, photo, capsys):
    from sisr import api as sisr_api
    from sisr.api import load_upscaler
    from sisr.cli import main

    src, other = tmp_path / "in.png", tmp_path / "other.png"
    write_image(src, photo[100:140, 100:150])
    write_image(other, photo[:40, :40])
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    first = ["upscale", str(src), "-o", str(tmp_path / "a.png"), "--model", "drsingan", "--scale", "2", "--quiet"]
    assert main([*first, *sets, "--save-model", str(tmp_path / "kept")]) == 0
    kept = tmp_path / "kept" / "in.png"  # named after the image it was trained on
    for model in (kept, kept / "pyramid.safetensors"):  # its folder or its file; no training this time
        out = tmp_path / f"again_{model.name}.png"
        assert main(["upscale", str(src), "-o", str(out), "--model", str(model), "--scale", "2", "--quiet"]) == 0
        np.testing.assert_array_equal(read_image(out).pixels, read_image(tmp_path / "a.png").pixels)
    zs = load_upscaler("drsingan", 2, settings=TINY, save_model=str(tmp_path / "api"))
    sisr_api.upscale_file(src, tmp_path / "api.png", zs)
    zs(read_image(src).pixels)  # an array after a file: not named after that file
    assert sorted(p.name for p in (tmp_path / "api").iterdir()) == ["image0001", "in.png"]
    assert main(["upscale", str(src), "-o", str(tmp_path / "b.png"), "--model", str(kept.parent), "--quiet"]) == 2
    assert f"a folder of saved zero-shot pyramids, one per image; name one ({kept})" in capsys.readouterr().err
    up = load_upscaler(str(kept), 3)  # the Python API too, at another scale
    assert up(read_image(src).pixels).shape == (120, 150, 3) and up.descriptor.kind == "zero-shot"
    capsys.readouterr()
    assert main(["models", str(kept)]) == 0
    said = capsys.readouterr().out
    assert "| method | drsingan (preset paper; 3 iterations per scale) |" in said and "| in.png, 50x40, " in said
    # Another image, a bench over a dataset, the web app: each refused in one line.
    out = tmp_path / "no.png"
    assert main(["upscale", str(other), "-o", str(out), "--model", str(kept), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "a pyramid trained on one 50x40 image enlarges that image, not a 40x40 one" in err
    assert err.count("\n") == 1 and not out.exists()
    assert main(["upscale", str(other), "-o", str(out), "--model", str(kept), "--dry-run"]) == 2  # said beforehand
    assert "not a 40x40 one" in capsys.readouterr().err
    assert main(["bench", "--models", str(kept), "--data", str(tmp_path), "--scale", "2"]) == 2
    assert "enlarges only that image; a bench measures models on datasets" in capsys.readouterr().err
    from sisr.serve import own_models

    with pytest.raises(SisrError, match="a zero-shot pyramid enlarges only the image it was trained on"):
        own_models([str(kept)])


def test_kept_pyramids_are_named_after_their_images_pages_apart(tmp_path):
    up = load_model("drsingan", scale=2, settings=TINY, save_model=str(tmp_path))
    assert up._save_folder() == str(tmp_path / "image0000")  # an array: no file to name it after
    names = []
    for src in ("photos/a.png", "photos/a.jpg", "scan.tif", "scan.tif", "other/a.png"):
        up.source = src
        names.append(Path(up._save_folder()).name)
    # a.png and a.jpg do not share a folder (torchrun's processes, each with one, wrote one pyramid
    # for both); a TIFF's pages one each, as two files of one name in one run.
    assert names == ["a.png", "a.jpg", "scan.tif", "scan.tif_0001", "a.png_0001"]
    again = load_model("drsingan", scale=2, settings=TINY, save_model=str(tmp_path))
    again.source = "photos/a.png"
    assert again._save_folder() == str(tmp_path / "a.png")  # a rerun: that image's own folder again


def test_a_folder_runs_kept_pyramids_mirror_its_subfolders(tmp_path, photo):
    """Cameras repeat file names across folders (2023/IMG_0001.jpg, 2024/IMG_0001.jpg)."""
    from sisr.cli import main

    for sub in ("2023", "2024"):
        (tmp_path / "photos" / sub).mkdir(parents=True)
        write_image(tmp_path / "photos" / sub / "img.png", photo[100:140, 100:150])
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    argv = ["upscale", str(tmp_path / "photos"), "-o", str(tmp_path / "out"), "--model", "drsingan", "--scale", "2"]
    assert main([*argv, *sets, "--save-model", str(tmp_path / "kept"), "--quiet"]) == 0
    kept = sorted(str(p.relative_to(tmp_path / "kept")) for p in (tmp_path / "kept").rglob("pyramid.safetensors"))
    assert kept == ["2023/img.png/pyramid.safetensors", "2024/img.png/pyramid.safetensors"]


def test_cpu_budget_options_real_reconstruction_input_and_sample_pool(photo):
    img = photo[200:248, 150:198].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, rec_input="real", pool=2, **FAST)
    pyr = train_pyramid(img, 2, cfg)
    out = pyr.enlarge(img, 2)
    assert out.shape == (96, 96, 3) and np.isfinite(out).all()
    # The same seed and settings train the same pyramid (the pool draws from the seeded generator).
    np.testing.assert_array_equal(train_pyramid(img, 2, cfg).enlarge(img, 2), out)
    with pytest.raises(SisrError, match="rec_input"):
        train_pyramid(img, 2, ZeroShotConfig(rec_input="nope", **FAST))
    with pytest.raises(SisrError, match="zero-shot settings: noise_amp must be at least 0, got -1"):
        train_pyramid(img, 2, ZeroShotConfig(noise_amp=-1.0, **FAST))  # trained without a word


@pytest.mark.parametrize(
    "setting, said",
    [
        ("lr=-1", "lr must be above 0, got -1"),  # was a traceback from the optimiser, after the image loaded
        ("betas=[2]", "betas must be 2 numbers"),
        ("decay_at=2", "decay_at must be above 0 and at most 1, got 2"),
        ("gp_weight=-1", "gp_weight must be at least 0"),  # these trained without a word
        ("precision=fp16", "precision must be 'auto' or 'fp32' or 'bf16', got 'fp16'"),
    ],
)
def test_zero_shot_settings_out_of_bounds_are_refused_as_they_load(setting, said):
    from sisr.config import parse_overrides

    with pytest.raises(SisrError, match=re.escape(f"drsingan settings: {said}")):
        load_model("drsingan", scale=2, settings=parse_overrides([setting]))


def test_steps_per_octave_sets_the_pyramid_ratio_and_survives_save_load(photo, tmp_path):
    img = photo[200:264, 150:214].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, steps_per_octave=1.5, **FAST)
    pyr = train_pyramid(img, 4, cfg)
    assert pyr.ratio == pytest.approx(4 ** (1 / 3))  # x4 in 3 steps
    assert pyr.sizes == [(25, 25), (40, 40), (64, 64)]
    out = pyr.enlarge(img, 4)
    assert out.shape == (256, 256, 3) and np.isfinite(out).all()
    pyr.save(tmp_path / "pyr")
    np.testing.assert_array_equal(load_pyramid(tmp_path / "pyr").enlarge(img, 4), out)


@pytest.mark.parametrize("k", range(8))
def test_dihedral_views_invert(k):
    from sisr.transforms import dihedral, undihedral

    x = torch.arange(2 * 3 * 5 * 7, dtype=torch.float32).reshape(2, 3, 5, 7)
    assert torch.equal(undihedral(dihedral(x, k), k), x)


def test_sr_time_options_ensemble_back_projection_and_bf16(photo):
    import dataclasses

    from sisr.resize import imresize

    img = photo[200:248, 150:198].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, rec_input="real", pool=1, precision="bf16", **FAST)
    pyr = train_pyramid(img, 2, cfg)
    plain = pyr.enlarge(img, 2)
    pyr.cfg = dataclasses.replace(cfg, ensemble=True)
    ens = pyr.enlarge(img, 2)
    assert ens.shape == plain.shape and np.isfinite(ens).all()
    assert np.abs(ens - plain).max() < 0.1  # the views agree roughly, not exactly
    # Back-projection pulls the result towards one whose downscale is the input.
    pyr.cfg = dataclasses.replace(cfg, back_projection=8)
    bp = pyr.enlarge(img, 2)

    def err(out):
        return np.abs(imresize(out.astype(np.float64), size=img.shape[:2]) - img).mean()

    assert err(bp) < err(plain)
    with pytest.raises(SisrError, match="precision"):
        train_pyramid(img, 2, ZeroShotConfig(precision="fp16", **FAST))


@pytest.mark.parametrize("setting", ["iters=-5", "channels=0", "d_steps=0", "crop=-1"])
def test_a_setting_below_its_least_is_refused(setting):
    # iters=-5 trained the finest scale for its 600 iterations of the preset, without a word
    key, value = setting.split("=")
    with pytest.raises(SisrError, match=f"{key} must be at least"):
        load_model("drsingan", scale=2, settings={key: int(value)})


def test_per_method_settings_apply_to_their_method_only():
    s = {"iters": 7, "drsingan": {"lr": 0.001}, "singan": {"iters": 9}}
    assert load_model("drsingan", scale=2, settings=s).config.lr == 0.001
    assert load_model("drsingan", scale=2, settings=s).config.iters == 7
    assert load_model("singan", scale=2, settings=s).config.iters == 9
    assert load_model("singan", scale=2, settings=s).config.lr == ZeroShotConfig().lr
    with pytest.raises(SisrError, match="not a zero-shot method"):
        load_model("singan", scale=2, settings={"nope": {"iters": 1}})


@pytest.mark.parametrize("method", ["singan", "drsingan"])
def test_presets_fast_by_default_paper_on_request_and_settings_override(method):
    from sisr.zeroshot import PRESETS

    fast = load_model(method, scale=2).config
    assert fast.preset == "fast" and fast.method == method
    for k, v in PRESETS[method]["fast"].items():
        assert getattr(fast, k) == v
    paper = load_model(method, scale=2, settings={"preset": "paper"}).config
    # The papers' settings: 2000 iterations; SinGAN's SR mode as its reference code sets it.
    sr_mode = {"mse_weight": 100.0, "min_size": 18, "sr_noise": 1.0} if method == "singan" else {}
    assert paper == ZeroShotConfig(method=method, preset="paper", **sr_mode)
    assert paper.iters == 2000 and not paper.pairs
    assert all(getattr(fast, k) == v for k, v in sr_mode.items())  # fast keeps the SR mode, at a CPU budget
    mixed = load_model(method, scale=2, settings={"preset": "paper", "iters": 50}).config
    assert mixed.iters == 50 and mixed.preset == "paper" and mixed.crop == 0
    # A preset named for one method leaves the other on its default.
    other = "singan" if method == "drsingan" else "drsingan"
    s = {method: {"preset": "paper"}}
    assert load_model(method, scale=2, settings=s).config.preset == "paper"
    assert load_model(other, scale=2, settings=s).config.preset == "fast"
    with pytest.raises(SisrError, match="preset must be 'paper' or 'fast'|preset must be 'fast' or 'paper'"):
        load_model(method, scale=2, settings={"preset": "slow"})


@pytest.mark.parametrize("method", ["singan", "drsingan"])
def test_sr_in_pieces_equals_one_pass(method):
    from sisr.zeroshot import apply_generator, build_scale, receptive_radius

    torch.manual_seed(0)
    g, _ = build_scale(ZeroShotConfig(method=method, channels=8, growth=4), 3)
    g.eval()
    assert receptive_radius(g) >= 5
    x, prev = torch.randn(1, 3, 70, 53), torch.randn(1, 3, 70, 53)
    whole = apply_generator(g, x, prev, tile=128)
    pieces = apply_generator(g, x, prev, tile=16)
    torch.testing.assert_close(pieces, whole, atol=1e-5, rtol=1e-5)


def test_progress_is_weighted_by_work_and_covers_training_and_sr(photo):
    from sisr.train.zeroshot import _PyramidTrainer, train_cost, upscale_zero_shot, work_units
    from sisr.zeroshot import sr_cost

    img = photo[200:260, 150:230].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, rec_input="real", pool=1, ensemble=True, **FAST)
    run = _PyramidTrainer(img, 2, cfg)
    costs = train_cost(cfg, run.sizes, run.ratio)
    assert costs == sorted(costs) and costs[-1] > 2 * costs[0]  # the finest scale's iterations cost most
    seen = []
    out, _ = upscale_zero_shot(img, 2, cfg, on_progress=lambda d, t: seen.append((d, t)))
    assert out.shape == (120, 160, 3)
    done = [d for d, _ in seen]
    total = seen[0][1]
    assert all(t == total for _, t in seen) and done == sorted(done) and done[-1] == total
    assert total - sr_cost(60, 80, 2, cfg) == sum(3 * c for c in costs)  # FAST: 3 iterations per scale
    assert sr_cost(60, 80, 2, cfg) == 8 * sr_cost(60, 80, 2, ZeroShotConfig(**FAST))  # x8 views
    assert work_units(60, 80, 2, cfg) == total  # known before the run: a batch's bar weighs its images


def test_pair_loss_l1_changes_training_and_is_checked(photo):
    img = photo[200:248, 150:198].astype(np.float32) / 255
    base = {"method": "drsingan", "pairs": True, "crop": 32, "rec_input": "real", "pool": 1, **FAST}
    plain = train_pyramid(img, 2, ZeroShotConfig(**base))
    l1 = train_pyramid(img, 2, ZeroShotConfig(pair_loss="l1", **base))
    assert not torch.equal(plain.gens[-1].tail[0].weight, l1.gens[-1].tail[0].weight)
    with pytest.raises(SisrError, match="pair_loss"):
        train_pyramid(img, 2, ZeroShotConfig(pair_loss="l2", **FAST))


def test_step_ensemble_averages_k_minus_1_k_and_k_plus_1_steps(photo):
    import dataclasses

    from sisr.zeroshot import sr_chain, to_image, to_tensor

    img = photo[200:248, 150:198].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, steps_per_octave=1.5, **FAST)
    pyr = train_pyramid(img, 4, cfg)
    one = pyr.enlarge(img, 4)
    pyr.cfg = dataclasses.replace(cfg, step_ensemble=True)
    avg = pyr.enlarge(img, 4)
    assert avg.shape == one.shape == (192, 192, 3)
    g = pyr.gens[-1]
    chains = [sr_chain(g, to_tensor(img), 4, cfg, pyr.amps[-1], steps=k) for k in (2, 3, 4)]
    np.testing.assert_allclose(avg, to_image(sum(chains) / 3), atol=1e-6)
    np.testing.assert_allclose(one, to_image(chains[1]), atol=1e-6)
    assert np.abs(avg - one).max() > 1e-4


def test_pair_side_makes_the_son_a_whole_number_of_pixels():
    from sisr.train.zeroshot import _pair_side

    cfg = ZeroShotConfig(crop=48)
    img = (64, 80)
    assert _pair_side(img, cfg, 4 ** (1 / 3)) == 46  # 46 / 1.587 = 28.98, not 48 / 1.587 = 30.24
    assert _pair_side(img, cfg, 2**0.5) == 48  # 48 / 1.414 = 33.94 already
    assert _pair_side((30, 80), cfg, 4 ** (1 / 3)) <= 30
    for ratio in (1.26, 1.41, 1.59, 1.73, 2.0):
        side = _pair_side(img, cfg, ratio)
        assert 40 <= side <= 48


def test_a_version_1_singan_pyramid_with_a_removed_setting_loads(photo, tmp_path):
    # Written as sisr 0.1 wrote pyramids: their own metadata layout, SinGAN's trunk named "body",
    # and the "ema" setting that was later removed.
    import dataclasses
    import json

    from safetensors.torch import save_file

    img = photo[100:148, 120:168].astype(np.float32) / 255
    pyr = train_pyramid(img, 2, ZeroShotConfig(method="singan", **FAST))
    tensors = {
        f"g{n}.{k}".replace(".trunk.", ".body."): v.contiguous()
        for n, g in enumerate(pyr.gens)
        for k, v in g.state_dict().items()
    }
    meta = {
        "format": "sisr-pyramid-1",
        "config": json.dumps({**dataclasses.asdict(pyr.cfg), "ema": 0.0}),
        "ratio": repr(pyr.ratio),
        "sizes": json.dumps(pyr.sizes),
        "amps": json.dumps(pyr.amps),
        "seconds": repr(pyr.seconds),
    }
    save_file(tensors, str(tmp_path / "pyramid.safetensors"), metadata=meta)
    old = load_pyramid(tmp_path)
    assert old.cfg == pyr.cfg
    np.testing.assert_array_equal(old.enlarge(img, 2), pyr.enlarge(img, 2))


def test_sr_work_cap_drops_the_ensembles_in_order_and_enlarge_follows_it(photo):
    from sisr.zeroshot import SR_CHOICES, conv_macs, sr_cost, sr_settings

    img = photo[200:248, 150:214].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", ensemble=True, step_ensemble=True, **FAST)
    pyr = train_pyramid(img, 2, cfg)
    macs = conv_macs(pyr.gens[-1])
    assert sr_settings(48, 64, 2, cfg) == cfg  # no cap
    need = [sr_cost(48, 64, 2, ZeroShotConfig(**{**cfg.__dict__, **d})) * macs / 1e9 for d in SR_CHOICES]
    assert need == sorted(need, reverse=True)  # each choice is cheaper than the one before
    for i, d in enumerate(SR_CHOICES):
        capped = ZeroShotConfig(**{**cfg.__dict__, "sr_gmacs": need[i] * 1.001})
        got = sr_settings(48, 64, 2, capped)
        assert (got.ensemble, got.step_ensemble) == (d.get("ensemble", True), d.get("step_ensemble", True))
        assert sr_settings(48, 64, 2, capped, macs) == got  # the generator of this input's pyramid
    # enlarge under the tightest cap equals enlarge with both ensembles switched off
    tight = ZeroShotConfig(**{**cfg.__dict__, "sr_gmacs": need[-1] / 2})
    plain = ZeroShotConfig(**{**cfg.__dict__, "ensemble": False, "step_ensemble": False})
    pyr.cfg = tight
    a = pyr.enlarge(img, 2)
    pyr.cfg = plain
    assert np.array_equal(a, pyr.enlarge(img, 2))


@pytest.mark.parametrize(
    "device, needle", [("tpu", "device must be"), ("cuda:x", "device must be"), ("cuda:7", "no such")]
)
def test_a_device_that_is_not_here_is_refused_before_any_work(device, needle):
    if device == "cuda:7" and torch.cuda.device_count() > 7:
        pytest.skip("this machine has 8 GPUs")
    with pytest.raises(SisrError, match=needle):
        load_model("drsingan", scale=2, settings={**TINY, "device": device})


def test_cpu_device_and_a_gpu_run_match_the_default(photo, tmp_path):
    """Noise is drawn on the CPU whatever the device, so the device changes only the arithmetic:
    on a CUDA machine the GPU run stays close to the CPU one; everywhere, device=cpu is the default."""
    import dataclasses

    img = photo[200:248, 150:198].astype(np.float32) / 255
    cfg = ZeroShotConfig(method="drsingan", pairs=True, crop=32, **FAST)
    ref = train_pyramid(img, 2, cfg).enlarge(img, 2)
    np.testing.assert_array_equal(train_pyramid(img, 2, dataclasses.replace(cfg, device="cpu")).enlarge(img, 2), ref)
    if not torch.cuda.is_available():
        return
    pyr = train_pyramid(img, 2, dataclasses.replace(cfg, device="cuda"))
    out = pyr.enlarge(img, 2)
    assert np.abs(out - ref).mean() < 0.02
    pyr.save(tmp_path)  # weights come back to the CPU: the pyramid loads and runs on a CPU-only machine
    assert load_pyramid(tmp_path).gens[-1].tail[0].weight.device.type == "cpu"


def test_singan_starts_as_its_reference_code_does():
    """tamarott/SinGAN's weights_init: conv weights N(0, 0.02), batch-norm scales N(1, 0.02), shifts 0
    (PyTorch's default conv weights have a std of 0.03 to 0.11 here)."""
    torch.manual_seed(0)
    g, d = SinGANGenerator(SinGANScaleConfig()), SinGANDiscriminator(SinGANScaleConfig())
    for net in (g, d):
        w = torch.cat([m.weight.flatten() for m in net.modules() if isinstance(m, torch.nn.Conv2d)])
        bn = torch.cat([m.weight for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)])
        assert abs(w.std().item() - 0.02) < 0.002
        assert abs(bn.mean().item() - 1) < 0.01 and 0.01 < bn.std().item() < 0.03


def test_training_work_weighs_each_scale_by_its_generators_multiply_adds():
    """Channels double every 4 scales: a pixel at scale 4 costs about 4 times one at scale 3,
    so the bar's time estimate holds when the wide scales come (benchmarks/zeroshot_eta.py)."""
    from sisr.train.zeroshot import train_cost
    from sisr.zeroshot import build_scale, conv_macs

    cfg = ZeroShotConfig(method="singan", iters=1, d_steps=1, g_steps=1, pool=1)
    sizes = [(30, 30)] * 6
    costs = train_cost(cfg, sizes, 1.26)
    macs = [conv_macs(build_scale(cfg, n)[0]) for n in (3, 4)]
    assert costs[0] == costs[3] and costs[4] == costs[5]
    assert costs[4] / costs[3] == pytest.approx(macs[1] / macs[0], rel=0.01) and costs[4] > 3 * costs[3]


@pytest.mark.parametrize("method", ["singan", "drsingan"])
def test_estimating_the_work_draws_no_random_numbers(method):
    """Training seeds the generator, estimates its work, then draws the weights: an estimate that
    built networks on the CPU shifted every draw after it and changed the trained pyramid."""
    from sisr.train.zeroshot import train_cost, work_units
    from sisr.zeroshot import sr_settings

    cfg = ZeroShotConfig(method=method, iters=1, sr_gmacs=1.0, step_ensemble=True)
    torch.manual_seed(0)
    before = torch.get_rng_state()
    train_cost(cfg, [(25, 25), (32, 32), (40, 40)], 1.26)
    work_units(40, 40, 2, cfg)
    sr_settings(40, 40, 2, cfg)
    assert torch.equal(before, torch.get_rng_state())


def test_divergence_guard_is_a_no_op_until_it_fires_and_then_restores_an_older_state(photo):
    """A guard that never fires leaves the run bit for bit as it was (it draws no random numbers);
    when a step's reconstruction passes the threshold, G, D and both optimizers go back to the
    older of the two states kept, and a scale with no healthy state yet is left alone."""
    from sisr.train.zeroshot import _PyramidTrainer

    img = photo[200:248, 150:198].astype(np.float32) / 255
    base = dict(method="drsingan", pairs=True, crop=32, rec_input="real", pool=1, **{**FAST, "iters": 30})
    plain = train_pyramid(img, 2, ZeroShotConfig(**base))
    kept = train_pyramid(img, 2, ZeroShotConfig(**base, diverge_mse=1e9))  # keeps states, never fires
    np.testing.assert_array_equal(kept.enlarge(img, 2), plain.enlarge(img, 2))

    run = _PyramidTrainer(img, 2, ZeroShotConfig(**base, diverge_mse=0.05))
    sc = run.setup_scale(0)
    good: list = []
    assert run.guard(sc, 3, 1.0, good) is False and not good  # nothing healthy yet to go back to
    assert run.guard(sc, 0, 0.001, good) is False
    first = {k: v.clone() for k, v in sc.g.state_dict().items()}
    lr0 = sc.opt_g.param_groups[0]["lr"]
    with torch.no_grad():
        for p in sc.g.parameters():
            p.add_(1.0)
    run.guard(sc, 25, 0.001, good)
    with torch.no_grad():
        for p in sc.g.parameters():
            p.mul_(50.0)
    sc.opt_g.param_groups[0]["lr"] = 123.0
    assert run.guard(sc, 30, 0.9, good) is True
    for k, v in sc.g.state_dict().items():
        torch.testing.assert_close(v, first[k])
    assert sc.opt_g.param_groups[0]["lr"] == lr0 and len(good) == 1


def test_the_fast_drsingan_preset_guards_against_divergence():
    from sisr.infer import zero_shot_config

    assert zero_shot_config("drsingan").diverge_mse > 0
    assert (
        zero_shot_config("singan").diverge_mse == 0
        and zero_shot_config("drsingan", {"preset": "paper"}).diverge_mse == 0
    )


def test_a_save_model_path_that_cannot_hold_pyramids_is_refused_before_training(tmp_path, photo, capsys):
    from sisr.cli import main

    src, taken = tmp_path / "in.png", tmp_path / "afile"
    write_image(src, photo[100:140, 100:150])
    taken.write_text("a file")
    sets = [a for k, v in TINY.items() for a in ("--set", f"{k}={v}")]
    for where in (taken, taken / "sub"):  # was a traceback, after the training
        argv = ["upscale", str(src), "-o", str(tmp_path / "o.png"), "--model", "drsingan", "--quiet"]
        assert main([*argv, *sets, "--save-model", str(where)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"sisr: error: --save-model {where}: cannot write (") and err.count("\n") == 1
        assert "is a file, not a folder" in err and not (tmp_path / "o.png").exists()
