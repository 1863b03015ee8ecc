"""--denoise: a model fine-tuned on degraded LR blends its weights with the clean model it started from."""

import subprocess
import sys

import numpy as np
import pytest
import torch

from sisr.checkpoint import find_weights, load_checkpoint, save_checkpoint
from sisr.errors import SisrError
from sisr.infer import denoise_partner, load_model
from sisr.io import read_image, write_image
from sisr.models import model_from_checkpoint

CLEAN = "src/sisr/weights/rrgan-x4.safetensors"


@pytest.fixture(scope="module")
def real_model(tmp_path_factory):
    """A stand-in for rrgan-real-x4: rrgan-x4's weights moved a little, with the recipe a
    fine-tune on degraded LR from rrgan-x4 records."""
    ck = load_checkpoint(find_weights(CLEAN))
    module = model_from_checkpoint(ck)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.02 * torch.randn(p.shape, generator=g))
    path = tmp_path_factory.mktemp("real") / "real.safetensors"
    save_checkpoint(path, module, ck.arch, ck.config, recipe={"degradation": "real", "init": CLEAN})
    return path


def test_denoise_partner_is_the_first_clean_model_up_the_init_chain(real_model, tmp_path):
    """A GAN phase on degraded LR from the blind model blends with the clean model both descend
    from, not with the blind one (which would be a GAN-strength knob, not a denoise one)."""
    ck = load_checkpoint(real_model)
    gan = save_checkpoint(
        tmp_path / "gan.safetensors",
        model_from_checkpoint(ck),
        ck.arch,
        ck.config,
        recipe={"degradation": "real", "init": str(real_model), "phase": "gan"},
    )
    assert denoise_partner(load_checkpoint(gan).meta) == find_weights(CLEAN)
    assert denoise_partner(ck.meta) == find_weights(CLEAN)
    assert denoise_partner(load_checkpoint(find_weights(CLEAN)).meta) is None  # the clean model has none
    lost = save_checkpoint(
        tmp_path / "lost.safetensors",
        model_from_checkpoint(ck),
        ck.arch,
        ck.config,
        recipe={"degradation": "real", "init": str(tmp_path / "missing.safetensors")},
    )
    assert denoise_partner(load_checkpoint(lost).meta) is None  # its init is not here: no partner


def _weights(up):
    return {k: v.clone() for k, v in up.module.state_dict().items()}


def test_denoise_interpolates_the_two_networks(real_model):
    clean = _weights(load_model("rrgan-x4"))
    real = _weights(load_model(str(real_model)))
    assert load_model(str(real_model)).descriptor.denoise
    for d in (0.0, 0.3, 1.0):
        mixed = _weights(load_model(str(real_model), denoise=d))
        for k in clean:
            torch.testing.assert_close(mixed[k], d * real[k] + (1 - d) * clean[k])


def test_denoise_outputs_move_from_clean_to_real(real_model, photo):
    img = photo[100:132, 100:132]
    outs = [load_model(str(real_model), denoise=d, tile=0)(img) for d in (0.0, 0.5, 1.0)]
    np.testing.assert_allclose(outs[0], load_model("rrgan-x4", tile=0)(img), atol=1e-5)
    d_half, d_full = np.abs(outs[1] - outs[0]).mean(), np.abs(outs[2] - outs[0]).mean()
    assert 0 < d_half < d_full


@pytest.mark.parametrize("value, match", [(1.5, "between 0 and 1"), (-0.1, "between 0 and 1")])
def test_denoise_out_of_range_is_refused(real_model, value, match):
    with pytest.raises(SisrError, match=match):
        load_model(str(real_model), denoise=value)


@pytest.mark.parametrize("model", ["rrgan-x4", "bicubic", "drsingan"])
def test_denoise_is_refused_for_models_without_a_clean_partner(model):
    assert not load_model(model, scale=2).descriptor.denoise
    with pytest.raises(SisrError, match="--denoise does not apply"):
        load_model(model, scale=2, denoise=0.5)


def test_denoise_cli(real_model, photo, tmp_path):
    src, out = tmp_path / "in.png", tmp_path / "out.png"
    write_image(src, photo[100:132, 100:132])
    r = subprocess.run(
        [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(out), "--model", str(real_model)]
        + ["--denoise", "0.5", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    assert read_image(out).rgb.shape == (128, 128, 3)
    r = subprocess.run(
        [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(tmp_path / "x.png"), "--denoise", "0.5"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "--denoise does not apply" in r.stderr
    assert not (tmp_path / "x.png").exists()


def test_bench_names_denoised_rows_and_records_the_strength(real_model, photo, tmp_path):
    from sisr.bench import run_bench, to_markdown

    (tmp_path / "HR").mkdir()
    write_image(tmp_path / "HR" / "a.png", photo[:48, :48])
    report = run_bench([str(real_model)], [str(tmp_path)], [4], progress=False, denoise=0.5)
    assert report["denoise"] == 0.5 and report["results"][0]["model"] == f"{real_model}@denoise=0.5"
    assert f"{real_model}@denoise=0.5" in to_markdown(report)
    with pytest.raises(SisrError, match="--denoise does not apply"):
        run_bench(["bicubic"], [str(tmp_path)], [4], progress=False, denoise=0.5)


def test_bench_ensemble_names_rows_runs_the_x8_ensemble_and_refuses_bicubic(real_model, photo, tmp_path):
    from sisr.bench import run_bench, to_markdown

    (tmp_path / "HR").mkdir()
    write_image(tmp_path / "HR" / "a.png", photo[:48, :40])
    plain = run_bench([str(real_model)], [str(tmp_path)], [4], progress=False, degradation="real")
    ens = run_bench([str(real_model)], [str(tmp_path)], [4], progress=False, degradation="real", ensemble=True)
    row = ens["results"][0]
    assert ens["ensemble"] == "x8" and row["model"] == f"{real_model}@x8"
    assert f"{real_model}@x8" in to_markdown(ens) and f"{real_model}@x8" in ens["budgets"]
    # The x8 average is a different estimate from one pass (and not a copy of it).
    assert row["psnr_y"] != plain["results"][0]["psnr_y"]
    with pytest.raises(SisrError, match="--ensemble does not apply"):
        run_bench(["bicubic"], [str(tmp_path)], [4], progress=False, ensemble=True)
