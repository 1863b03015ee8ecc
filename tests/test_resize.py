import numpy as np
import pytest
import torch

from sisr.io import read_rgb
from sisr.resize import imresize, imresize_torch, modcrop, output_size

from .conftest import need_dataset


@pytest.mark.parametrize("s", [2, 3, 4, 8])
def test_matches_matlab_set5_lr(data_root, s):
    """uint8 imresize equals MATLAB's files; x8 was made from double input, so check float mode there."""
    root = need_dataset(data_root, "Set5")
    total = equal = 0
    worst = 0
    for f in sorted((root / "HR").glob("*.png")):
        hr = modcrop(read_rgb(f), s)
        ref = read_rgb(root / "LR_bicubic" / f"X{s}" / f"{f.stem}x{s}.png")
        lr8 = imresize(hr, 1 / s)
        lrf = np.floor(np.clip(imresize(hr / 255.0, 1 / s), 0, 1) * 255 + 0.5).astype(np.uint8)
        lr = lrf if s == 8 else lr8
        assert lr.shape == ref.shape
        d = np.abs(lr.astype(int) - ref.astype(int))
        total += d.size
        equal += int((d == 0).sum())
        worst = max(worst, int(d.max()))
    assert equal / total >= 0.999, f"x{s}: only {equal / total:.4%} of values equal"
    assert worst <= 1


def test_output_size_follows_matlab():
    assert output_size(510, 1 / 3) == 170
    assert output_size(257, 0.5) == 129
    assert output_size(10, 1.5) == 15
    assert output_size(7, 2.3) == 17


@pytest.mark.parametrize("shape", [(17, 23, 3), (31, 9), (5, 64, 1)])
@pytest.mark.parametrize("scale", [0.5, 1 / 3, 0.37, 1.5, 2, 2.7, 4])
def test_odd_sizes_and_fractional_scales(shape, scale, rng):
    img = rng.random(shape)
    out = imresize(img, scale)
    assert out.shape[:2] == (output_size(shape[0], scale), output_size(shape[1], scale))
    assert out.shape[2:] == img.shape[2:]
    # Partition of unity: constants are preserved exactly.
    const = np.full(shape, 0.3)
    np.testing.assert_allclose(imresize(const, scale), 0.3, atol=1e-12)


@pytest.mark.parametrize("scale", [1.5, 2, 2.7, 4])
def test_upscale_reproduces_linear_ramps_in_the_interior(scale):
    # The a = -0.5 cubic kernel interpolates linear functions exactly.
    w = 40
    ramp = np.tile(np.arange(w, dtype=np.float64), (8, 1))
    out = imresize(ramp, scale)
    x = np.arange(1, out.shape[1] + 1) / scale + 0.5 * (1 - 1 / scale) - 1
    inner = (x > 2) & (x < w - 3)
    np.testing.assert_allclose(out[:, inner], np.broadcast_to(x[inner], out[:, inner].shape), atol=1e-9)


def test_integer_upscale_hits_source_samples_with_known_weights():
    # At x2 the output samples sit at +-1/4 of a source pixel: the cubic weights are known in closed form.
    x = np.zeros((1, 9))
    x[0, 4] = 1.0
    out = imresize(x, (1, 2))
    # Kernel values at distances 0.25, 0.75, 1.25, 1.75 for a = -0.5.
    k = {0.25: 0.8671875, 0.75: 0.2265625, 1.25: -0.0703125, 1.75: -0.0234375}
    # Output sample j (0-based) maps to u = (j + 1) / 2 + 0.25 - 1 in 0-based source coordinates.
    for j in range(4, 14):
        u = (j + 1) / 2 + 0.25 - 1
        d = abs(u - 4)
        expected = k.get(round(d, 2), 0.0)
        assert out[0, j] == pytest.approx(expected, abs=1e-12)


def test_uint8_in_uint8_out(rng):
    img = rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = imresize(img, 0.5)
    assert out.dtype == np.uint8 and out.shape == (10, 15, 3)


def test_size_argument_and_errors(rng):
    img = rng.random((20, 30))
    assert imresize(img, size=(7, 11)).shape == (7, 11)
    with pytest.raises(ValueError):
        imresize(img, 0)
    with pytest.raises(ValueError):
        imresize(rng.random((2, 2, 2, 2)), 2)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 2, 3.5])
def test_torch_matches_numpy(scale, rng):
    img = rng.random((2, 3, 19, 26))
    ref = np.stack([imresize(im.transpose(1, 2, 0), scale).transpose(2, 0, 1) for im in img])
    out = imresize_torch(torch.from_numpy(img), scale)
    np.testing.assert_allclose(out.numpy(), ref, atol=1e-10)


def test_torch_is_differentiable():
    x = torch.rand(1, 3, 12, 12, requires_grad=True)
    imresize_torch(x, 0.5).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_modcrop():
    img = np.zeros((13, 17, 3))
    assert modcrop(img, 4).shape == (12, 16, 3)
    assert modcrop(img, 1).shape == img.shape


@pytest.mark.parametrize("r", [2, 3, 4])
@pytest.mark.parametrize("shape", [(1, 3, 5, 7), (2, 1, 33, 20), (1, 3, 3, 3), (1, 3, 2, 9)])
def test_integer_upscaler_equals_imresize(r, shape):
    from sisr.resize import upscale_int_torch

    x = torch.rand(*shape, dtype=torch.float64)
    torch.testing.assert_close(upscale_int_torch(x, r), imresize_torch(x, float(r)), rtol=0, atol=1e-12)


@pytest.mark.parametrize("r, q", [(3, 2), (4, 3), (5, 2)])
@pytest.mark.parametrize("hw", [(6, 12), (12, 30), (24, 6)])
def test_ratio_upscaler_equals_imresize(r, q, hw):
    """RR-GAN's x2 -> x3 and x3 -> x4 steps (3 / 2, 4 / 3) in slices, as ONNX export traces them."""
    from sisr.resize import upscale_int_torch

    x = torch.rand(2, 3, *hw, dtype=torch.float64)
    want = imresize_torch(x, size=(hw[0] * r // q, hw[1] * r // q))
    torch.testing.assert_close(upscale_int_torch(x, r, q), want, rtol=0, atol=1e-12)


@pytest.mark.parametrize("size", [(37, 53), (200, 150), (9, 7)])
def test_float32_resize_is_the_float64_one_within_float32_rounding(size, rng):
    img = rng.random((41, 29, 3))
    wide = imresize(img, size=size)
    narrow = imresize(img.astype(np.float32), size=size, dtype=np.float32)
    assert narrow.dtype == np.float32 and narrow.shape == wide.shape
    assert np.abs(narrow - wide).max() < 1e-5  # far below a 16-bit level (1.5e-5)
    assert imresize(img, size=size, dtype=np.float32).dtype == np.float32
    assert imresize((img * 255).astype(np.uint8), size=size, dtype=np.float32).dtype == np.uint8  # uint8 stays exact


def test_a_resized_result_keeps_its_channels_and_alpha(rng):
    from sisr.api import resize_data
    from sisr.io import ImageData

    for pixels, alpha in ((rng.random((30, 40, 3)), rng.random((30, 40))), (rng.random((30, 40, 1)), None)):
        data = ImageData(pixels.astype(np.float32), None if alpha is None else alpha.astype(np.float32), 16)
        out = resize_data(data, (100, None))
        assert out.pixels.shape == (75, 100, pixels.shape[2]) and out.pixels.dtype == np.float32
        assert np.abs(out.pixels - np.clip(imresize(pixels, size=(75, 100)), 0, 1)).max() < 1e-5
        if alpha is not None:
            assert (
                out.alpha.shape == (75, 100)
                and np.abs(out.alpha - np.clip(imresize(alpha, size=(75, 100)), 0, 1)).max() < 1e-5
            )
