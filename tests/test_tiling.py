"""Property tests of the tiled path: any image size, tile and overlap gives exactly scale x the
input, with no exception, and matches the untiled result."""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from torch import nn

from sisr.cli import main
from sisr.infer import run_tiled


class _Tiny(nn.Module):
    """Random multi-scale model: a conv of radius ``radius`` (0: pointwise) and pixel shuffle."""

    def __init__(self, radius: int, scales=(2, 3, 4)) -> None:
        super().__init__()
        torch.manual_seed(radius)
        k = 2 * radius + 1
        self.scales = scales
        self.convs = nn.ModuleDict({str(s): nn.Conv2d(3, 3 * s * s, k, padding=radius) for s in scales})

    def forward_scale(self, x: torch.Tensor, s: int) -> torch.Tensor:
        return torch.sigmoid(nn.functional.pixel_shuffle(self.convs[str(s)](x), s))


MODELS = {0: _Tiny(0), 1: _Tiny(1)}


@st.composite
def cases(draw):
    tile = draw(st.one_of(st.just(0), st.integers(16, 1024)))
    overlap = draw(st.integers(0, 64))
    eff = min(overlap, tile // 2) // 2 if tile else 0
    edge = [tile - 1, tile, tile + 1, tile + eff - 1, tile + eff + 1] if tile else []
    sides = st.one_of(st.integers(1, 2100), st.sampled_from([v for v in edge if v >= 1] or [1]))
    long_side = draw(sides)
    # The other side stays small so that an example costs milliseconds; either may be the height.
    short_side = draw(st.one_of(st.integers(1, 48), st.sampled_from([v for v in edge if 1 <= v <= 48] or [1])))
    h, w = (long_side, short_side) if draw(st.booleans()) else (short_side, long_side)
    scale = draw(st.sampled_from([2, 3, 4]))
    return h, w, tile, overlap, scale


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_tiled_output_is_scale_times_input_and_matches_untiled(case):
    h, w, tile, overlap, s = case
    # Context of at least one pixel needs overlap >= 1; with none, only a pointwise model can match.
    model = MODELS[1 if overlap >= 1 else 0]
    x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h * 7919 + w))
    with torch.no_grad():
        tiled = run_tiled(lambda t: model.forward_scale(t, s), x, s, tile, overlap)
        full = model.forward_scale(x, s)
    assert tiled.shape == (1, 3, h * s, w * s)
    assert float((tiled - full).abs().max()) <= 1 / 255


@pytest.mark.parametrize("size,extra", [((1030, 20), []), ((65, 20), ["--tile", "64"])])
def test_cli_sizes_that_used_to_crash(tmp_path, size, extra, capsys):
    rng = np.random.default_rng(0)
    src, dst = tmp_path / "in.png", tmp_path / "out.png"
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(src)
    assert main(["upscale", str(src), "-o", str(dst), "--quiet", *extra]) == 0
    assert Image.open(dst).size == (size[0] * 4, size[1] * 4)


@pytest.mark.parametrize("tile", [16, 64, 100, 1024])
@pytest.mark.parametrize("overlap", [0, 1, 8, 16, 33, 64])
def test_edge_sizes_are_always_covered(tile, overlap):
    # The sizes where tiling turns over (tile - 1, tile, tile + 1, tile + overlap/2 +- 1, 2 tiles + 1),
    # on both axes and at every scale, independent of what the random search draws.
    eff = min(overlap, tile // 2) // 2
    sides = sorted({tile - 1, tile, tile + 1, tile + eff - 1, tile + eff + 1, 2 * tile + 1} - {0})
    model = MODELS[1 if overlap >= 1 else 0]
    for s in (2, 3, 4):
        for long_side in sides:
            for h, w in ((long_side, 5), (5, long_side)):
                x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(h + 3 * w))
                with torch.no_grad():
                    tiled = run_tiled(lambda t, s=s: model.forward_scale(t, s), x, s, tile, overlap)
                    full = model.forward_scale(x, s)
                assert tiled.shape == (1, 3, h * s, w * s)
                assert float((tiled - full).abs().max()) <= 1 / 255


@pytest.mark.parametrize("h, w, tile, overlap, s", [(130, 70, 32, 16, 4), (65, 200, 64, 33, 3), (300, 301, 100, 8, 2)])
def test_blend_weights_sum_to_one_and_the_result_is_stored_row_major(h, w, tile, overlap, s):
    """A model that answers 1 everywhere gives 1 everywhere: the 1-D weight sums normalise every
    pixel, seams and corners included. The result's memory is H x W x C, so the array the
    caller gets is that memory, not a copy of it."""
    x = torch.rand(1, 3, h, w)
    out = run_tiled(lambda t: torch.ones(1, 3, t.shape[2] * s, t.shape[3] * s), x, s, tile, overlap)
    assert float((out - 1).abs().max()) < 1e-6
    assert out[0].permute(1, 2, 0).is_contiguous()


def test_quantizing_a_large_result_by_bands_matches_the_formula():
    from sisr.io import to_uint8, to_uint16

    a = torch.rand(2100, 1000, 3, generator=torch.Generator().manual_seed(0)).numpy() * 1.2 - 0.1  # > 2**22 values
    a[0, :3, 0] = [0.5 / 255, 254.5 / 255, 1.0]
    np.testing.assert_array_equal(to_uint8(a), np.floor(np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))
    np.testing.assert_array_equal(to_uint16(a), np.floor(np.clip(a, 0.0, 1.0) * 65535.0 + 0.5).astype(np.uint16))
