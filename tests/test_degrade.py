"""The degradation model: shapes, ranges, determinism per seed, stages switchable, kernels sane."""

import dataclasses

import numpy as np
import pytest

from sisr.degrade import DegradeConfig, degrade, random_kernel, sinc_kernel

OFF = {"blur": False, "resize": False, "noise": False, "jpeg": False, "second_stage": False, "final_sinc": False}


@pytest.fixture(scope="module")
def hr(photo):
    return photo[100:196, 140:236]


@pytest.mark.parametrize("seed", range(6))
def test_shape_range_and_determinism(hr, seed):
    a = degrade(hr, 4, np.random.default_rng(seed))
    b = degrade(hr, 4, np.random.default_rng(seed))
    assert a.shape == (24, 24, 3) and a.dtype == np.float32
    assert a.min() >= 0 and a.max() <= 1
    assert np.allclose(a * 255, np.round(a * 255), atol=1e-4)  # 8-bit values
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(8))
def test_images_smaller_than_the_kernels_degrade(photo, seed):
    # A 21 px kernel on a 10 px wide LR: the filters cannot reflect-pad, and must not fail.
    a = degrade(photo[:44, :40], 4, np.random.default_rng(seed))
    assert a.shape == (11, 10, 3) and a.min() >= 0 and a.max() <= 1


def test_different_seeds_differ_and_degrade_more_than_bicubic(hr):
    from sisr.resize import imresize

    outs = [degrade(hr, 4, np.random.default_rng(s)) for s in range(4)]
    assert not np.array_equal(outs[0], outs[1])
    clean = imresize(hr / 255.0, 0.25)
    assert all(np.abs(o - clean).mean() > 0.005 for o in outs)


@pytest.mark.parametrize("stage", list(OFF))
def test_each_stage_can_be_switched_off(hr, stage):
    only = DegradeConfig(**{**OFF, stage: True, "second_stage": stage == "second_stage"})
    out = degrade(hr, 4, np.random.default_rng(0), only)
    assert out.shape == (24, 24, 3)
    none = degrade(hr, 4, np.random.default_rng(0), DegradeConfig(**OFF))
    assert none.shape == (24, 24, 3)
    # With everything off the LR is a plain resize of the HR.
    assert np.abs(none - hr[::4, ::4] / 255.0).mean() < 0.1


def test_kernels_are_normalised_and_odd():
    rng = np.random.default_rng(0)
    for second in (False, True):
        for _ in range(30):
            k = random_kernel(rng, DegradeConfig(), second)
            assert k.shape[0] == k.shape[1] and k.shape[0] % 2 == 1
            assert abs(k.sum() - 1) < 1e-6 and np.isfinite(k).all()
    s = sinc_kernel(21, np.pi / 2)
    assert abs(s.sum() - 1) < 1e-6 and s[10, 10] == s.max()


def test_defaults_are_real_esrgans_published_ranges():
    cfg = DegradeConfig()
    assert cfg.noise_range == (1.0, 30.0) and cfg.noise_range2 == (1.0, 25.0)
    assert cfg.resize_range == (0.15, 1.5) and cfg.resize_range2 == (0.3, 1.2)
    assert cfg.jpeg_range == (30.0, 95.0) and cfg.final_sinc_prob == 0.8 and cfg.second_blur_prob == 0.8
    assert dataclasses.asdict(cfg)["kernel_prob"] == (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


def test_degraded_bench_records_seed_and_ranges(tmp_path, photo):
    from sisr.bench import run_bench, to_markdown
    from sisr.io import write_image

    d = tmp_path / "Mine" / "HR"
    d.mkdir(parents=True)
    write_image(d / "a.png", photo[:64, :64])
    rep = run_bench(["bicubic"], [str(tmp_path / "Mine")], [4], progress=False, degradation="real", seed=3)
    again = run_bench(["bicubic"], [str(tmp_path / "Mine")], [4], progress=False, degradation="real", seed=3)
    assert rep["degradation"]["seed"] == 3 and rep["degradation"]["ranges"]["jpeg_range"] == (30.0, 95.0)
    assert rep["results"][0]["psnr_y"] == again["results"][0]["psnr_y"]
    assert "seed 3" in to_markdown(rep) and "pub." not in to_markdown(rep)
