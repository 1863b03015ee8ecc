import math

import numpy as np
import pytest
import torch
from PIL import Image

from sisr.io import read_rgb
from sisr.metrics import crop_border, gray_of, psnr, quantize, rgb_to_y, ssim
from sisr.resize import imresize, modcrop

from .conftest import need_dataset

skmetrics = pytest.importorskip("skimage.metrics")


def _degraded(img: np.ndarray, s: int) -> tuple[np.ndarray, np.ndarray]:
    hr = modcrop(img, s)
    return imresize(imresize(hr, 1 / s), s), hr


def _independent(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[float, float]:
    def y(a):
        a = a.astype(np.float64) / 255.0
        return 16 + 65.481 * a[..., 0] + 128.553 * a[..., 1] + 24.966 * a[..., 2]

    a, b = y(sr)[crop:-crop, crop:-crop], y(hr)[crop:-crop, crop:-crop]
    p = skmetrics.peak_signal_noise_ratio(b, a, data_range=255)
    s = skmetrics.structural_similarity(
        b, a, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    return p, s


@pytest.mark.parametrize("s", [2, 3, 4])
def test_agrees_with_scikit_image_on_a_real_photo(photo, s):
    sr, hr = _degraded(photo, s)
    p_ref, s_ref = _independent(sr, hr, s)
    assert psnr(sr, hr, crop=s) == pytest.approx(p_ref, abs=1e-3)
    assert ssim(sr, hr, crop=s) == pytest.approx(s_ref, abs=1e-3)


def test_agrees_with_scikit_image_on_set5(data_root):
    root = need_dataset(data_root, "Set5")
    for f in sorted((root / "HR").glob("*.png")):
        sr, hr = _degraded(read_rgb(f), 4)
        p_ref, s_ref = _independent(sr, hr, 4)
        assert psnr(sr, hr, crop=4) == pytest.approx(p_ref, abs=1e-3), f.name
        assert ssim(sr, hr, crop=4) == pytest.approx(s_ref, abs=1e-3), f.name


def test_y_channel_values():
    white = np.ones((4, 4, 3))
    black = np.zeros((4, 4, 3))
    assert rgb_to_y(white) == pytest.approx(np.full((4, 4), 235.0))
    assert rgb_to_y(black) == pytest.approx(np.full((4, 4), 16.0))
    red = np.zeros((1, 1, 3), np.uint8)
    red[..., 0] = 255
    assert rgb_to_y(red)[0, 0] == pytest.approx(16 + 65.481)


def test_identical_images_give_inf_psnr_and_unit_ssim(photo):
    assert math.isinf(psnr(photo, photo, crop=4))
    assert ssim(photo, photo, crop=4) == pytest.approx(1.0)


def test_shape_mismatch_raises(photo):
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(photo, photo[:-1])
    with pytest.raises(ValueError, match="shape mismatch"):
        ssim(photo, photo[:, :-2])


def test_a_colour_and_a_gray_image_are_told_apart_by_their_channels(photo):
    gray = photo[:, :, 0]
    h, w = gray.shape
    with pytest.raises(ValueError, match=rf"shape mismatch: {h} x {w} x 3 vs {h} x {w} x 1 \(H x W x C\)"):
        psnr(photo, gray)  # it said "({h}, {w}) vs ({h}, {w})"


def test_paths_are_measured_as_their_pixels(tmp_path, photo):
    """An image file is read as sisr upscale reads it: 16 bits kept, gray kept gray."""
    noisy = np.clip(photo.astype(np.int16) + np.random.default_rng(0).integers(-9, 10, photo.shape), 0, 255)
    noisy = noisy.astype(np.uint8)
    Image.fromarray(photo).save(tmp_path / "hr.png")
    Image.fromarray(noisy).save(tmp_path / "sr.png")
    assert psnr(tmp_path / "sr.png", str(tmp_path / "hr.png"), crop=4) == psnr(noisy, photo, crop=4)
    assert ssim(tmp_path / "sr.png", photo, crop=4) == ssim(noisy, photo, crop=4)
    Image.fromarray(noisy[:, :, 1]).save(tmp_path / "g.png")
    assert psnr(tmp_path / "g.png", photo[:, :, 1:2]) == psnr(noisy[:, :, 1], photo[:, :, 1])
    deep = noisy.astype(np.uint16) * 257 + 100  # values 8 bits cannot hold
    Image.fromarray(deep[:, :, 0]).save(tmp_path / "d.png")
    assert psnr(tmp_path / "d.png", photo[:, :, 0]) == psnr(deep[:, :, 0], photo[:, :, 0])


def test_crop_too_large_raises():
    img = np.zeros((20, 20, 3))
    with pytest.raises(ValueError):
        psnr(img, img, crop=10)
    with pytest.raises(ValueError):
        ssim(img, img + 0.1, crop=5)  # 10 x 10 left, smaller than the window


def test_known_psnr_value():
    a = np.zeros((8, 8, 3), np.uint8)
    b = a.copy()
    b[..., :] = 10  # Y differs by 219 * 10 / 255 everywhere
    expected = 10 * math.log10(255**2 / (219 * 10 / 255) ** 2)
    assert psnr(a, b) == pytest.approx(expected)


def test_gray_images_are_measured_on_their_gray_values(rng):
    g = rng.integers(0, 256, (32, 32, 1), dtype=np.uint8)
    h = np.clip(g.astype(int) + rng.integers(-5, 6, g.shape), 0, 255).astype(np.uint8)
    mse = np.mean((g.astype(float) - h.astype(float)) ** 2)
    assert psnr(h, g) == pytest.approx(10 * math.log10(255**2 / mse))
    # 2-D arrays are gray too
    assert psnr(h[..., 0], g[..., 0]) == pytest.approx(psnr(h, g))
    # gray read back from a replicated RGB image is the gray itself
    rgb = np.repeat(g, 3, axis=2)
    np.testing.assert_allclose(gray_of(rgb) * 255, g, atol=1e-9)


def test_torch_input_and_quantize(photo):
    t = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    assert psnr(t, photo) > 100  # float32 round trip of 8-bit values
    q = quantize(np.array([[[-0.1, 0.5, 1.2]]]))
    np.testing.assert_allclose(q, [[[0.0, 128 / 255, 1.0]]])


def test_crop_border():
    a = np.arange(36).reshape(6, 6)
    assert crop_border(a, 2).tolist() == [[14, 15], [20, 21]]
    assert crop_border(a, 0) is a
