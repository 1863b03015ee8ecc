"""The photo upscaler: tiling, ensemble, formats, metadata, errors (issue: sisr upscale)."""

import io
import re
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sisr.api import upscale_data, upscale_file
from sisr.checkpoint import save_checkpoint
from sisr.errors import SisrError
from sisr.icc import profile_from_cicp
from sisr.infer import auto_tile, load_model, run_tiled, self_ensemble
from sisr.io import read_image, write_image
from sisr.models import build_model


@pytest.fixture(scope="module")
def rrgan_file(tmp_path_factory):
    """A small RR-GAN with random weights, saved like a trained one."""
    torch.manual_seed(0)
    model = build_model("rrgan", {"channels": 16, "blocks": 1, "recursions": 3})
    path = tmp_path_factory.mktemp("w") / "rr.safetensors"
    return save_checkpoint(path, model, "rrgan", model.config)


def test_tiled_equals_untiled(rrgan_file, photo):
    up = load_model(str(rrgan_file), tile=0)
    img = photo[:200, :180]
    full = up(img)
    up.tile, up.overlap = 64, 16
    tiled = up(img)
    assert tiled.shape == full.shape
    assert np.abs(tiled - full).max() <= 1 / 255


def test_blend_weights_sum_to_one_with_an_identity_like_model():
    # A model that copies nearest pixels: tiles agree exactly, so any weighting error would show.
    x = torch.rand(1, 3, 70, 45)

    def nearest(t):
        return t.repeat_interleave(2, -2).repeat_interleave(2, -1)

    out = run_tiled(nearest, x, 2, tile=16, overlap=8)
    torch.testing.assert_close(out, nearest(x))


def test_tiles_are_reported(rrgan_file, photo):
    up = load_model(str(rrgan_file), tile=32, overlap=8)
    seen = []
    up(photo[:70, :40], on_tile=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (6, 6)


def test_self_ensemble_of_an_equivariant_model_is_the_model():
    x = torch.rand(1, 3, 9, 13)

    def up2(t):
        return t.repeat_interleave(2, -2).repeat_interleave(2, -1)

    torch.testing.assert_close(self_ensemble(up2)(x), up2(x))


def test_ensemble_and_bf16_stay_close(rrgan_file, photo):
    img = photo[:48, :40]
    base = load_model(str(rrgan_file), tile=0)(img)
    ens = load_model(str(rrgan_file), tile=0, ensemble=True)(img)
    bf = load_model(str(rrgan_file), tile=0, precision="bf16")(img)
    assert ens.shape == base.shape == bf.shape
    assert np.abs(bf - base).mean() < 2 / 255


def test_auto_tile_follows_memory():
    m = build_model("rrgan", {})
    assert auto_tile(m, 4, memory=1 << 30) < auto_tile(m, 4, memory=16 << 30)
    assert 64 <= auto_tile(m, 4, memory=1) <= 1024
    # VDSR works at the output's size: a tile needs about 16x the memory per input pixel at x4.
    lr_space = auto_tile(build_model("rrgan", {}), 4, memory=4 << 30)
    hr_space = auto_tile(build_model("vdsr", {}), 4, memory=4 << 30)
    assert 3.0 < lr_space / hr_space < 5.0


def test_init_weights_of_another_arch_are_refused(tmp_path, photo):
    from .train_helpers import tiny_trainer

    other = build_model("srcnn", {"n1": 4, "n2": 4})
    init = save_checkpoint(tmp_path / "srcnn.safetensors", other, "srcnn", other.config)
    with pytest.raises(SisrError, match="a 'srcnn' model, but the recipe's arch is 'rrgan'"):
        tiny_trainer(tmp_path, photo, init=str(init))


def test_onnx_matches_torch(rrgan_file, photo):
    pytest.importorskip("onnxruntime")
    for s in (2, 4):
        a = load_model(str(rrgan_file), scale=s, tile=0)(photo[:30, :41])
        b = load_model(str(rrgan_file), scale=s, tile=0, backend="onnx")(photo[:30, :41])
        assert np.abs(a - b).max() < 1e-3


def test_export_cli(rrgan_file, tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "m.onnx"
    r = subprocess.run([sys.executable, "-m", "sisr", "export", "--model", str(rrgan_file), "-o", str(out)],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    import onnx

    onnx.checker.check_model(onnx.load(str(out)))


def test_an_exported_onnx_file_runs_as_a_model(rrgan_file, tmp_path, photo):
    """Given back as --model, sisr export's file was "not a safetensors file (pickled .pth/.pt files
    are not loaded...)"."""
    pytest.importorskip("onnxruntime")
    import onnx

    from sisr.checkpoint import load_checkpoint
    from sisr.errors import SisrError
    from sisr.export import export_onnx

    path = export_onnx(load_model(str(rrgan_file), scale=2), tmp_path / "m.onnx")
    up = load_model(str(path), tile=0)
    d = up.descriptor
    assert (up.scale, d.scales, d.backends, d.export, up.backend) == (2, (2,), ("onnx",), False, "onnx")
    assert d.description == f"the ONNX graph of {rrgan_file} at x2"
    img = photo[:30, :41]
    assert np.abs(up(img) - load_model(str(rrgan_file), scale=2, tile=0)(img)).max() < 1e-3
    assert np.abs(load_model(str(path), tile=16)(img) - up(img)).max() < 1e-3  # tiled as any model
    for options, said in (
        ({"backend": "torch"}, "--backend torch does not apply to .*m.onnx: it runs on onnx"),
        ({"precision": "bf16"}, "--precision bf16 does not apply to .*m.onnx"),
        ({"scale": 4}, "does not upscale x4 \\(it supports x2\\)"),
    ):
        with pytest.raises(SisrError, match=said):
            load_model(str(path), **options)
    with pytest.raises(SisrError, match="cannot be exported to ONNX \\(it is an ONNX graph already\\)"):
        export_onnx(up, tmp_path / "again.onnx")
    bare = onnx.load(str(path))
    del bare.metadata_props[:]  # an ONNX file from elsewhere
    onnx.save(bare, str(tmp_path / "other.onnx"))
    (tmp_path / "junk.onnx").write_bytes(b"not a graph")
    for name, said in (("other.onnx", "without sisr's metadata"), ("junk.onnx", "not an ONNX graph onnxruntime")):
        with pytest.raises(SisrError, match=said):
            load_model(str(tmp_path / name))
    with pytest.raises(SisrError, match="m.onnx: an ONNX graph \\(what sisr export writes\\), not sisr weights"):
        load_checkpoint(path)  # as a training run's init


# ---- formats and metadata -------------------------------------------------------------------------


def _roundtrip(tmp_path, src_name, pil_img, **save):
    src = tmp_path / src_name
    pil_img.save(src, **save)
    dst = tmp_path / ("out_" + src_name)
    upscale_file(src, dst, load_model("bicubic", scale=2))
    return Image.open(dst)


def test_rgba_keeps_an_upscaled_alpha(tmp_path, photo):
    alpha = np.zeros((40, 30), np.uint8)
    alpha[10:30, 5:25] = 255
    img = Image.fromarray(np.concatenate([photo[:40, :30], alpha[:, :, None]], axis=2), "RGBA")
    out = _roundtrip(tmp_path, "a.png", img)
    assert out.mode == "RGBA" and out.size == (60, 80)
    a = np.asarray(out)[:, :, 3]
    assert a[40, 30] == 255 and a[2, 2] == 0


def test_16bit_png_stays_16bit(tmp_path, rng):
    import png

    ramp = np.linspace(0, 65535, 64 * 48 * 3).reshape(48, 64 * 3).astype(np.uint16)
    src = tmp_path / "deep.png"
    with src.open("wb") as fh:
        png.Writer(64, 48, bitdepth=16, greyscale=False).write(fh, ramp)
    assert read_image(src).bits == 16
    dst = tmp_path / "deep_x2.png"
    upscale_file(src, dst, load_model("bicubic", scale=2))
    w, h, rows, meta = png.Reader(filename=str(dst)).asDirect()
    arr = np.vstack([np.asarray(r, np.uint16) for r in rows])
    assert meta["bitdepth"] == 16 and (w, h) == (128, 96)
    assert len(np.unique(arr)) > 256


def test_uint16_array_equals_16bit_png(tmp_path, rrgan_file):
    import png

    import sisr

    ramp = np.linspace(20000, 45000, 40 * 32 * 3).reshape(32, 40, 3).astype(np.uint16)
    src = tmp_path / "deep.png"
    with src.open("wb") as fh:
        png.Writer(40, 32, bitdepth=16, greyscale=False).write(fh, ramp.reshape(32, 120))
    from_png = sisr.upscale(src, model=str(rrgan_file), scale=2)
    from_api = sisr.upscale(ramp, model=str(rrgan_file), scale=2)
    from_model = load_model(str(rrgan_file), scale=2)(ramp)
    np.testing.assert_array_equal(from_api, from_png)
    np.testing.assert_array_equal(from_model, from_png)
    assert 0.3 < from_model.mean() < 0.7  # not read as floats and saturated


def test_16bit_gray_png_stays_16bit_gray(tmp_path):
    g = Image.fromarray(np.linspace(0, 65535, 40 * 30).reshape(30, 40).astype(np.uint16))
    out = _roundtrip(tmp_path, "g16.png", g)
    assert out.mode.startswith("I") and out.size == (80, 60)
    assert len(np.unique(np.asarray(out))) > 256


def test_gray_stays_gray(tmp_path, photo):
    out = _roundtrip(tmp_path, "g.png", Image.fromarray(photo[:30, :30, 0]))
    assert out.mode == "L" and out.size == (60, 60)


@pytest.mark.parametrize("mode", ["P", "1", "LA"])
def test_other_modes_are_converted(tmp_path, photo, mode):
    out = _roundtrip(tmp_path, "m.png", Image.fromarray(photo[:20, :24]).convert(mode))
    assert out.size == (48, 40)


def _cmyk_profile():
    """A print (CMYK) ICC profile from the system's colour folder (Debian's libgs-common has one;
    .ci/run installs it), or a skip."""
    from PIL import ImageCms

    for f in sorted(Path("/usr/share/color/icc").rglob("*.ic[cm]")):
        try:
            prof = ImageCms.getOpenProfile(str(f))
        except (ImageCms.PyCMSError, OSError):
            continue
        if prof.profile.xcolor_space.strip() == "CMYK":
            return prof
    pytest.skip("no CMYK ICC profile under /usr/share/color/icc (apt-get install libgs-common)")


def test_cmyk_is_colour_managed_through_its_profile(tmp_path, photo):
    from PIL import ImageCms

    cmyk_prof = _cmyk_profile()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
    rgb = Image.fromarray(photo[:40, :48])
    cmyk = ImageCms.profileToProfile(rgb, srgb, cmyk_prof, outputMode="CMYK")
    src = tmp_path / "print.jpg"
    cmyk.save(src, quality=98, icc_profile=cmyk_prof.tobytes())

    data = read_image(src)
    # The profile's round trip (its gamut is not sRGB's) is what a managed read gives, up to JPEG's loss.
    expected = np.asarray(ImageCms.profileToProfile(cmyk, cmyk_prof, srgb, outputMode="RGB"), np.float64)
    managed = np.abs(data.pixels * 255.0 - expected).mean()
    naive = np.abs(np.asarray(cmyk.convert("RGB"), np.float64) - expected).mean()
    assert managed < 2 and naive > 4 * managed, (managed, naive)
    carried = ImageCms.ImageCmsProfile(io.BytesIO(data.info["icc_profile"]))
    assert ImageCms.getProfileDescription(carried).startswith("sRGB")

    dst = tmp_path / "out.jpg"
    upscale_file(src, dst, load_model("bicubic", scale=2))
    with Image.open(dst) as out:
        assert out.mode == "RGB" and out.size == (96, 80)
        assert out.info["icc_profile"] == data.info["icc_profile"]
    # the same input gives the same file, whatever the clock says (a made profile has a date)
    time.sleep(1.1)
    upscale_file(src, tmp_path / "again.jpg", load_model("bicubic", scale=2))
    assert (tmp_path / "again.jpg").read_bytes() == dst.read_bytes()


def test_cmyk_without_a_usable_profile_warns(tmp_path, photo):
    cmyk = Image.fromarray(photo[:20, :24]).convert("CMYK")
    plain, broken = tmp_path / "plain.jpg", tmp_path / "broken.jpg"
    cmyk.save(plain)
    cmyk.save(broken, icc_profile=b"not a profile" * 20)
    for src, said in ((plain, "without a colour profile"), (broken, "profile is unusable")):
        with pytest.warns(UserWarning, match=said):
            data = read_image(src)
        assert "icc_profile" not in data.info
        with Image.open(src) as im:
            np.testing.assert_array_equal(np.round(data.pixels * 255), np.asarray(im.convert("RGB")))


def test_icc_and_exif_are_carried(tmp_path, photo):
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "sisr-test-camera"  # Make
    img = Image.fromarray(photo[:20, :20])
    for name in ("m.png", "m.jpg", "m.webp"):
        out = _roundtrip(tmp_path, name, img, icc_profile=icc, exif=exif.tobytes())
        assert out.info.get("icc_profile") == icc, name
        assert out.getexif().get(0x010F) == "sisr-test-camera", name


def test_icc_and_exif_in_16bit_png(tmp_path):
    import png

    icc = b"fake-icc-profile-bytes" * 4
    src = tmp_path / "d.png"
    buf = io.BytesIO()
    png.Writer(8, 6, bitdepth=16, greyscale=False).write(
        buf, np.arange(8 * 6 * 3, dtype=np.uint16).reshape(6, 24) * 900
    )
    im_data = read_image_bytes(buf.getvalue(), tmp_path)
    im_data.info = {"icc_profile": icc}
    write_image(src, im_data)
    out = Image.open(src)
    assert out.info.get("icc_profile") == icc


def read_image_bytes(data: bytes, tmp_path: Path, name: str = "tmp_in.png"):
    f = tmp_path / ("tmp_in" + Path(name).suffix)
    f.write_bytes(data)
    return read_image(f)


@pytest.mark.parametrize("name, bits", [("d.jpg", 8), ("d.png", 8), ("d.webp", 8), ("d.png", 16)])
def test_exif_pixel_dimensions_follow_the_output(tmp_path, photo, name, bits):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 30 wide x 20 high, shown 20 x 30
    sub = exif.get_ifd(0x8769)
    sub[0xA002], sub[0xA003] = 30, 20  # PixelXDimension, PixelYDimension as the camera wrote them
    sub[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal, carried unchanged
    img = Image.fromarray(photo[:20, :30])
    data = read_image_bytes(_saved(img, name, exif=exif.tobytes()), tmp_path, name)
    if bits == 16:
        data.bits = 16
    out_path = tmp_path / ("out_" + name)
    write_image(out_path, data)  # same size, upright
    out = Image.open(out_path)
    assert out.size == (20, 30)
    got = out.getexif().get_ifd(0x8769)
    assert (got[0xA002], got[0xA003]) == (20, 30)
    assert got[0x9003] == "2020:01:02 03:04:05"
    up = _roundtrip(tmp_path, "u.jpg", img, exif=exif.tobytes(), quality=95)  # through the model, x2
    got = up.getexif().get_ifd(0x8769)
    assert up.size == (40, 60) and (got[0xA002], got[0xA003]) == (40, 60)


def _saved(img, name, **save) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=Image.registered_extensions()[Path(name).suffix], **save)
    return buf.getvalue()


@pytest.mark.parametrize("out_name", ["t.tif", "t.png", "t.jpg"])
def test_a_tiffs_own_directory_is_not_carried_as_exif(tmp_path, photo, out_name):
    """A TIFF's tags describe its layout (size, bit depth, strips): copied into another file they
    lie about it, and TIFF output failed on them. Only what describes the picture carries over."""
    exif = Image.Exif()
    exif[0x010F] = "sisr-test-camera"  # Make
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal
    exif.get_ifd(0x8825)[1] = "N"  # GPSLatitudeRef
    Image.fromarray(photo[:20, :24]).save(tmp_path / "in.tif", exif=exif.tobytes())
    upscale_file(tmp_path / "in.tif", tmp_path / out_name, load_model("bicubic", scale=2))
    out = Image.open(tmp_path / out_name)
    got = out.getexif()
    assert out.size == (48, 40)
    assert got[0x010F] == "sisr-test-camera"
    assert got.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05" and got.get_ifd(0x8825)[1] == "N"
    if out.format != "TIFF":  # a TIFF writes its own layout tags, for its own size
        assert not {0x0100, 0x0101, 0x0102, 0x0111, 0x0117} & set(got), dict(got)


def _ramp16(h: int, w: int, c: int) -> np.ndarray:
    return (np.arange(h * w * c, dtype=np.float64).reshape(h, w, c) * 65535 / (h * w * c)).astype(np.uint16)


@pytest.mark.parametrize("planar", ["contig", "separate"])
@pytest.mark.parametrize("compression", [None, "zlib"])
@pytest.mark.parametrize("channels", [3, 4])
def test_16bit_colour_tiff_stays_16bit(tmp_path, channels, compression, planar):
    import tifffile

    arr = _ramp16(24, 32, channels)
    tifffile.imwrite(
        tmp_path / "in.tif",
        arr if planar == "contig" else np.moveaxis(arr, -1, 0),
        photometric="rgb",
        planarconfig=planar,
        extrasamples=["unassalpha"] if channels == 4 else None,
        compression=compression,
        iccprofile=profile_from_cicp(12, 13),
        extratags=[(0x010F, "s", 0, "sisr-test-camera", True)],
    )
    data = read_image(tmp_path / "in.tif")
    assert data.bits == 16 and (data.alpha is not None) == (channels == 4)
    np.testing.assert_array_equal(np.round(data.pixels * 65535).astype(np.uint16), arr[:, :, :3])
    upscale_file(tmp_path / "in.tif", tmp_path / "out.tif", load_model("bicubic", scale=2))
    with tifffile.TiffFile(tmp_path / "out.tif") as tf:
        page = tf.pages[0]
        out = page.asarray()
        assert page.iccprofile == profile_from_cicp(12, 13) and page.tags[0x010F].value == "sisr-test-camera"
    assert out.dtype == np.uint16 and out.shape == (48, 64, channels)
    assert len(np.unique(out[:, :, 0])) > 256  # not squeezed to 8 bits on the way
    upscale_file(tmp_path / "in.tif", tmp_path / "out.png", load_model("bicubic", scale=2))
    assert np.array_equal(read_image(tmp_path / "out.png").pixels, read_image(tmp_path / "out.tif").pixels)


@pytest.mark.parametrize("size", [(1, 1), (300, 2000)])  # one strip; several
def test_16bit_colour_tiff_output_keeps_exif_gps_and_icc(tmp_path, size):
    import tifffile

    from sisr.io import ImageData

    h, w = size
    rgba = np.random.default_rng(0).integers(0, 65536, (h, w, 4)).astype(np.uint16)
    exif = Image.Exif()
    exif[0x010F], exif[0x011A], exif[0x0128] = "sisr-test-camera", 300.0, 2  # Make, XResolution, inch
    sub = exif.get_ifd(0x8769)
    sub[0x9003], sub[0x829A], sub[0x9000] = "2020:01:02 03:04:05", 0.004, b"0231"  # date, exposure, version
    exif.get_ifd(0x8825)[1] = "N"
    data = ImageData(
        pixels=rgba[:, :, :3] / 65535.0,
        alpha=rgba[:, :, 3] / 65535.0,
        bits=16,
        info={"exif": exif.tobytes(), "icc_profile": b"fake-icc-profile" * 4},
    )
    write_image(tmp_path / "o.tif", data)
    with tifffile.TiffFile(tmp_path / "o.tif") as tf:
        np.testing.assert_array_equal(tf.pages[0].asarray(), rgba)
        assert tf.pages[0].iccprofile == b"fake-icc-profile" * 4
    got = Image.open(tmp_path / "o.tif").getexif()
    assert got[0x010F] == "sisr-test-camera" and got[0x011A] == 300.0
    assert got.get_ifd(0x8769)[0x9003] == "2020:01:02 03:04:05" and got.get_ifd(0x8769)[0x9000] == b"0231"
    assert got.get_ifd(0x8825)[1] == "N"


def test_16bit_gray_with_alpha_tiff_round_trips(tmp_path, monkeypatch):
    """Pillow cannot open these; sisr writes them (from 16-bit gray PNG with alpha) and reads them back."""
    import tifffile

    from sisr.io import ImageData

    ga = _ramp16(12, 10, 2)
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "sisr-test-camera", 6
    data = ImageData(ga[:, :, :1] / 65535.0, ga[:, :, 1] / 65535.0, 16, info={"exif": exif.tobytes()})
    data.info["icc_profile"] = profile_from_cicp(1, 1, gray=True)
    write_image(tmp_path / "o.tif", data)
    with tifffile.TiffFile(tmp_path / "o.tif") as tf:
        assert tf.pages[0].photometric == 1 and tf.pages[0].extrasamples == (2,)  # BlackIsZero, alpha
        np.testing.assert_array_equal(tf.pages[0].asarray(), ga)
    back = read_image(tmp_path / "o.tif")
    assert back.bits == 16 and back.info["icc_profile"] == profile_from_cicp(1, 1, gray=True)
    np.testing.assert_array_equal(np.round(back.pixels[:, :, 0] * 65535), np.rot90(ga[:, :, 0], -1))  # upright
    np.testing.assert_array_equal(np.round(back.alpha * 65535), np.rot90(ga[:, :, 1], -1))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 50)
    with pytest.raises(SisrError, match="over the limit"):
        read_image(tmp_path / "o.tif")


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_tiff_output_is_compressed_and_lossless(tmp_path, photo, bits, channels):
    import tifffile

    from sisr.io import ImageData

    img = photo[:48, :64].astype(np.float32) / 255.0
    pixels = img[:, :, :1] if channels < 3 else img
    alpha = img[:, :, 1] if channels in (2, 4) else None
    write_image(tmp_path / "o.tif", ImageData(pixels=pixels, alpha=alpha, bits=bits))
    back = read_image(tmp_path / "o.tif")
    assert back.bits == bits
    with tifffile.TiffFile(tmp_path / "o.tif") as tf:
        assert tf.pages[0].compression == 8  # deflate
    np.testing.assert_allclose(back.pixels, pixels, atol=1e-6)
    if alpha is not None:
        np.testing.assert_allclose(back.alpha, alpha, atol=1e-6)
    assert (tmp_path / "o.tif").stat().st_size < 48 * 64 * channels * bits // 8  # smaller than raw samples


def test_16bit_tiff_without_its_codec_is_read_at_8_bits_with_a_warning(tmp_path, monkeypatch, capsys):
    import tifffile

    from sisr.cli import main

    tifffile.imwrite(tmp_path / "in.tif", _ramp16(16, 16, 3), photometric="rgb", compression="zlib")

    def missing_codec(self, *args, **kwargs):
        raise ValueError("<COMPRESSION.LZW: 5> requires the 'imagecodecs' package")

    monkeypatch.setattr(tifffile.TiffPage, "asarray", missing_codec)
    with pytest.warns(UserWarning, match="read at 8 bits.*pip install imagecodecs"):
        data = read_image(tmp_path / "in.tif")
    assert data.bits == 8 and data.pixels.shape == (16, 16, 3)
    assert main(["upscale", str(tmp_path / "in.tif"), "-o", str(tmp_path / "o.png"), "--model", "bicubic"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [e for e in err if e.startswith("sisr: warning: ")] and len(err) == 1, err


def test_alpha_in_jpeg_output_is_flattened_onto_white_with_a_warning(tmp_path):
    from sisr.io import ImageData

    pixels = np.zeros((8, 8, 3), np.float32)  # black under the transparent half
    alpha = np.ones((8, 8), np.float32)
    alpha[:, 4:] = 0.0
    with pytest.warns(UserWarning, match="flattened onto white"):
        write_image(tmp_path / "o.jpg", ImageData(pixels, alpha))
    out = np.asarray(Image.open(tmp_path / "o.jpg"), np.float64)
    assert out[:, :3].max() < 20 and out[:, 5:].min() > 235  # opaque black kept, transparent white
    write_image(tmp_path / "opaque.jpg", ImageData(pixels, np.ones((8, 8), np.float32)))  # no warning


@pytest.mark.parametrize("out_name, bits", [("o.png", 8), ("o.jpg", 8), ("o.tif", 8), ("o.png", 16), ("o.tif", 16)])
def test_print_resolution_is_carried(tmp_path, photo, out_name, bits):
    Image.fromarray(photo[:20, :24]).save(tmp_path / "in.png", dpi=(300, 300))
    data = read_image(tmp_path / "in.png")
    assert data.info["dpi"] == (300.0, 300.0)
    data.bits = bits
    write_image(tmp_path / out_name, data)
    assert np.allclose(Image.open(tmp_path / out_name).info["dpi"], 300, atol=0.01)


def test_a_result_too_large_for_webp_is_refused_before_the_work(tmp_path, monkeypatch):
    import sisr.api

    Image.fromarray(np.zeros((4, 4100, 3), np.uint8)).save(tmp_path / "wide.png")
    monkeypatch.setattr(sisr.api, "upscale_data", lambda *a, **k: pytest.fail("upscaled before refusing"))
    with pytest.raises(SisrError, match=r"16400 x 16 is over WebP's limit of 16383"):
        upscale_file(tmp_path / "wide.png", tmp_path / "o.webp", load_model("bicubic", scale=4))
    with pytest.raises(SisrError, match=r"over WebP's limit"):  # a target width counts, not the model's scale
        upscale_file(tmp_path / "wide.png", tmp_path / "o.webp", load_model("bicubic", scale=2), size=(16400, None))
    assert not list(tmp_path.glob("o.*"))


def test_jpeg_output_keeps_full_chroma(tmp_path, photo):
    from PIL import JpegImagePlugin

    write_image(tmp_path / "c.jpg", photo[:32, :32])
    assert JpegImagePlugin.get_sampling(Image.open(tmp_path / "c.jpg")) == 0  # 4:4:4


def test_exif_orientation_is_applied_and_reset(tmp_path, photo):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    img = Image.fromarray(photo[:20, :30])
    out = _roundtrip(tmp_path, "o.jpg", img, exif=exif.tobytes(), quality=95)
    assert out.size == (40, 60)  # displayed upright: 20 wide x 30 high, doubled
    assert out.getexif().get(0x0112, 1) == 1


_XMP = (
    '<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF'
    ' xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about=""'
    ' xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/"'
    ' xmlns:exif="http://ns.adobe.com/exif/1.0/" tiff:Orientation="6" exif:PixelXDimension="30">'
    '<exif:PixelYDimension>20</exif:PixelYDimension><dc:rights><rdf:Alt><rdf:li xml:lang="x-default">'
    "\u00a9 Ad\u00e1 Lovelace</rdf:li></rdf:Alt></dc:rights></rdf:Description></rdf:RDF></x:xmpmeta>"
    '<?xpacket end="w"?>'
).encode()


def _with_xmp(img, path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # turned on display, as the XMP says too
    if path.suffix == ".png":
        from PIL import PngImagePlugin

        info = PngImagePlugin.PngInfo()
        info.add_itxt("XML:com.adobe.xmp", _XMP.decode())
        img.save(path, pnginfo=info, exif=exif.tobytes())
    elif path.suffix == ".tif":
        img.save(path, tiffinfo={700: _XMP, 0x0112: 6})
    else:
        img.save(path, xmp=_XMP, exif=exif.tobytes(), quality=95)


@pytest.mark.parametrize("src_name", ["x.jpg", "x.png", "x.webp", "x.tif"])
@pytest.mark.parametrize("out_name, bits", [("o.jpg", 8), ("o.png", 8), ("o.png", 16), ("o.webp", 8), ("o.tif", 16)])
def test_xmp_is_carried_with_orientation_and_size_updated(tmp_path, photo, src_name, out_name, bits):
    """A photographer's rights and credits (XMP, as Lightroom writes them) survive; the XMP's
    orientation and pixel size describe the written image, not the input."""
    src = tmp_path / src_name
    _with_xmp(Image.fromarray(photo[:20, :30]), src)
    data = upscale_data(read_image(src), load_model("bicubic", scale=2))
    data.bits = bits
    out = write_image(tmp_path / out_name, data)
    with Image.open(out) as im:
        assert im.size == (40, 60)  # upright, doubled
        xmp = im.info["xmp"]
    assert "\u00a9 Ad\u00e1 Lovelace".encode() in xmp
    # reset to 1 (Pillow's TIFF reader, which turns the pixels itself, removes it instead)
    assert re.findall(rb'tiff:Orientation(?:="|>)(\d)', xmp) in ([b"1"], [] if src_name == "x.tif" else [b"1"])
    assert b'exif:PixelXDimension="40"' in xmp and b"<exif:PixelYDimension>60</exif:PixelYDimension>" in xmp
    assert read_image(out).info["xmp"] == xmp  # and reads back as written


@pytest.mark.parametrize("bits", [8, 16])
def test_png_text_is_carried_png_to_png(tmp_path, photo, bits):
    """A PNG's text chunks (a title, a comment, the "parameters" a diffusion model wrote) survive
    into a PNG result, tEXt, zTXt and iTXt alike; ImageMagick's stale raw EXIF copy does not."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a cat in a hat, Steps: 20, Sampler: Euler a, Seed: 42")
    info.add_text("Comment", "long " * 400, zip=True)
    info.add_itxt("Title", "Katze mit Hut \u00fc", lang="de", tkey="Titel")
    info.add_text("Raw profile type exif", "\nexif\n      6\n457869660000\n")
    src = tmp_path / "gen.png"
    Image.fromarray(photo[:20, :24]).save(src, pnginfo=info)
    data = upscale_data(read_image(src), load_model("bicubic", scale=2))
    data.bits = bits
    with Image.open(write_image(tmp_path / "out.png", data)) as out:
        out.load()
        assert out.text["parameters"] == "a cat in a hat, Steps: 20, Sampler: Euler a, Seed: 42"
        assert out.text["Comment"] == "long " * 400
        title = out.text["Title"]
        assert title == "Katze mit Hut \u00fc" and (title.lang, title.tkey) == ("de", "Titel")
        assert "Raw profile type exif" not in out.text
    data.bits = 8  # JPEG's
    with Image.open(write_image(tmp_path / "out.jpg", data)) as out:
        assert "parameters" not in out.info  # JPEG has no text chunks
    data.bits = bits
    with Image.open(write_image(tmp_path / "bare.png", data.without_metadata())) as out:
        out.load()
        assert not out.text


def _photo_with_camera_data(photo, path: Path) -> bytes:
    """A JPEG as a phone writes it: GPS position, camera, XMP credits and a colour profile."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "sisr-test-phone"  # Make
    exif.get_ifd(0x8825)[2] = (51.0, 28.0, 40.0)  # GPSLatitude
    Image.fromarray(photo[:20, :24]).save(path, exif=exif.tobytes(), xmp=_XMP, icc_profile=icc, dpi=(300, 300))
    return icc


def test_strip_metadata_keeps_the_colour_profile_only(tmp_path, photo):
    from sisr.api import upscale_folder

    src = tmp_path / "in" / "phone.jpg"
    src.parent.mkdir()
    icc = _photo_with_camera_data(photo, src)
    kept, stripped = tmp_path / "kept.jpg", tmp_path / "stripped.jpg"
    upscale_file(src, kept, load_model("bicubic", scale=2))
    upscale_file(src, stripped, load_model("bicubic", scale=2), strip_metadata=True)
    with Image.open(kept) as a, Image.open(stripped) as b:
        assert a.getexif().get_ifd(0x8825) and "xmp" in a.info  # carried by default
        assert not b.getexif() and "xmp" not in b.info and "exif" not in b.info
        assert b.info["icc_profile"] == icc and b.info["dpi"] == (300, 300)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the CLI and the batch API, into each format
    for fmt in ("png", "webp", "tiff"):
        r = _cli(
            "upscale",
            src,
            "-o",
            tmp_path / "cli",
            "--model",
            "bicubic",
            "--scale",
            "2",
            "--format",
            fmt,
            "--strip-metadata",
            "--quiet",
        )
        assert r.returncode == 0, r.stderr
        with Image.open(tmp_path / "cli" / f"phone_x2.{fmt}") as im:
            assert not im.getexif().get_ifd(0x8825) and im.getexif().get(0x010F) is None and "xmp" not in im.info
            assert im.info["icc_profile"] == icc
    (done,) = upscale_folder(src.parent, tmp_path / "api", "bicubic", 2, strip_metadata=True)
    with Image.open(done.dst) as im:
        assert not done.error and not im.getexif() and im.info["icc_profile"] == icc


def test_xmp_over_jpegs_limit_is_left_out_with_a_warning(tmp_path, photo):
    data = read_image_bytes(_saved(Image.fromarray(photo[:20, :20]), "p.png"), tmp_path, "p.png")
    data.info["xmp"] = _XMP.replace(b"Lovelace", b"L" * 70000)
    with pytest.warns(UserWarning, match="XMP metadata .* left out"):
        out = write_image(tmp_path / "big.jpg", data)
    with Image.open(out) as im:
        assert "xmp" not in im.info and im.size == (20, 20)
    write_image(tmp_path / "big.png", data)  # PNG has no such limit
    assert b"L" * 70000 in read_image(tmp_path / "big.png").info["xmp"]


# IPTC-IIM datasets: 0x1C, record 2, dataset (120 caption, 116 copyright, 25 keyword), 2-byte length
_IPTC = b"".join(
    b"\x1c\x02" + bytes([n]) + len(v).to_bytes(2, "big") + v
    for n, v in ((120, "Caf\u00e9 at dawn".encode()), (116, b"(c) Ada Lovelace"), (25, b"harbour"), (25, b"fog"))
)


def _photoshop_app13(resources: dict[int, bytes]) -> bytes:
    """An APP13 segment as Photoshop writes it: "Photoshop 3.0", then 8BIM resources."""
    body = b"Photoshop 3.0\x00"
    for rid, data in resources.items():
        body += b"8BIM" + rid.to_bytes(2, "big") + b"\x00\x00" + len(data).to_bytes(4, "big") + data
        body += b"\x00" * (len(data) & 1)
    return b"\xff\xed" + (len(body) + 2).to_bytes(2, "big") + body


def _captioned_jpeg(photo, path: Path) -> None:
    """A JPEG with an IPTC block, a thumbnail resource beside it (0x040C) and a comment, NUL-ended
    as some encoders write it (PNG text may not hold a NUL)."""
    thumb = _saved(Image.fromarray(photo[:8, :8]), "t.jpg")
    app13 = _photoshop_app13({0x0404: _IPTC, 0x040C: thumb})
    Image.fromarray(photo[:20, :24]).save(path, comment=b"Scanned at the archive\x00", extra=app13)  # a C string


def _keywords(im) -> tuple:
    from PIL import IptcImagePlugin  # Pillow's reader: not sisr's

    got = IptcImagePlugin.getiptcinfo(im) or {}
    return got.get((2, 120)), got.get((2, 116)), got.get((2, 25))


@pytest.mark.parametrize("out_name", ["c.jpg", "c.tif", "c.png", "c.gif", "c.webp"])
def test_iptc_and_comment_are_carried(tmp_path, photo, out_name):
    """Captions, credits and keywords that agencies and older editors keep in IPTC-IIM, and a
    JPEG comment, go where the output format holds them; the small image's thumbnail does not."""
    src, dst = tmp_path / "in.jpg", tmp_path / out_name
    _captioned_jpeg(photo, src)
    upscale_file(src, dst, load_model("bicubic", scale=2))
    with Image.open(dst) as im:
        assert im.size == (48, 40)
        if im.format in ("JPEG", "TIFF"):
            assert _keywords(im) == ("Caf\u00e9 at dawn".encode(), b"(c) Ada Lovelace", [b"harbour", b"fog"])
        if im.format == "JPEG":
            assert set(im.info["photoshop"]) == {0x0404}  # no stale thumbnail
        comment = {"JPEG": im.info.get("comment"), "GIF": im.info.get("comment"), "PNG": im.info.get("Comment")}
        if im.format in comment:
            assert comment[im.format] in (b"Scanned at the archive", "Scanned at the archive")
    stripped = tmp_path / ("s" + Path(out_name).suffix)
    upscale_file(src, stripped, load_model("bicubic", scale=2), strip_metadata=True)
    with Image.open(stripped) as im:
        assert _keywords(im) == (None, None, None)
        assert not {"comment", "Comment", "photoshop"} & set(im.info)


def _as_photoshop_types_it(tif: bytes) -> bytes:
    """The file with its IPTC tag (33723) typed LONG, count in 4-byte units, as Photoshop writes it."""
    buf = bytearray(tif)
    ifd = int.from_bytes(buf[4:8], "little")
    for i in range(int.from_bytes(buf[ifd : ifd + 2], "little")):
        e = ifd + 2 + 12 * i
        if int.from_bytes(buf[e : e + 2], "little") == 33723:
            count = int.from_bytes(buf[e + 4 : e + 8], "little")
            assert count % 4 == 0
            buf[e + 2 : e + 4], buf[e + 4 : e + 8] = (4).to_bytes(2, "little"), (count // 4).to_bytes(4, "little")
            return bytes(buf)
    raise AssertionError("no IPTC tag written")


@pytest.mark.parametrize("bits", [8, 16])
def test_iptc_typed_long_in_a_tiff_is_carried_whole(tmp_path, photo, bits):
    from PIL import TiffImagePlugin

    iptc = _IPTC + b"\x00" * (-len(_IPTC) % 4)  # Photoshop pads it to whole LONGs
    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[33723] = iptc
    img = Image.fromarray(photo[:20, :24])
    if bits == 16:  # Pillow reads 16-bit colour at 8 bits; sisr reads it with tifffile
        data = read_image_bytes(_saved(img, "p.png"), tmp_path, "p.png")
        data.pixels = data.pixels.copy()
        data.bits = 16
        data.info["iptc"] = iptc
        write_image(tmp_path / "w.tif", data)
        raw = (tmp_path / "w.tif").read_bytes()
    else:
        raw = _saved(img, "p.tif", tiffinfo=ifd)
    src = tmp_path / "ps.tif"
    src.write_bytes(_as_photoshop_types_it(raw))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's own "too many entries" for that tag
        with Image.open(src) as im:
            assert isinstance(im.tag_v2.get(33723), int)  # what Pillow's tag reader makes of it
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="Metadata Warning")  # nor does the user see it
        warnings.filterwarnings("ignore", message=".*written at 8")  # the 16-bit page, as JPEG holds it
        dst = upscale_file(src, tmp_path / "out.jpg", load_model("bicubic", scale=2))
    with Image.open(dst) as im:
        assert _keywords(im) == ("Caf\u00e9 at dawn".encode(), b"(c) Ada Lovelace", [b"harbour", b"fog"])


def test_iptc_only_in_a_tiffs_photoshop_block_is_carried(tmp_path, photo):
    from PIL import TiffImagePlugin

    ifd = TiffImagePlugin.ImageFileDirectory_v2()
    ifd[34377] = _photoshop_app13({0x03ED: bytes(16), 0x0404: _IPTC})[18:]  # the resources, after APP13's header
    src = tmp_path / "ps.tif"
    src.write_bytes(_saved(Image.fromarray(photo[:20, :24]), "p.tif", tiffinfo=ifd))
    with Image.open(upscale_file(src, tmp_path / "out.jpg", load_model("bicubic", scale=2))) as im:
        assert _keywords(im) == ("Caf\u00e9 at dawn".encode(), b"(c) Ada Lovelace", [b"harbour", b"fog"])


def test_iptc_and_comment_over_jpegs_limits_are_left_out_with_a_warning(tmp_path, photo):
    data = read_image_bytes(_saved(Image.fromarray(photo[:20, :20]), "p.png"), tmp_path, "p.png")
    data.info["iptc"] = b"\x1c\x02\x78\x80\x04" + (70000).to_bytes(4, "big") + b"c" * 70000  # extended length
    data.info["comment"] = b"k" * 70000  # a GIF's comment may be that long
    with pytest.warns(UserWarning) as seen:
        out = write_image(tmp_path / "big.jpg", data)
    assert {str(w.message).split(": its ")[1].split(" (")[0] for w in seen} == {"IPTC metadata", "comment"}
    with Image.open(out) as im:
        assert "photoshop" not in im.info and "comment" not in im.info and im.size == (20, 20)
    write_image(tmp_path / "big.tif", data)  # TIFF has no such limit
    assert read_image(tmp_path / "big.tif").info["iptc"] == data.info["iptc"]


def test_decompression_bomb_guard(tmp_path, monkeypatch):
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(SisrError, match="max-pixels"):
        read_image(tmp_path / "big.png")


# ---- errors ---------------------------------------------------------------------------------------


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "sisr", *map(str, args)], capture_output=True, text=True)


def test_batch_skips_bad_files_and_exits_1(tmp_path, photo):
    d = tmp_path / "in"
    d.mkdir()
    write_image(d / "good.png", photo[:20, :20])
    (d / "bad.png").write_bytes(b"garbage")
    (d / "empty.jpg").write_bytes(b"")
    r = _cli("upscale", d, "-o", tmp_path / "out", "--model", "bicubic", "--scale", "2", "--quiet")
    assert r.returncode == 1
    assert "bad.png" in r.stderr and "empty.jpg" in r.stderr and "Traceback" not in r.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_x2.png"]


@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda p: p.write_bytes(b"\x80\x04pickle"), "not a safetensors file"),
        (lambda p: p.write_text("x"), "not a safetensors file"),
    ],
)
def test_bad_weights_files(tmp_path, photo, make, needle):
    w = tmp_path / "w.safetensors"
    make(w)
    write_image(tmp_path / "i.png", photo[:8, :8])
    r = _cli("upscale", tmp_path / "i.png", "-o", tmp_path / "o.png", "--model", w)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o.png").exists()


def test_unwritable_output(tmp_path, photo):
    write_image(tmp_path / "i.png", photo[:8, :8])
    blocker = tmp_path / "file"
    blocker.write_text("")
    r = _cli("upscale", tmp_path / "i.png", "-o", blocker / "o.png", "--model", "bicubic")
    assert r.returncode == 2 and "cannot write" in r.stderr and "Traceback" not in r.stderr


def test_unknown_model_cli(tmp_path, photo):
    write_image(tmp_path / "i.png", photo[:8, :8])
    r = _cli("upscale", tmp_path / "i.png", "-o", tmp_path / "o.png", "--model", "nope")
    assert r.returncode == 2 and "unknown model 'nope'" in r.stderr and "did you mean" not in r.stderr


@pytest.mark.parametrize("typed, meant", [("rrgan4", "rrgan-x4"), ("SRCNN", "srcnn"), ("dr-singan", "drsingan")])
def test_a_mistyped_model_name_gets_the_closest_one(typed, meant):
    from sisr.infer import load_model

    with pytest.raises(SisrError, match=f"unknown model '{typed}' \\(did you mean '{meant}'\\? known: bicubic, "):
        load_model(typed)


def _png_bytes(photo) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo[:16, :16]).save(buf, format="PNG")
    return buf.getvalue()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzz_corrupt_files_give_one_line_errors(tmp_path_factory, photo, data):
    good = _png_bytes(photo)
    kind = data.draw(st.sampled_from(["random", "truncate", "flip"]))
    if kind == "random":
        blob = data.draw(st.binary(max_size=300))
    elif kind == "truncate":
        blob = good[: data.draw(st.integers(0, len(good) - 1))]
    else:
        pos = data.draw(st.integers(8, len(good) - 1))
        blob = good[:pos] + bytes([good[pos] ^ data.draw(st.integers(1, 255))]) + good[pos + 1 :]
    d = tmp_path_factory.mktemp("fz")
    src, dst = d / "in.png", d / "out.png"
    src.write_bytes(blob)
    up = load_model("bicubic", scale=2)
    try:
        upscale_file(src, dst, up)
    except SisrError as e:
        assert "\n" not in str(e) and str(src) in str(e)
        assert not dst.exists()
    assert not list(d.glob("*.part"))


def test_cli_fuzz_sample_exits_2_without_traceback(tmp_path, photo):
    good = _png_bytes(photo)
    for i, blob in enumerate([good[:40], good[: len(good) // 2], b"\x89PNG\r\n\x1a\n", b"GIF89a" + b"\x00" * 30]):
        src = tmp_path / f"c{i}.png"
        src.write_bytes(blob)
        r = _cli("upscale", src, "-o", tmp_path / f"o{i}.png", "--model", "bicubic")
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
        assert not (tmp_path / f"o{i}.png").exists()


@pytest.mark.parametrize("fmt", ["TIFF", "JPEG", "GIF", "WEBP", "BMP"])
def test_a_file_cut_short_is_one_line_with_no_warnings_before_it(tmp_path, photo, fmt):
    # A TIFF cut before its first directory made Pillow warn twice of corrupt EXIF and tifffile log
    # a line before the error.
    buf = io.BytesIO()
    frames = [Image.fromarray(np.roll(photo[:40, :48], 5 * i, 1)) for i in range(3)]
    kw = {"compression": "tiff_lzw"} if fmt == "TIFF" else {}  # its directory after the pixels: cut off
    frames[0].save(buf, format=fmt, save_all=fmt == "GIF", append_images=frames[1:] if fmt == "GIF" else [], **kw)
    src = tmp_path / f"cut.{fmt.lower()}"
    src.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    r = _cli("upscale", src, "-o", tmp_path / "o.png", "--model", "bicubic", "--scale", "2")
    assert r.returncode == 2 and r.stderr.startswith(f"sisr: error: {src}: "), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o.png").exists()


def test_a_warning_of_a_file_that_reads_names_it_once(tmp_path, photo):
    exif = b"Exif\x00\x00II*\x00" + struct.pack("<IH", 8, 5) + b"\x0f\x01\x02\x00"  # 5 entries promised
    Image.fromarray(photo[:16, :16]).save(tmp_path / "e.jpg", exif=exif)
    r = _cli("upscale", tmp_path / "e.jpg", "-o", tmp_path / "o.png", "--model", "bicubic", "--scale", "2", "--quiet")
    said = [line for line in r.stderr.splitlines() if "warning" in line]
    assert r.returncode == 0 and said == [
        f"sisr: warning: {tmp_path / 'e.jpg'}: Corrupt EXIF data. Expecting to read 12 bytes but only got 4."
    ], r.stderr


def test_an_unexpected_error_in_a_batch_costs_only_that_file(tmp_path, photo, monkeypatch, capsys):
    import sisr.api
    from sisr.cli import main

    d = tmp_path / "in"
    d.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        write_image(d / name, photo[:16, :16])
    real = sisr.api.upscale_data

    def flaky(data, up, on_tile=None, memo=None):
        if data.pixels.shape[0] == 16 and not hasattr(flaky, "done"):
            flaky.done = True
            raise RuntimeError("a bug\nwith a second line")
        return real(data, up, on_tile=on_tile, memo=memo)

    monkeypatch.setattr(sisr.api, "upscale_data", flaky)
    code = main(["upscale", str(d), "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2", "--quiet"])
    err = capsys.readouterr().err
    assert code == 1
    assert "unexpected RuntimeError: a bug" in err and "second line" not in err
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_fp32_on_a_gpu_turns_tf32_off_and_back():
    # cuDNN's default TF32 convolutions keep 10 mantissa bits: "fp32" there must mean IEEE fp32.
    from sisr.precision import autocast

    flags = torch.backends.cudnn, torch.backends.cuda.matmul
    before = [f.allow_tf32 for f in flags]
    assert torch.backends.cudnn.allow_tf32  # torch's default, the case that matters
    with autocast("fp32", "cuda"):
        assert not any(f.allow_tf32 for f in flags)
    with autocast("fp32", "cpu"):
        assert [f.allow_tf32 for f in flags] == before
    assert [f.allow_tf32 for f in flags] == before


@pytest.mark.parametrize("name", ["m.txt", "m", "folder"])
def test_export_refuses_a_target_that_is_not_an_onnx_file(name, tmp_path, capsys):
    from sisr.cli import main

    (tmp_path / "folder").mkdir()
    out = tmp_path / name
    for extra in ([], ["--overwrite"]):
        assert main(["export", "--model", "srcnn", "-o", str(out), *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and ("name it m.onnx" in err or "is a folder" in err), err
    assert not (tmp_path / "m.txt").exists() and not (tmp_path / "m").exists() and (tmp_path / "folder").is_dir()
