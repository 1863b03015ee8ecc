import pytest
import torch

from sisr.checkpoint import load_checkpoint, save_checkpoint
from sisr.models import DISCRIMINATORS, REGISTRY, build_model, model_from_checkpoint
from sisr.models.base import has_luma
from sisr.models.rrgan import RRGAN, RRGANConfig
from sisr.resize import imresize_torch

SMALL = {
    "bicubic": {"scale": 3},
    "rrgan": {"channels": 8, "blocks": 1, "recursions": 2},
    "patchgan": {"channels": 8},
    "srcnn": {"n1": 8, "n2": 4},
    "vdsr": {"depth": 4, "channels": 8},
    "drcn": {"channels": 8, "recursions": 3},
    "srresnet": {"channels": 8, "blocks": 2},
    "srgan_disc": {"channels": 4, "dense": 16},
}
SR_ARCHS = [a for a in REGISTRY if a not in DISCRIMINATORS]
LUMA_ARCHS = [a for a in SR_ARCHS if has_luma(build_model(a, SMALL[a]).config)]
# every SR architecture at its small config, and the Y-only (luma) form of those that have one
SR_CONFIGS = [pytest.param(a, SMALL[a], id=a) for a in SR_ARCHS] + [
    pytest.param(a, {**SMALL[a], "luma": True}, id=f"{a}-luma") for a in LUMA_ARCHS
]
SR_CONFIGS.append(pytest.param("vdsr", {**SMALL["vdsr"], "scales": (2, 3, 4)}, id="vdsr-multiscale"))


def test_every_architecture_has_a_small_test_config():
    assert set(SMALL) == set(REGISTRY)


@pytest.mark.parametrize("arch, cfg", SR_CONFIGS)
def test_sr_forward_shapes(arch, cfg):
    model = build_model(arch, cfg)
    x = torch.rand(2, 3, 13, 17)
    for s in model.scales:
        fwd = getattr(model, "forward_scale", None)
        y = fwd(x, s) if fwd else model(x)
        assert y.shape == (2, 3, 13 * s, 17 * s)


@pytest.mark.parametrize("arch", [a for a in REGISTRY if any(True for _ in build_model(a, SMALL[a]).parameters())])
def test_backward_reaches_every_parameter(arch):
    model = build_model(arch, SMALL[arch])
    x = torch.rand(2, 3, 48, 48)
    out = model(x)
    out.float().square().mean().backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_safetensors_round_trip(arch, tmp_path):
    model = build_model(arch, SMALL[arch]).eval()
    path = save_checkpoint(tmp_path / "m.safetensors", model, arch, model.config)
    back = model_from_checkpoint(load_checkpoint(path)).eval()
    x = torch.rand(1, 3, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(back(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("scales", [(2,), (2, 4), (2, 3, 4), (3,), (4,)])
def test_rrgan_stage_configs(scales):
    m = RRGAN(RRGANConfig(channels=8, blocks=1, recursions=2, scales=scales))
    x = torch.rand(1, 3, 10, 11)
    outs = m.forward_all(x)
    assert list(outs) == list(scales)
    for s, y in outs.items():
        assert y.shape == (1, 3, 10 * s, 11 * s)
    # Stopping early gives the same intermediate output.
    torch.testing.assert_close(m.forward_scale(x, scales[0]), outs[scales[0]])


def test_rrgan_starts_near_bicubic_and_shares_weights():
    m = RRGAN(RRGANConfig(channels=8, blocks=1, recursions=5))
    a = RRGAN(RRGANConfig(channels=8, blocks=1, recursions=1))
    # Recursions share weights: the parameter count does not depend on them.
    assert sum(p.numel() for p in m.parameters()) == sum(p.numel() for p in a.parameters())
    with pytest.raises(ValueError):
        RRGAN(RRGANConfig(scales=(4, 2)))


def test_rrgan_grow_preserves_the_function_and_refuses_to_shrink():
    torch.manual_seed(0)
    m = RRGAN(RRGANConfig(channels=8, blocks=2, recursions=2)).eval()
    for p in m.parameters():  # away from the zero-ish init, so equality means something
        p.data.add_(0.05 * torch.randn_like(p))
    g = m.grow(RRGANConfig(channels=8, blocks=5, recursions=2)).eval()
    x = torch.rand(2, 3, 9, 11)
    with torch.no_grad():
        assert torch.equal(g(x), m(x))
    assert g.config.blocks == 5 and sum(p.numel() for p in g.parameters()) > sum(p.numel() for p in m.parameters())
    for other in (RRGANConfig(channels=8, blocks=1, recursions=2), RRGANConfig(channels=16, blocks=5, recursions=2)):
        with pytest.raises(ValueError, match="cannot grow"):
            m.grow(other)


def test_rrgan_grow_inserts_a_scale_that_starts_at_the_bicubic_of_the_stage_before():
    torch.manual_seed(0)
    m = RRGAN(RRGANConfig(channels=8, blocks=2, recursions=2, scales=(2, 4))).eval()
    for p in m.parameters():
        p.data.add_(0.05 * torch.randn_like(p))
    g = m.grow(RRGANConfig(channels=8, blocks=3, recursions=2, scales=(2, 3, 4))).eval()
    x = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        old, new = m.forward_all(x), g.forward_all(x)
    assert torch.equal(new[2], old[2])
    torch.testing.assert_close(new[3], imresize_torch(old[2], 1.5, size=(36, 30)), rtol=0, atol=1e-6)
    # x4 now enlarges x2 in two bicubic steps: close to the old output, not equal to it.
    assert 0 < (new[4] - old[4]).abs().mean() < 0.02
    assert torch.equal(g.tails[2].conv.weight, m.tails[1].conv.weight)
    with pytest.raises(ValueError, match="cannot grow"):
        g.grow(RRGANConfig(channels=8, blocks=3, recursions=2, scales=(2, 4)))


def test_rrgan_has_no_batch_norm():
    m = RRGAN(RRGANConfig())
    assert not any(isinstance(x, torch.nn.modules.batchnorm._BatchNorm) for x in m.modules())
    assert sum(p.numel() for p in m.parameters()) <= 1_500_000


def test_patchgan_outputs_a_map_of_patch_logits():
    d = build_model("patchgan", SMALL["patchgan"])
    logits, feats = d(torch.rand(2, 3, 192, 192), features=True)
    assert logits.shape == (2, 1, 12, 12)
    assert len(feats) == 5
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 6


@pytest.mark.parametrize("arch, cfg", [c for c in SR_CONFIGS if c.values[0] != "bicubic"])
def test_every_sr_architecture_exports_to_onnx(arch, cfg):
    pytest.importorskip("onnxruntime")
    import numpy as np

    from sisr.infer import Upscaler, describe

    torch.manual_seed(0)
    model = build_model(arch, cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.01)  # zero-initialised last layers would hide mistakes
    img = np.random.default_rng(0).random((14, 18, 3), dtype=np.float32)
    s = max(model.scales)
    a = Upscaler(arch, model, s, describe(arch, model), tile=0)(img)
    b = Upscaler(arch, model, s, describe(arch, model), tile=0, backend="onnx")(img)
    assert a.shape == (14 * s, 18 * s, 3)
    assert np.abs(a - b).max() < 1e-4


def test_srgan_discriminator_shapes_and_features():
    d = build_model("srgan_disc", SMALL["srgan_disc"])
    for size in (96, 64):
        logits, feats = d(torch.rand(2, 3, size, size), features=True)
        assert logits.shape == (2, 1) and len(feats) == 8
    assert sum(isinstance(m, torch.nn.Conv2d) for m in d.modules()) == 8


@pytest.mark.parametrize("arch", LUMA_ARCHS)
def test_a_luma_model_changes_luma_only_and_matches_its_rgb_form_on_gray(arch):
    from sisr.models.base import SRModel
    from sisr.resize import upscale_torch

    torch.manual_seed(0)
    rgb = build_model(arch, SMALL[arch]).eval()
    with torch.no_grad():
        for p in rgb.parameters():
            p.add_(torch.randn_like(p) * 0.05)  # zero-initialised last layers would hide mistakes
    lum = rgb.to_luma().eval()
    assert lum.config.luma and sum(p.numel() for p in lum.parameters()) < sum(p.numel() for p in rgb.parameters())
    gray = torch.rand(2, 1, 12, 10).expand(2, 3, 12, 10)
    colour = torch.rand(2, 3, 12, 10)
    with torch.no_grad():
        out = lum(gray)
        torch.testing.assert_close(out, out[:, :1].expand_as(out), rtol=0, atol=0)  # gray stays gray
        torch.testing.assert_close(out[:, :1], SRModel.luma(rgb(gray)), rtol=0, atol=1e-5)  # = the RGB model's Y
        change = lum(colour) - upscale_torch(colour, lum.config.scale)
    # the same change to R, G and B: Cb and Cr stay bicubic's, only the luma moves
    torch.testing.assert_close(change, change[:, :1].expand_as(change), rtol=0, atol=1e-6)
    assert change.abs().max() > 1e-3
    with pytest.raises(ValueError):
        build_model("srresnet", SMALL["srresnet"]).to_luma()


@pytest.mark.parametrize("arch", SR_ARCHS)
def test_start_as_keeps_the_model_converts_it_to_luma_or_refuses(arch):
    from dataclasses import replace

    m = build_model(arch, SMALL[arch])
    assert m.start_as(m.config) is m
    if arch in LUMA_ARCHS:
        assert m.start_as(replace(m.config, luma=True)).config == replace(m.config, luma=True)
    other = build_model(arch, {}).config  # the default size: not a luma conversion, and no model grows into it
    assert other != m.config
    for grow in (False, True):
        with pytest.raises(ValueError):
            m.start_as(other, grow=grow)


@pytest.mark.parametrize("arch", list(REGISTRY))
def test_a_size_of_zero_is_refused_in_one_line(arch):
    """Every whole-number setting of every architecture (channels, blocks, kernel sizes, scale) is
    a size or a count: 0 and below were a RuntimeError from torch, or a model of zero blocks."""
    import dataclasses

    from sisr.errors import SisrError

    config_cls = REGISTRY[arch][0]
    counts = {f.name: f.metadata.get("min", 0) for f in dataclasses.fields(config_cls) if f.type in (int, "int")}
    assert counts and min(counts.values()) >= 1, counts
    for name, low in counts.items():
        for bad in (0, -3):
            with pytest.raises(SisrError, match=f"^{arch} config: {name} must be at least {low}, got {bad}$"):
                build_model(arch, {**SMALL[arch], name: bad})
    if arch == "rrgan":
        for scales in ([], [4, 2]):  # the architecture's own check: a ValueError traceback before
            with pytest.raises(SisrError, match="^rrgan config: scales must be increasing"):
                build_model(arch, {**SMALL[arch], "scales": scales})
    if arch == "srcnn":  # an even kernel gave a result a pixel too large, then a shape error in training
        with pytest.raises(SisrError, match="^srcnn config: f1, f2, f3 must be odd, got 4, 5, 5$"):
            build_model(arch, {**SMALL[arch], "f1": 4, "f2": 5, "f3": 5})


def test_vdsr_serves_several_scales_with_one_network(tmp_path):
    from sisr.models.vdsr import VDSR, VDSRConfig

    one = VDSR(VDSRConfig(depth=4, channels=8)).eval()
    many = one.start_as(VDSRConfig(depth=4, channels=8, scales=(2, 3, 4)), grow=True).eval()
    x = torch.rand(1, 3, 10, 11)
    with torch.no_grad():
        torch.testing.assert_close(many(x), one(x), rtol=0, atol=0)  # the same weights: x4 unchanged
        assert {s: y.shape[-2:] for s, y in many.forward_all(x).items()} == {
            2: (20, 22),
            3: (30, 33),
            4: (40, 44),
        }
        assert list(many.forward_supervised(x)) == [2, 3, 4]  # the trainer's targets, one per scale
    back = model_from_checkpoint(
        load_checkpoint(save_checkpoint(tmp_path / "m.safetensors", many, "vdsr", many.config))
    )
    assert back.scales == (2, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(back.eval().forward_scale(x, 3), many.forward_scale(x, 3), rtol=0, atol=0)
    for bad in ((4, 2), (1, 4), (2, 3)):  # not increasing, below 2, not ending at scale
        with pytest.raises(ValueError, match="scales must be increasing integers >= 2 ending at scale 4"):
            VDSR(VDSRConfig(depth=4, channels=8, scales=bad))
    with pytest.raises(ValueError, match="only more scales"):
        many.grow(VDSRConfig(depth=4, channels=16, scales=(2, 3, 4)))
    with pytest.raises(ValueError, match="does not upscale x3"):
        one.forward_scale(x, 3)
