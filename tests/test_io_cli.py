import io
import struct
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import sisr
from sisr.api import upscale_file
from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.io import read_image, read_rgb, write_image


def test_import_sisr_is_light():
    code = "import sys, sisr; print('torch' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_public_api():
    assert set(sisr.__all__) >= {"upscale", "upscale_file", "load_model", "list_models", "psnr", "ssim"}
    assert all(callable(getattr(sisr, name)) for name in sisr.__all__ if name != "__version__")
    assert "bicubic" in sisr.list_models()
    assert sisr.SisrError is SisrError  # what a caller catches, without knowing the module it lives in
    with pytest.raises(sisr.SisrError, match="unknown model"):
        sisr.load_model("no-such-model")


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_unreadable_files_give_one_clear_error(tmp_path, content):
    f = tmp_path / "bad.png"
    f.write_bytes(content)
    with pytest.raises(SisrError, match="bad.png"):
        read_image(f)


def test_truncated_png(tmp_path, photo):
    f = tmp_path / "t.png"
    write_image(f, photo)
    data = f.read_bytes()
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(SisrError, match="t.png"):
        read_image(f)


@pytest.mark.parametrize("fmt", ["png", "jpg", "gif"])
def test_a_truncated_file_or_animation_is_called_truncated(tmp_path, photo, capsys, fmt):
    from sisr.cli import main

    frames = [Image.fromarray(photo[:48, :64]), Image.fromarray(photo[48:96, :64][::-1])]
    f, out = tmp_path / f"t.{fmt}", tmp_path / f"out.{fmt}"
    if fmt == "gif":  # cut inside the second frame's header: Pillow's GIF reader raised IndexError there
        frames[0].save(f, save_all=True, append_images=frames[1:])
        with Image.open(f) as im:
            im.seek(1)
            cut = im.tile[0][2] - 3
    else:
        frames[0].save(f)
        cut = f.stat().st_size * 2 // 3
    f.write_bytes(f.read_bytes()[:cut])
    assert main(["upscale", str(f), "-o", str(out), "--model", "bicubic"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "t." + fmt + ": cannot decode image: the file is truncated or damaged" in err, err
    assert not out.exists()


def _raw_like_tiff(f: Path, photo, **tags) -> None:
    """A TIFF with a camera raw's tags: what Pillow reads of a DNG or a NEF (its small preview)."""
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    ifd = ImageFileDirectory_v2()
    for tag, value in tags.items():
        ifd[int(tag[1:])] = value
    Image.fromarray(photo[:24, :32]).save(f, format="TIFF", tiffinfo=ifd)


@pytest.mark.parametrize(
    ("name", "tags"),
    [
        ("shot.DNG", {}),  # by its name
        ("shot.cr3", {}),
        ("shot.tif", {"t50706": b"\x01\x04\x00\x00"}),  # DNGVersion
        ("shot.tif", {"t254": 1, "t330": 8}),  # a reduced-resolution preview, the picture in a SubIFD
    ],
)
def test_a_camera_raw_file_is_refused_not_its_preview_upscaled(tmp_path, photo, capsys, name, tags):
    from sisr.cli import main

    f, out = tmp_path / name, tmp_path / "out.png"
    _raw_like_tiff(f, photo, **tags)
    with pytest.raises(SisrError, match="a camera raw file, which sisr does not develop"):
        read_image(f)
    for extra in ([], ["--dry-run"]):
        assert main(["upscale", str(f), "-o", str(out), "--model", "bicubic", *extra]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "camera raw" in err, err
    assert not out.exists()


def test_a_canon_cr2_header_is_refused_under_any_name(tmp_path, photo):
    f = tmp_path / "IMG_1.tif"
    _raw_like_tiff(f, photo, t254=1)
    assert read_image(f).pixels.shape[:2] == (24, 32)  # a reduced-resolution flag alone: a plain TIFF
    data = f.read_bytes()
    (first,) = struct.unpack("<I", data[4:8])
    (entries,) = struct.unpack("<H", data[first : first + 2])
    # Move the first directory to the end (its values' offsets stay good), to make room for the
    # marker a CR2 has at byte 8.
    ifd = data[first : first + 2 + 12 * entries + 4]
    f.write_bytes(data[:4] + struct.pack("<I", len(data)) + b"CR\x02\x00" + data[12:] + ifd)
    with pytest.raises(SisrError, match="camera raw"):
        read_image(f)


@pytest.mark.parametrize("fmt", ["gif", "png", "webp", "tiff"])
def test_an_image_of_several_frames_is_refused_not_cut_to_its_first(tmp_path, photo, fmt):
    from PIL import Image

    frames = [Image.fromarray(photo[:32, :40]), Image.fromarray(photo[40:72, :40])]
    f = tmp_path / f"anim.{fmt}"
    frames[0].save(f, save_all=True, append_images=frames[1:])
    with pytest.raises(SisrError, match=r"anim\.\w+: 2 frames"):
        read_image(f)
    frames[0].save(f)  # one frame: an ordinary image
    assert read_image(f).pixels.shape[:2] == (32, 40)


def test_a_tiff_with_a_thumbnail_reads_as_its_picture(tmp_path, photo):
    import tifffile

    with tifffile.TiffWriter(tmp_path / "scan.tif") as tw:
        tw.write(photo[:40, :48], photometric="rgb")
        tw.write(photo[:40:4, :48:4], photometric="rgb", subfiletype=1)  # reduced-resolution copy
        tw.write(photo[40:80, :48], photometric="rgb")  # a second page
    with pytest.raises(SisrError, match="2 frames"):
        read_image(tmp_path / "scan.tif")
    with tifffile.TiffWriter(tmp_path / "one.tif") as tw:
        tw.write(photo[:40, :48], photometric="rgb")
        tw.write(photo[:40:4, :48:4], photometric="rgb", subfiletype=1)
    np.testing.assert_array_equal(read_rgb(tmp_path / "one.tif"), photo[:40, :48])


def test_a_camera_mpo_reads_as_its_first_picture(tmp_path, photo):
    from PIL import Image

    f = tmp_path / "camera.jpg"
    Image.fromarray(photo[:32, :40]).save(f, "MPO", save_all=True, append_images=[Image.fromarray(photo[:16, :20])])
    assert Image.open(f).format == "MPO" and read_image(f).pixels.shape[:2] == (32, 40)


def test_write_read_round_trip_rgb_and_gray(tmp_path, photo):
    write_image(tmp_path / "c.png", photo)
    np.testing.assert_array_equal(read_rgb(tmp_path / "c.png"), photo)
    g = photo[..., 1]
    write_image(tmp_path / "g.png", g)
    d = read_image(tmp_path / "g.png")
    assert d.pixels.shape[2] == 1 and d.mode == "L"


def test_write_refuses_to_overwrite_and_leaves_no_partial(tmp_path, photo):
    f = tmp_path / "x.png"
    write_image(f, photo)
    with pytest.raises(SisrError, match="exists"):
        write_image(f, photo, overwrite=False)
    with pytest.raises(SisrError, match="unknown output format '.xyz' \\(use one of .png"):
        write_image(tmp_path / "x.xyz", photo)
    with pytest.raises(SisrError, match="unknown output format '.jgp' \\(did you mean '.jpg'\\? use one of"):
        write_image(tmp_path / "x.jgp", photo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_upscale_api_keeps_gray_and_alpha(photo):
    gray = photo[:32, :40, 0]
    out = sisr.upscale(gray, model="bicubic", scale=2)
    assert out.shape == (64, 80, 1)
    rgba = np.concatenate([photo[:16, :16], np.full((16, 16, 1), 128, np.uint8)], axis=2)
    out = sisr.upscale(rgba, model="bicubic", scale=4)
    assert out.shape == (64, 64, 4)
    np.testing.assert_allclose(out[..., 3], 128 / 255, atol=1e-6)
    gray_alpha = rgba[:, :, 2:]  # H x W x 2: gray and alpha, as an LA file reads (it was refused)
    out = sisr.upscale(gray_alpha, model="bicubic", scale=2)
    assert out.shape == (32, 32, 2)
    np.testing.assert_allclose(out[..., 1], 128 / 255, atol=1e-6)


def test_upscale_api_says_when_it_clips_float_values():
    """A float array of 0-255 (cast, never divided) came back white without a word."""
    rng = np.random.default_rng(3)
    levels = rng.random((8, 8, 3)).astype(np.float32) * 255
    with pytest.warns(UserWarning, match=r"image: float values from [\d.]+ to [\d.]+, where 0 is black and 1 white"):
        sisr.upscale(levels, model="bicubic", scale=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in [0, 1], and integers: nothing to say
        sisr.upscale(levels / 255, model="bicubic", scale=2)
        sisr.upscale(levels.astype(np.uint8), model="bicubic", scale=2)


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((0, 0, 3), np.uint8), "an empty image (0 x 0 pixels)"),  # was a ValueError from the resize
        (Image.new("RGB", (0, 5)), "an empty image (0 x 5 pixels)"),
        (np.full((8, 8, 3), np.nan, np.float32), "NaN or infinite"),  # was a NaN result, without a word
        (np.full((8, 8), np.inf), "NaN or infinite"),
        (np.zeros((8, 8, 5), np.uint8), "got shape (8, 8, 5)"),
        (np.zeros((3, 8, 9), np.float32), "got shape (3, 8, 9) (channels first? give H x W x C"),
        (np.zeros((1, 8, 9, 3), np.uint8), "got shape (1, 8, 9, 3) (a batch of one? give arr[0])"),
        (np.full((8, 8, 3), 200, np.int64), "got int64 (its values lie in 0-200: arr.astype(np.uint8))"),
        (np.full((8, 8), 4000, np.int32), "got int32 (its values lie in 0-4000: arr.astype(np.uint16))"),
        (np.full((8, 8), -1, np.int16), "got int16"),
        (b"not an image", "image: not a readable image"),
        (torch.zeros(2, 3, 8, 8), "expected one image, got a batch of 2"),
        (torch.zeros(8, 9, 3), "C x H x W tensor (C: 1 to 4), got shape (8, 9, 3) (channels last? t.permute(2, 0, 1))"),
    ],
)
def test_upscale_api_refuses_what_is_not_an_image_in_one_line(image, message):
    with pytest.raises(SisrError) as e:
        sisr.upscale(image, model="bicubic", scale=2)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_upscale_api_takes_encoded_files_bool_masks_and_tensors(tmp_path, photo):
    """A file's bytes, an open file, a bool array and torch tensors were refused or tracebacks (a
    tensor has ``mode`` and ``size``, so it was taken for a PIL image)."""
    img = photo[:12, :16]
    want = sisr.upscale(img, model="bicubic", scale=2)
    write_image(tmp_path / "a.png", (img.astype(np.uint16) * 257))  # 16 bits, kept through the bytes
    from_bytes = sisr.upscale((tmp_path / "a.png").read_bytes(), model="bicubic", scale=2)
    with (tmp_path / "a.png").open("rb") as fh:
        from_file = sisr.upscale(fh, model="bicubic", scale=2)
    np.testing.assert_allclose(from_bytes, want, atol=1e-6)
    np.testing.assert_array_equal(from_file, from_bytes)
    mask = img[:, :, 0] > 128
    np.testing.assert_array_equal(
        sisr.upscale(mask, model="bicubic", scale=2), sisr.upscale(Image.fromarray(mask), model="bicubic", scale=2)
    )
    chw = torch.from_numpy(img).permute(2, 0, 1)  # uint8, as torchvision reads files
    out = sisr.upscale(chw, model="bicubic", scale=2)
    assert isinstance(out, torch.Tensor) and out.shape == (3, 24, 32) and out.dtype == torch.float32
    np.testing.assert_array_equal(out.permute(1, 2, 0).numpy(), want)
    batch = (chw[None].float() / 255).bfloat16().requires_grad_()
    out = sisr.upscale(batch, model="bicubic", scale=2)
    assert out.shape == (1, 3, 24, 32) and not out.requires_grad
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), want, atol=1 / 64)  # bf16 holds 8 bits
    Image.fromarray(img).convert("CMYK").save(tmp_path / "c.jpg")
    with pytest.warns(UserWarning, match=r"^image: CMYK without a colour profile"):  # not the temporary file's name
        sisr.upscale((tmp_path / "c.jpg").read_bytes(), model="bicubic", scale=2)
    with pytest.raises(SisrError, match=r"binary mode \('rb'\)"), (tmp_path / "a.png").open() as text:
        sisr.upscale(text, model="bicubic", scale=2)


def test_cli_upscale_writes_output_and_refuses_overwrite(tmp_path, photo):
    src = tmp_path / "in.png"
    write_image(src, photo[:40, :50])
    dst = tmp_path / "out.png"
    cmd = [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(dst), "--scale", "2"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert read_rgb(dst).shape == (80, 100, 3)
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 2 and "exists" in r.stderr


def test_webp_is_lossless_by_default_and_quality_makes_it_lossy(tmp_path, photo):
    img = photo[:48, :64]
    lossless = write_image(tmp_path / "a.webp", img)
    assert lossless.read_bytes()[12:16] == b"VP8L"  # the lossless bitstream's chunk
    np.testing.assert_array_equal(np.asarray(Image.open(lossless)), img)
    lossy = write_image(tmp_path / "b.webp", img, quality=60)
    assert lossy.read_bytes()[12:16] in (b"VP8 ", b"VP8X") and lossy.stat().st_size < lossless.stat().st_size
    small = write_image(tmp_path / "c.jpg", img, quality=30).stat().st_size
    assert small < write_image(tmp_path / "d.jpg", img).stat().st_size  # default 95


@pytest.mark.parametrize(
    "name, quality, message", [("o.png", 80, "applies to JPEG, WebP and AVIF"), ("o.jpg", 0, "1 to 100")]
)
def test_cli_refuses_a_quality_that_does_not_apply(tmp_path, photo, name, quality, message):
    src = tmp_path / "in.png"
    write_image(src, photo[:20, :20])
    cmd = [sys.executable, "-m", "sisr", "upscale", str(src), "-o", str(tmp_path / name), "--model", "bicubic"]
    r = subprocess.run([*cmd, "--scale", "2", "--quality", str(quality)], capture_output=True, text=True)
    assert r.returncode == 2 and message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / name).exists()


def test_cli_refuses_two_inputs_that_would_share_an_output(tmp_path, photo):
    write_image(tmp_path / "in" / "a.png", photo[:20, :20])
    Image.fromarray(photo[20:40, :20]).save(tmp_path / "in" / "a.bmp")  # a.bmp is written as PNG too
    cmd = [sys.executable, "-m", "sisr", "upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out")]
    r = subprocess.run([*cmd, "--model", "bicubic", "--scale", "2"], capture_output=True, text=True)
    assert r.returncode == 2 and "would both be written to" in r.stderr and "a_x2.png" in r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_reads_stdin_and_writes_stdout(tmp_path, photo):
    src = write_image(tmp_path / "in.jpg", photo[:24, :32])
    cmd = [sys.executable, "-m", "sisr", "upscale", "-", "-o", "-", "--model", "bicubic", "--scale", "2"]
    r = subprocess.run(cmd, input=src.read_bytes(), capture_output=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout[:3] == b"\xff\xd8\xff"  # a JPEG in, a JPEG out
    assert Image.open(io.BytesIO(r.stdout)).size == (64, 48)
    assert b"stdin -> stdout" in r.stderr and b"sisr-" not in r.stderr  # no temporary path shown
    expected = tmp_path / "file.jpg"
    assert subprocess.run([*cmd[:4], str(src), "-o", str(expected), *cmd[7:]]).returncode == 0
    assert r.stdout == expected.read_bytes()  # exactly what the file route writes
    png = subprocess.run([*cmd[:4], str(src), *cmd[5:], "--format", "png"], capture_output=True)  # a file to stdout
    assert png.returncode == 0 and png.stdout[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_pipe_warnings_name_stdout_not_a_temporary_file(photo):
    rgba = np.concatenate([photo[:16, :16], np.zeros((16, 16, 1), np.uint8)], axis=2)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, format="PNG")
    cmd = [sys.executable, "-m", "sisr", "upscale", "-", "-o", "-", "--format", "jpg", "--model", "bicubic"]
    r = subprocess.run([*cmd, "--scale", "2"], input=buf.getvalue(), capture_output=True)
    err = r.stderr.decode()
    assert r.returncode == 0 and "sisr: warning: stdout: JPEG has no alpha" in err and "sisr-" not in err, err
    assert np.asarray(Image.open(io.BytesIO(r.stdout))).min() > 235  # fully transparent: white


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["-", "-o", "OUT/x.png"], b"", "stdin: empty"),
        (["-", "-o", "OUT/x.png"], b"hello", "stdin: not a readable image"),
        (["IN", "IN", "-o", "-"], b"", "cannot all be written to '-'"),
        (["IN", "-o", "-", "--overwrite"], b"", "--overwrite does not apply"),
        (["-", "IN", "-o", "OUT"], b"", "must be the only input"),
    ],
)
def test_cli_pipes_refuse_what_they_cannot_do(tmp_path, photo, args, stdin, message):
    src = write_image(tmp_path / "in.png", photo[:16, :16])
    argv = [str(src) if a == "IN" else a.replace("OUT", str(tmp_path / "out")) for a in args]
    cmd = [sys.executable, "-m", "sisr", "upscale", *argv, "--model", "bicubic", "--scale", "2"]
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=False)
    err = r.stderr.decode()
    assert r.returncode == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert r.stdout == b"" and not (tmp_path / "out").exists()


def test_phone_heic_photos_upscale_to_png_and_avif_stays_avif(tmp_path, photo):
    import pillow_heif

    from sisr.cli import main

    pillow_heif.register_heif_opener()
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "sisr-test-phone", 6  # Make; shown rotated 90 degrees
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(photo[:20, :32]).save(src / "IMG_0001.HEIC", quality=95, exif=exif.tobytes())
    Image.fromarray(photo[:20, :32]).save(src / "b.avif", quality=95)
    assert main(["upscale", str(src), "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2"]) == 0
    heic = Image.open(tmp_path / "out" / "IMG_0001_x2.png")
    assert heic.size == (40, 64)  # upright, doubled
    assert heic.getexif()[0x010F] == "sisr-test-phone" and heic.getexif().get(0x0112, 1) == 1
    assert np.abs(np.asarray(heic, np.float64).mean() - photo[:20, :32].mean()) < 3
    assert Image.open(tmp_path / "out" / "b_x2.avif").size == (64, 40)
    cmd = [sys.executable, "-m", "sisr", "upscale", "-", "-o", "-", "--model", "bicubic", "--scale", "2"]
    r = subprocess.run(cmd, input=(src / "IMG_0001.HEIC").read_bytes(), capture_output=True)  # through a pipe
    assert r.returncode == 0 and Image.open(io.BytesIO(r.stdout)).format == "PNG", r.stderr


def test_avif_result_keeps_metadata_and_full_colour_detail(tmp_path, photo):
    """AVIF out (an AVIF's own result, or --format avif): EXIF, XMP and the colour profile carried,
    orientation applied, chroma at full resolution, --quality applies; gray stays gray."""
    from PIL import ImageCms

    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "sisr-test-phone", 6
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/></x:xmpmeta>'
    src = tmp_path / "p.avif"
    Image.fromarray(photo[:40, :64]).save(
        src, quality=100, subsampling="4:4:4", exif=exif.tobytes(), icc_profile=icc, xmp=xmp
    )
    up = load_model("bicubic", scale=2)
    out = upscale_file(src, tmp_path / "p_x2.avif", up)
    with Image.open(out) as im:
        assert im.format == "AVIF" and im.size == (80, 128)  # upright, doubled
        assert im.getexif()[0x010F] == "sisr-test-phone" and im.getexif().get(0x0112, 1) == 1
        assert im.info["icc_profile"] == icc and b"xmpmeta" in im.info["xmp"]
        got = np.asarray(im.convert("RGB"), np.float64)
    want = np.asarray(Image.open(upscale_file(src, tmp_path / "p_x2.png", up)).convert("RGB"), np.float64)
    assert np.abs(got - want).mean() < 1.5
    # full-resolution chroma: a 1-pixel red/green stripe pattern survives (4:2:0 would average it away)
    stripes = np.zeros((32, 32, 3), np.uint8)
    stripes[:, ::2, 0], stripes[:, 1::2, 1] = 255, 255
    write_image(tmp_path / "s.avif", stripes)
    back = np.asarray(Image.open(tmp_path / "s.avif").convert("RGB"), np.float64)
    assert np.abs(back - stripes).mean() < 20
    small = upscale_file(src, tmp_path / "q.avif", up, quality=30)
    assert small.stat().st_size < out.stat().st_size
    write_image(tmp_path / "g.avif", photo[:16, :16, 0])
    assert Image.open(tmp_path / "g.avif").mode == "L"


def test_avif_size_limits_refuse_before_any_work(tmp_path, monkeypatch):
    from PIL import features

    from sisr.io import check_size

    check_size(Path("ok.avif"), 32768, 100)
    with pytest.raises(SisrError, match="AVIF's limit of 32768 pixels a side"):
        check_size(Path("wide.avif"), 32769, 100)
    with pytest.raises(SisrError, match="AVIF's limit of 268435456 pixels"):
        check_size(Path("big.avif"), 20000, 20000)
    monkeypatch.setattr(features, "check", lambda name: name != "avif")  # a Pillow built without it
    with pytest.raises(SisrError, match="this Pillow cannot write AVIF"):
        write_image(tmp_path / "x.avif", np.zeros((4, 4, 3), np.float32))
    assert not (tmp_path / "x.avif").exists()


@pytest.mark.parametrize("mode", ["RGB;16", "RGBA;16", "L;16"])
def test_a_10bit_heif_keeps_its_levels_upright_with_its_exif(tmp_path, mode):
    import pillow_heif

    from sisr.cli import main

    ramp = np.arange(1024, dtype=np.uint16) << 6  # 10-bit levels, as pillow-heif takes them
    channels = {"RGB;16": 3, "RGBA;16": 4, "L;16": 1}[mode]
    arr = np.ascontiguousarray(np.broadcast_to(ramp[None, :, None], (8, 1024, channels)).squeeze())
    exif = Image.Exif()
    exif[0x010F], exif[0x0112] = "sisr-test-camera", 6
    heif = pillow_heif.from_bytes(mode=mode, size=(1024, 8), data=arr.tobytes())
    heif.save(tmp_path / "hdr.heic", quality=-1, exif=exif.tobytes())  # lossless
    data = read_image(tmp_path / "hdr.heic")
    assert data.bits == 16 and data.pixels.shape == (1024, 8, 1 if channels == 1 else 3)  # upright
    assert (data.alpha is not None) == (channels == 4)
    # every one of the 1024 levels (Pillow's plugin gives 256), full scale at 1.0
    assert np.abs(data.pixels[:, 0, 0] - np.arange(1024) / 1023).max() < 1e-6
    assert main(["upscale", str(tmp_path / "hdr.heic"), "-o", str(tmp_path / "up.png"), "--model", "bicubic"]) == 0
    out = read_image(tmp_path / "up.png")
    assert out.bits == 16 and out.pixels.shape[:2] == (4096, 32)
    assert Image.open(tmp_path / "up.png").getexif()[0x010F] == "sisr-test-camera"


@pytest.mark.parametrize("edit, bits", [(None, 0), ("pixi", 10), ("av1C", 12)])
def test_a_deep_avif_read_at_8_bits_says_so(tmp_path, photo, edit, bits):
    # Pillow's encoder writes 8 bits only; the header's depth is edited (libavif decodes the 8-bit
    # stream all the same), as a 10- or 12-bit HDR photo's header would record it.
    Image.fromarray(photo[:16, :16]).save(tmp_path / "a.avif", quality=90)
    raw = bytearray((tmp_path / "a.avif").read_bytes())
    pixi, av1c = raw.find(b"pixi"), raw.find(b"av1C")
    if edit == "pixi":
        raw[pixi + 9 : pixi + 12] = bytes([10, 10, 10])  # bits per channel
        raw[av1c + 6] |= 0x40  # and high_bitdepth, which libavif checks against it
    if edit == "av1C":  # an older writer's file without 'pixi': the AV1 configuration's flags
        raw[pixi : pixi + 4] = b"zzzz"
        raw[av1c + 6] |= 0x60  # high_bitdepth, twelve_bit
    (tmp_path / "a.avif").write_bytes(raw)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        data = read_image(tmp_path / "a.avif")
    assert data.bits == 8 and data.pixels.shape == (16, 16, 3)
    deep = [str(w.message) for w in said if "AVIF, read at 8 bits" in str(w.message)]
    assert deep == (
        [f"{tmp_path / 'a.avif'}: a {bits}-bit AVIF, read at 8 bits (Pillow's AVIF decoder gives no more)"]
        if bits
        else []
    )


# Linear Display P3 -> linear sRGB, as published (e.g. in WebKit's and Chromium's colour code), to
# check the synthesized profile through Little CMS against a source that is not sisr's arithmetic.
_P3_TO_SRGB = np.array([[1.2249, -0.2247, 0.0], [-0.0420, 1.0419, 0.0], [-0.0197, -0.0786, 1.0979]])


def _srgb_decode(v):
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(v):
    v = np.clip(v, 0, 1)
    return np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055)


def _shown_in_srgb(path):
    """A file's pixels as a colour-managed viewer shows them on an sRGB screen (uint8 array)."""
    from PIL import ImageCms

    im = Image.open(path)
    icc = ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
    srgb = ImageCms.createProfile("sRGB")
    return np.asarray(ImageCms.profileToProfile(im, icc, srgb, renderingIntent=1, outputMode="RGB"))


def test_a_display_p3_profile_from_code_points_converts_as_published():
    from PIL import ImageCms

    from sisr.icc import profile_from_cicp

    icc = profile_from_cicp(12, 13)
    assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() == "Display P3, sRGB curve"
    levels = np.array([[[128, 77, 51], [200, 30, 40], [60, 180, 90], [255, 255, 255], [0, 0, 0], [9, 250, 3]]])
    Image.fromarray(levels.astype(np.uint8)).save(buf := io.BytesIO(), "PNG", icc_profile=icc)
    expected = _srgb_encode(_srgb_decode(levels / 255.0) @ _P3_TO_SRGB.T) * 255
    assert np.abs(_shown_in_srgb(buf).astype(float) - expected).max() <= 1.0


@pytest.mark.parametrize("kind", ["heic-p3", "heic-p3-10bit", "heic-gray-bt709", "avif-p3", "heic-srgb", "avif-srgb"])
def test_a_photo_tagged_by_code_points_keeps_its_colour_in_every_format(tmp_path, kind):
    """A wide-gamut phone photo (HEIF, AVIF) signals Display P3 by H.273 code points ('nclx'), not an
    ICC profile: its result carries a profile saying so, else viewers show it as sRGB, dulled."""
    import pillow_heif

    from sisr.cli import main

    level = np.array([200, 30, 40]) if "gray" not in kind else np.array([90])
    flat = np.broadcast_to(level.astype(np.uint8), (16, 16, level.size)).squeeze()
    src = tmp_path / ("p." + kind.split("-")[0])
    primaries, transfer = (1, 13) if "srgb" in kind else (1, 1) if "gray" in kind else (12, 13)
    if kind.startswith("heic"):
        deep = "10bit" in kind
        heif = pillow_heif.from_bytes(
            mode="RGB;16" if deep else "L" if flat.ndim == 2 else "RGB",
            size=(16, 16),
            data=(flat.astype(np.uint16) << 8 if deep else flat).tobytes(),
        )
        heif.save(src, quality=-1, color_primaries=primaries, transfer_characteristics=transfer,
                  matrix_coefficients=6, full_range_flag=1)  # fmt: skip
    else:  # Pillow's AVIF says sRGB (1, 13); a P3 photo's header says 12
        Image.fromarray(flat).save(src, quality=100)
        raw = bytearray(src.read_bytes())
        at = raw.find(b"colrnclx")
        raw[at + 8 : at + 12] = struct.pack(">HH", primaries, transfer)
        src.write_bytes(raw)
    for fmt in ("png", "jpg", "tif", "webp"):
        out = tmp_path / f"out.{fmt}"
        assert main(["upscale", str(src), "-o", str(out), "--model", "bicubic", "--scale", "2", "--overwrite"]) == 0
        written = Image.open(out)
        if "srgb" in kind:  # what an untagged image is taken to be anyway: nothing added
            assert "icc_profile" not in written.info
            continue
        shown = _shown_in_srgb(out)[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)
        if "gray" in kind:  # BT.709's curve is darker than sRGB's in the shadows
            bt709 = ((level / 255 + 0.099) / 1.099) ** (1 / 0.45)
            expected = _srgb_encode(bt709) * 255
        else:
            expected = _srgb_encode(_srgb_decode(level / 255) @ _P3_TO_SRGB.T) * 255
        assert np.abs(shown - expected).max() <= 2.5, (fmt, shown, expected)


def test_an_unreadable_colour_profile_is_left_out_with_a_warning(tmp_path, photo):
    """A cut-short profile carried into a result would be a broken file for strict readers."""
    Image.fromarray(photo[:16, :16]).save(tmp_path / "a.jpg", icc_profile=b"not a profile" * 20)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        upscale_file(tmp_path / "a.jpg", tmp_path / "a.png", load_model("bicubic", scale=2))
    assert [str(w.message) for w in said] == [
        f"{tmp_path / 'a.jpg'}: its colour profile is unreadable; left out (the colours are taken as sRGB)"
    ]
    assert "icc_profile" not in Image.open(tmp_path / "a.png").info


def test_gray_with_an_unusable_gray_profile_to_webp_warns_and_writes(tmp_path):
    from sisr.io import ImageData

    broken = bytes(16) + b"GRAY" + bytes(200)  # a gray profile's head only, as an API caller might pass
    gray = ImageData(np.full((8, 8, 1), 77 / 255, np.float32), info={"icc_profile": broken})
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        write_image(tmp_path / "g.webp", gray)
    assert any("its gray colour profile is unusable" in str(w.message) for w in said), [str(w.message) for w in said]
    out = Image.open(tmp_path / "g.webp")
    assert "icc_profile" not in out.info and np.abs(np.asarray(out.convert("L"), float) - 77).max() <= 1


def _png_chunks(path):
    raw, at, kinds = Path(path).read_bytes(), 8, []
    while at < len(raw):
        size, kind = struct.unpack(">I4s", raw[at : at + 8])
        kinds.append((kind, raw[at + 8 : at + 8 + size]))
        at += 12 + size
    return kinds


def hdr_heic(path, deep: bool):
    """A PQ (HDR10) HEIF: BT.2020 primaries, PQ curve, as HDR stills are signalled."""
    import pillow_heif

    ramp = np.arange(64, dtype=np.uint16) << (10 if deep else 2)
    arr = np.ascontiguousarray(np.broadcast_to(ramp[None, :, None], (8, 64, 3)))
    arr = arr if deep else arr.astype(np.uint8)
    heif = pillow_heif.from_bytes(mode="RGB;16" if deep else "RGB", size=(64, 8), data=arr.tobytes())
    heif.save(path, quality=-1, color_primaries=9, transfer_characteristics=16, matrix_coefficients=9)
    return path


@pytest.mark.parametrize("deep", [True, False])
def test_an_hdr_heif_keeps_its_hdr_signal_in_png_and_says_so_elsewhere(tmp_path, deep):
    """An HDR photo's colour needs its code points; a PNG result carries them (cICP, before the
    image data, as PNG's third edition puts it), also through a second PNG run; JPEG cannot."""
    from sisr.cli import main

    src = hdr_heic(tmp_path / "pq.heic", deep)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        data = read_image(src)
    assert data.info.get("cicp") == bytes([9, 16, 0, 1]) and "icc_profile" not in data.info and not said
    assert data.without_metadata().info["cicp"] == bytes([9, 16, 0, 1])  # how to show it, not who or where
    for a, b in ((src, "a.png"), (tmp_path / "a.png", "b.png")):
        assert main(["upscale", str(a), "-o", str(tmp_path / b), "--model", "bicubic", "--scale", "2"]) == 0
        kinds = [k for k, _ in _png_chunks(tmp_path / b)]
        assert dict(_png_chunks(tmp_path / b))[b"cICP"] == bytes([9, 16, 0, 1])
        assert kinds.index(b"cICP") < kinds.index(b"IDAT") and b"iCCP" not in kinds
        assert read_image(tmp_path / b).bits == (16 if deep else 8)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        upscale_file(src, tmp_path / "a.jpg", load_model("bicubic", scale=2))
    hdr = [str(w.message) for w in said if "HDR" in str(w.message)]
    flat = "an HDR image (PQ curve); JPEG here cannot carry HDR colour, so it shows flat (PNG keeps it)"
    assert hdr == [f"{tmp_path / 'a.jpg'}: {flat}"]
    assert "icc_profile" not in Image.open(tmp_path / "a.jpg").info


def test_jpeg_xl_reads_exactly_with_its_16_bits(tmp_path, photo):
    pytest.importorskip("pillow_jxl")
    from sisr.cli import main

    Image.fromarray(photo[:24, :40]).save(tmp_path / "a.jxl", lossless=True)
    deep = (np.arange(24 * 40, dtype=np.uint16).reshape(24, 40) * 61).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "g.jxl", lossless=True)
    assert np.array_equal(np.round(read_image(tmp_path / "a.jxl").pixels * 255).astype(np.uint8), photo[:24, :40])
    gray = read_image(tmp_path / "g.jxl")
    assert gray.bits == 16 and np.array_equal(np.round(gray.pixels[:, :, 0] * 65535), deep)
    # a folder run finds it; its result is a PNG, as a HEIF's is
    (tmp_path / "in").mkdir()
    (tmp_path / "a.jxl").rename(tmp_path / "in" / "a.jxl")
    assert (
        main(["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--model", "bicubic", "--scale", "2"]) == 0
    )
    assert Image.open(tmp_path / "out" / "a_x2.png").size == (80, 48)


def test_jpeg_xl_without_its_plugin_is_one_clear_line(tmp_path, monkeypatch):
    jxl = tmp_path / "p.jxl"
    jxl.write_bytes(b"\xff\x0a" + bytes(30))
    monkeypatch.setitem(sys.modules, "pillow_jxl", None)  # as if not installed
    with pytest.raises(SisrError, match=r"p\.jxl: a JPEG XL image; pip install pillow-jxl-plugin \(or sisr\[jxl\]\)"):
        read_image(jxl)


def test_heic_without_pillow_heif_is_one_clear_line(tmp_path, monkeypatch):
    heic = tmp_path / "p.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic")
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if not installed
    with pytest.raises(SisrError, match=r"HEIF/HEIC photo; pip install pillow-heif"):
        read_image(heic)


def test_compare_figure(tmp_path, photo):
    src = tmp_path / "hr.png"
    write_image(src, photo[:120, :160])
    out = tmp_path / "fig.png"
    cmd = [sys.executable, "-m", "sisr", "compare", str(src), "--models", "bicubic", "--scale", "4",
           "--crop", "40,20,32,24", "-o", str(out)]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    fig = read_rgb(out)
    assert fig.shape[0] == 18 + 144  # label row + 192 * 24 / 32
    bad = subprocess.run(cmd[:-3] + ["500,0,32,32", "-o", str(tmp_path / "x.png")], capture_output=True, text=True)
    assert bad.returncode == 2 and "outside" in bad.stderr
    on_cpu = subprocess.run([*cmd[:-1], str(tmp_path / "c.png"), "--device", "cpu"], capture_output=True, text=True)
    assert on_cpu.returncode == 0 and np.array_equal(read_rgb(tmp_path / "c.png"), fig), on_cpu.stderr


def test_compare_without_a_crop_takes_the_window_with_the_most_detail(tmp_path):
    from sisr.cli import main
    from sisr.compare import compare_figure, detailed_crop

    img = np.full((96, 128, 3), 120, np.uint8)  # flat, but for a textured patch at x 72-103, y 40-71
    img[40:72, 72:104] = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    assert detailed_crop(img, 32, 32) == (72, 40, 32, 32)
    assert detailed_crop(img[:, :, :1], 24, 24)[:2] in {(72 + dx, 40 + dy) for dx in range(9) for dy in range(9)}
    assert detailed_crop(img, 500, 500) == (0, 0, 128, 96)  # a window larger than the image: all of it
    src = tmp_path / "hr.png"
    write_image(src, img)
    assert main(["compare", str(src), "--models", "bicubic", "-o", str(tmp_path / "auto.png")]) == 0
    x, y, w, h = detailed_crop(img, 24, 24)  # a quarter of the shorter side: 96 // 4
    assert 72 <= x <= 80 and 40 <= y <= 48 and (w, h) == (24, 24)
    given = ["--crop", f"{x},{y},24,24", "-o", str(tmp_path / "given.png")]
    assert main(["compare", str(src), "--models", "bicubic", *given]) == 0
    assert np.array_equal(read_rgb(tmp_path / "auto.png"), read_rgb(tmp_path / "given.png"))
    # an input without ground truth: chosen on the input, in output pixels
    small = tmp_path / "small.png"
    write_image(small, img[::4, ::4])
    lr = compare_figure(small, ["bicubic"], 4, lr_input=True)
    x, y, w, h = detailed_crop(img[::4, ::4], 16, 16)
    assert np.array_equal(lr, compare_figure(small, ["bicubic"], 4, (4 * x, 4 * y, 4 * w, 4 * h), lr_input=True))


def test_outputs_get_normal_permissions_not_a_temp_files(tmp_path):
    import os

    import numpy as np

    from sisr.io import write_image

    mask = os.umask(0o022)
    try:
        out = write_image(tmp_path / "o.png", np.zeros((4, 4, 3)))
        assert out.stat().st_mode & 0o777 == 0o644
        assert not list(tmp_path.glob(".*.part"))
    finally:
        os.umask(mask)


@pytest.mark.parametrize(
    "args",
    [["-m", "sisr", "models"], ["tools/relay.py", "status"]],
    ids=["sisr-models", "relay-status"],
)
def test_a_closed_pipe_ends_quietly(args):
    """`sisr models | head -0`: the reader is gone before the first write; no traceback, status 141."""
    import os
    from pathlib import Path

    read, write = os.pipe()
    os.close(read)  # closed before the child starts, so its first write fails, every time
    try:
        r = subprocess.run([sys.executable, *args], stdout=write, stderr=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[1])  # fmt: skip
    finally:
        os.close(write)
    assert r.returncode == 141 and r.stderr == "", r.stderr


def test_warnings_collected_in_one_thread_stay_out_of_another():
    import threading
    import warnings

    from sisr.errors import collected, warn

    mine: list[str] = []
    with collected(mine), warnings.catch_warnings(record=True) as elsewhere:
        warnings.simplefilter("always")
        warn("a: said in the collecting thread")
        warn("a: said in the collecting thread")  # once is enough
        t = threading.Thread(target=warn, args=("b: said in another thread",))
        t.start()
        t.join()
    assert mine == ["a: said in the collecting thread"]
    assert [str(w.message) for w in elsewhere] == ["b: said in another thread"]


@pytest.mark.parametrize("name, warned", [("o.jpg", True), ("o.webp", True), ("o.avif", True), ("o.png", False)])
def test_16_bits_written_at_8_say_so(tmp_path, name, warned):
    from sisr.io import ImageData

    data = ImageData(np.linspace(0, 1, 48, dtype=np.float32).reshape(4, 4, 3), bits=16)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        write_image(tmp_path / name, data)
    said = [str(w.message) for w in seen]
    assert any("holds 8 bits a channel; the 16-bit image is written at 8" in m for m in said) == warned, said


@pytest.mark.parametrize("with_iccp", [False, True])
def test_an_sdr_png_tagged_by_cicp_gets_a_profile(tmp_path, with_iccp):
    """A PNG may state Display P3 by its cICP chunk (PNG's third edition) instead of an ICC
    profile; where it has both, cICP outranks iCCP, as that edition says."""
    from PIL import PngImagePlugin

    from sisr.io import _srgb_profile

    info = PngImagePlugin.PngInfo()
    info.add(b"cICP", bytes([12, 13, 0, 1]))
    extra = {"icc_profile": _srgb_profile()} if with_iccp else {}
    Image.fromarray(np.full((8, 8, 3), (200, 30, 40), np.uint8)).save(tmp_path / "p3.png", pnginfo=info, **extra)
    assert (b"iCCP" in (tmp_path / "p3.png").read_bytes()) == with_iccp
    upscale_file(tmp_path / "p3.png", tmp_path / "out.jpg", load_model("bicubic", scale=2))
    shown = _shown_in_srgb(tmp_path / "out.jpg")[4:-4, 4:-4].reshape(-1, 3).mean(axis=0)
    expected = _srgb_encode(_srgb_decode(np.array([200, 30, 40]) / 255) @ _P3_TO_SRGB.T) * 255
    assert np.abs(shown - expected).max() <= 2.5, (shown, expected)


_ULTRA_HDR_XMP = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:Container="http://ns.google.com/photos/1.0/container/"
 xmlns:Item="http://ns.google.com/photos/1.0/container/item/" xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/" hdrgm:Version="1.0">
 <dc:creator><rdf:Seq><rdf:li>Ada Photographer</rdf:li></rdf:Seq></dc:creator>
 <Container:Directory><rdf:Seq>
  <rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="Primary" Item:Mime="image/jpeg"/></rdf:li>
  <rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="999"/>
  </rdf:li></rdf:Seq></Container:Directory>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_an_ultra_hdr_jpeg_says_its_gain_map_is_not_carried(tmp_path, photo):
    """A phone's Ultra HDR JPEG (an SDR picture and a gain map, as MPO): the result is the SDR
    picture, said once, and its XMP no longer points at a gain map it does not have."""
    photo_img, gain_map = Image.fromarray(photo[:32, :48]), Image.fromarray(photo[:16, :24, 0])
    photo_img.save(tmp_path / "PXL.jpg", "MPO", save_all=True, append_images=[gain_map], xmp=_ULTRA_HDR_XMP)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        upscale_file(tmp_path / "PXL.jpg", tmp_path / "out.jpg", load_model("bicubic", scale=2))
    assert [str(w.message) for w in said] == [
        f"{tmp_path / 'PXL.jpg'}: an Ultra HDR JPEG; its HDR gain map is not carried, so the result is its SDR picture"
    ]
    xmp = Image.open(tmp_path / "out.jpg").info["xmp"]
    assert b"GainMap" not in xmp and b"hdrgm:Version" not in xmp and b"Container:Directory" not in xmp
    assert b"Ada Photographer" in xmp and Image.open(tmp_path / "out.jpg").size == (96, 64)
    import xml.etree.ElementTree as ET

    ET.fromstring(xmp)  # still well-formed XML


_MOTION_XMP = b"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description xmlns:GCamera="http://ns.google.com/photos/1.0/camera/"
 xmlns:Container="http://ns.google.com/photos/1.0/container/"
 xmlns:Item="http://ns.google.com/photos/1.0/container/item/"
 GCamera:MotionPhoto="1" GCamera:MotionPhotoVersion="1" GCamera:MotionPhotoPresentationTimestampUs="968254"
 GCamera:SpecialTypeID="com.google.android.apps.camera.gallery.specialtype.SpecialType-MOTION">
 <GCamera:MicroVideoOffset>1200</GCamera:MicroVideoOffset>
 <Container:Directory><rdf:Seq>
  <rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="image/jpeg" Item:Semantic="Primary"/></rdf:li>
  <rdf:li rdf:parseType="Resource">
   <Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto" Item:Length="1200"/>
  </rdf:li></rdf:Seq></Container:Directory>
</rdf:Description></rdf:RDF></x:xmpmeta>"""


def test_a_motion_photo_gives_its_still_and_its_xmp_no_longer_promises_a_video(tmp_path, photo):
    """A Pixel's motion photo: a JPEG with a video after its own bytes, which its XMP points at.
    The result is the still; left in, the XMP would send a gallery looking for a video in the
    result's last bytes."""
    import xml.etree.ElementTree as ET

    f = tmp_path / "PXL_MP.jpg"
    Image.fromarray(photo[:32, :48]).save(f, xmp=_MOTION_XMP)
    f.write_bytes(f.read_bytes() + b"\x00\x00\x00\x18ftypmp42" + bytes(1188))  # the video follows the JPEG
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        upscale_file(f, tmp_path / "out.jpg", load_model("bicubic", scale=2))
    assert [str(w.message) for w in said] == [
        f"{f}: a motion photo; its video is not carried, so the result is its still picture"
    ]
    xmp = Image.open(tmp_path / "out.jpg").info["xmp"]
    for gone in (b"GCamera:MotionPhoto", b"MicroVideo", b"Container:Directory", b"video/mp4"):
        assert gone not in xmp, gone
    assert b"GCamera:SpecialTypeID" in xmp  # what does not point at the video stays
    ET.fromstring(xmp)
    Image.fromarray(photo[:32, :48]).save(f, xmp=_MOTION_XMP.replace(b'MotionPhoto="1"', b'MotionPhoto="0"'))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a motion photo turned off: nothing to say
        upscale_file(f, tmp_path / "off.jpg", load_model("bicubic", scale=2))


def test_an_iphone_hdr_heif_says_its_gain_map_is_not_carried(tmp_path, photo, monkeypatch):
    """An iPhone's HDR photo: an SDR picture with a gain map as an auxiliary image, which
    pillow-heif lists in ``info["aux"]`` (pillow-heif cannot write one: the listing is added)."""
    import pillow_heif.as_plugin as heif_plugin

    heif_plugin.register_heif_opener()
    Image.fromarray(photo[:16, :16]).save(tmp_path / "IMG_1.heic", quality=90)
    opened = heif_plugin.HeifImageFile._open

    def with_gain_map(self):
        opened(self)
        self.info["aux"] = {"urn:com:apple:photo:2020:aux:hdrgainmap": [2]}

    monkeypatch.setattr(heif_plugin.HeifImageFile, "_open", with_gain_map)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        read_image(tmp_path / "IMG_1.heic")
    sdr = "a HEIF with an HDR gain map; its HDR gain map is not carried, so the result is its SDR picture"
    assert [str(w.message) for w in said] == [f"{tmp_path / 'IMG_1.heic'}: {sdr}"]


def test_an_hdr_png_keeps_its_profile_beside_cicp_for_readers_that_ignore_cicp(tmp_path):
    from PIL import PngImagePlugin

    from sisr.io import _srgb_profile

    info = PngImagePlugin.PngInfo()
    info.add(b"cICP", bytes([9, 16, 0, 1]))
    Image.fromarray(np.full((8, 8, 3), 90, np.uint8)).save(
        tmp_path / "hdr.png", pnginfo=info, icc_profile=_srgb_profile()
    )
    upscale_file(tmp_path / "hdr.png", tmp_path / "out.png", load_model("bicubic", scale=2))
    chunks = dict(_png_chunks(tmp_path / "out.png"))
    assert chunks[b"cICP"] == bytes([9, 16, 0, 1]) and b"iCCP" in chunks


def test_a_bilevel_png_stated_by_cicp_gets_a_gray_profile(tmp_path):
    """Its pixels read as gray, so its profile is gray: an RGB profile on gray is invalid in PNG."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add(b"cICP", bytes([12, 1, 0, 1]))
    Image.fromarray(np.eye(8, dtype=bool)).save(tmp_path / "b.png", pnginfo=info)
    data = read_image(tmp_path / "b.png")
    assert data.pixels.shape == (8, 8, 1) and data.info["icc_profile"][16:20] == b"GRAY"


def test_integer_tiff_samples_are_scaled_by_their_declared_depth(tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    u32 = rng.integers(0, 2**32, (12, 16), dtype=np.uint32)  # Pillow holds them as signed 32-bit
    tifffile.imwrite(tmp_path / "u32.tif", u32)
    data = read_image(tmp_path / "u32.tif")
    assert data.bits == 16 and np.abs(data.pixels[:, :, 0] - u32 / (2**32 - 1)).max() < 1e-6
    dark = np.arange(192, dtype=np.uint32).reshape(12, 16)  # levels of a 32-bit range: near black, not 8-bit
    tifffile.imwrite(tmp_path / "dark.tif", dark)
    assert read_image(tmp_path / "dark.tif").pixels.max() < 1e-6
    i16 = rng.integers(-2000, 32768, (12, 16), dtype=np.int16)
    tifffile.imwrite(tmp_path / "i16.tif", i16)
    with pytest.warns(UserWarning, match=r"i16.tif: signed samples.*were clipped"):
        data = read_image(tmp_path / "i16.tif")
    assert np.abs(data.pixels[:, :, 0] - np.clip(i16, 0, None) / 32767).max() < 1e-6
    i8 = rng.integers(-128, 128, (12, 16), dtype=np.int8)  # Pillow gives its bytes unsigned: -1 was white
    tifffile.imwrite(tmp_path / "i8.tif", i8)
    with pytest.warns(UserWarning, match=r"i8.tif: signed samples.*were clipped"):
        data = read_image(tmp_path / "i8.tif")
    assert data.bits == 8 and np.abs(data.pixels[:, :, 0] - np.clip(i8, 0, None) / 127).max() < 1e-6
    # RGB of signed or 32-bit samples, which Pillow cannot open: read with tifffile, scaled alike
    for dtype, top in ((np.int8, 127), (np.int16, 32767), (np.int32, 2**31 - 1), (np.uint32, 2**32 - 1)):
        info = np.iinfo(dtype)
        rgba = rng.integers(info.min, info.max, (12, 16, 4), dtype=dtype, endpoint=True)
        tifffile.imwrite(tmp_path / "c.tif", rgba, photometric="rgb", extrasamples=["unassalpha"])
        with warnings.catch_warnings(record=True):
            data = read_image(tmp_path / "c.tif")
        want = np.clip(rgba / top, 0, 1)
        assert data.bits == 16 and data.pixels.dtype == np.float32 and data.mode == "RGBA;16"
        assert np.abs(data.pixels - want[:, :, :3]).max() < 1e-6 and np.abs(data.alpha - want[:, :, 3]).max() < 1e-6
    with pytest.warns(UserWarning, match=r"c.tif: signed samples.*were clipped"):
        tifffile.imwrite(tmp_path / "c.tif", rgba.view(np.int32), photometric="rgb", extrasamples=["unassalpha"])
        read_image(tmp_path / "c.tif")


def test_floating_point_tiffs_are_read_and_values_outside_0_1_said(tmp_path):
    import tifffile

    rng = np.random.default_rng(1)
    rgba = rng.random((12, 16, 4), dtype=np.float32)  # Pillow cannot open float RGB(A): tifffile reads them
    tifffile.imwrite(tmp_path / "rgb.tif", rgba[:, :, :3], photometric="rgb")
    tifffile.imwrite(tmp_path / "rgba.tif", rgba.astype(np.float16), photometric="rgb", extrasamples=["unassalpha"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # inside 0-1: nothing to say
        data = read_image(tmp_path / "rgb.tif")
    assert data.bits == 16 and data.alpha is None and np.abs(data.pixels - rgba[:, :, :3]).max() < 1e-7
    data = read_image(tmp_path / "rgba.tif")
    assert np.abs(data.pixels - rgba[:, :, :3]).max() < 1e-3 and np.abs(data.alpha - rgba[:, :, 3]).max() < 1e-3
    gray = rgba[:, :, 0] * 1000  # unscaled data: clipped, and said, not a white picture without a word
    tifffile.imwrite(tmp_path / "gray.tif", gray)
    with pytest.warns(
        UserWarning,
        match=r"gray.tif: floating-point samples from [\d.]+ to [\d.]+, where 0 is black and 1 white; 100% of them",
    ):
        data = read_image(tmp_path / "gray.tif")
    assert np.array_equal(data.pixels[:, :, 0], np.clip(gray, 0, 1))
    gray[0, :4] = [np.nan, np.inf, -np.inf, 0.5]  # not numbers: black, white, black, and said
    tifffile.imwrite(tmp_path / "gray.tif", gray[:1] / 1000)
    with pytest.warns(UserWarning, match=r"gray.tif: floating-point samples .* 18.8% of them"):
        data = read_image(tmp_path / "gray.tif")
    assert np.allclose(data.pixels[0, :4, 0], [0.0, 1.0, 0.0, 0.0005])
    tifffile.imwrite(tmp_path / "two.tif", np.stack([rgba[:, :, :3]] * 2), photometric="rgb")
    with pytest.raises(SisrError, match="two.tif: not a readable image"):  # pages of floats: not yet
        read_image(tmp_path / "two.tif")


def test_xmp_edits_keep_a_hostile_packet_as_it_is():
    """A 64 KB packet of unclosed tags and blanks (the most a JPEG holds) goes through the XMP
    edits unchanged. Each pattern stops at the next tag or takes one blank at a time. The first
    versions backtracked over the rest of the packet from every start: 3-4 s for each of these
    packets, and an opening tag followed by 4,000 blanks took 92 s (cubic)."""
    from sisr.io import _without_companions, _xmp_set

    for packet in (b"<hdrgm:a " * 7278, b"<tiff:Orientation>" * 3639, b" " * 65504, b"\n\t" * 32752):
        assert _without_companions(packet) == packet
        assert _xmp_set(packet, {"tiff:Orientation": 1, "exif:PixelXDimension": 80}) == packet
    open_tag = b"<tiff:Orientation>" + b" " * 65486
    assert _xmp_set(open_tag, {"tiff:Orientation": 1}) == open_tag
    kept = b'<a  hdrgm:Version="1.0"\n  GCamera:MotionPhoto="1" b="2"><tiff:Orientation> 6 </tiff:Orientation></a>'
    edited = _xmp_set(_without_companions(kept), {"tiff:Orientation": 1})
    assert edited == b'<a \n  b="2"><tiff:Orientation>1</tiff:Orientation></a>'


@pytest.mark.parametrize("big", [0x927C, 0x9286])  # a maker note; a user comment
def test_exif_over_jpegs_limit_loses_its_maker_note_or_is_left_out(tmp_path, photo, big):
    exif = Image.Exif()
    exif[0x010F] = "Canon"
    exif.get_ifd(0x8769)[big] = b"ASCII\x00\x00\x00" + b"M" * 70000
    src, out = tmp_path / "scan.png", tmp_path / "out.jpg"
    Image.fromarray(photo[:24, :32]).save(src, exif=exif.tobytes())
    with pytest.warns(UserWarning, match=r"out.jpg: its EXIF metadata \(\d+ bytes\) is over JPEG's 65533; (\w| |')+"):
        upscale_file(src, out, load_model("bicubic", scale=2))
    kept = Image.open(out).getexif()
    if big == 0x927C:  # the maker note goes; the rest stays
        assert kept.get(0x010F) == "Canon" and big not in kept.get_ifd(0x8769)
    else:
        assert not Image.open(out).info.get("exif")
    assert Image.open(out).size == (64, 48)


def _ppm(magic: bytes, arr: np.ndarray, maxval: int, comment: bytes = b"") -> bytes:
    h, w = arr.shape[:2]
    if magic == b"P3":
        return b"P3\n%s%d %d\n%d\n" % (comment, w, h, maxval) + " ".join(map(str, arr.ravel())).encode() + b"\n"
    return b"P6\n%s%d %d\n%d\n" % (comment, w, h, maxval) + arr.astype(">u2" if maxval > 255 else "u1").tobytes()


def _pam(arr: np.ndarray, maxval: int, tupltype: str) -> bytes:
    h, w, c = arr.shape
    head = f"P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH {c}\nMAXVAL {maxval}\nTUPLTYPE {tupltype}\nENDHDR\n".encode()
    return head + arr.astype(">u2" if maxval > 255 else "u1").tobytes()


def test_ppm_above_8_bits_and_pam_keep_their_depth(tmp_path):
    """A 16-bit PPM (a raw converter's, ``dcraw -4``) was read at 8 bits, Pillow's way, and a PAM
    (netpbm's, with alpha) was "not a readable image"."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, (12, 16, 3))
    (tmp_path / "a.ppm").write_bytes(_ppm(b"P6", rgb, 65535, comment=b"# dcraw\n"))
    data = read_image(tmp_path / "a.ppm")
    assert data.bits == 16 and data.alpha is None and np.array_equal(np.round(data.pixels * 65535), rgb)
    ten = rng.integers(0, 1024, (12, 16, 3))  # a 10-bit one: scaled by its white level
    (tmp_path / "ten.ppm").write_bytes(_ppm(b"P3", ten, 1023))
    data = read_image(tmp_path / "ten.ppm")
    assert data.bits == 16 and np.abs(data.pixels - ten / 1023).max() < 1e-6
    rgba = rng.integers(0, 65536, (12, 16, 4))
    (tmp_path / "a.pam").write_bytes(_pam(rgba, 65535, "RGB_ALPHA"))
    data = read_image(tmp_path / "a.pam")
    assert data.bits == 16 and np.array_equal(np.round(data.pixels * 65535), rgba[:, :, :3])
    assert np.array_equal(np.round(data.alpha * 65535), rgba[:, :, 3])
    gray_alpha = rng.integers(0, 256, (12, 16, 2))
    (tmp_path / "ga.pam").write_bytes(_pam(gray_alpha, 255, "GRAYSCALE_ALPHA"))
    data = read_image(tmp_path / "ga.pam")
    assert data.bits == 8 and data.pixels.shape == (12, 16, 1) and np.array_equal(data.alpha * 255, gray_alpha[:, :, 1])
    from sisr.io import decoded_format, stored_size

    assert stored_size(tmp_path / "a.pam") == (16, 12) and decoded_format(tmp_path / "a.pam") == "PAM"
    out = upscale_file(tmp_path / "a.pam", tmp_path / "a_x2.png", load_model("bicubic", scale=2))
    with Image.open(out) as im:  # 16 bits and alpha on to the PNG
        assert im.mode == "RGBA" and im.size == (32, 24)
    import png

    assert png.Reader(filename=str(out)).asDirect()[3]["bitdepth"] == 16


@pytest.mark.parametrize(
    "content, said",
    [
        (_ppm(b"P6", np.zeros((12, 16, 3), int), 65535)[:-100], r"truncated \(526 of 576 samples\)"),
        (_ppm(b"P3", np.full((2, 2, 3), 999), 500), "samples above the header's maximum of 500"),
        (b"P3\n2 1\n1023\n1 2 3 4 # not here\n5 6\n", "samples that are not whole numbers"),
        (b"P3\n2 1\n1023\n1 2 3 4\n", r"truncated \(4 of 6 samples\)"),
        (b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 5\nMAXVAL 255\nENDHDR\n" + bytes(80), "a PAM of 5 channels"),
        (b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 3\nMAXVAL 255\n" + bytes(48), "without ENDHDR"),
        (b"P7\nWIDTH 4\nHEIGHT x\nDEPTH 3\nMAXVAL 255\nENDHDR\n" + bytes(48), "without a numeric"),
        (b"P7\nWIDTH 4\nHEIGHT 4\nDEPTH 3\nMAXVAL 70000\nENDHDR\n" + bytes(96), "maximum sample value of 70000"),
        (b"P7\nWIDTH 0\nHEIGHT 4\nDEPTH 3\nMAXVAL 255\nENDHDR\n", "a 0 x 4 image"),
    ],
    ids=["truncated", "over-maxval", "plain-comment", "plain-truncated", "5-channels", "no-endhdr", "not-numeric"]
    + ["maxval-70000", "empty"],
)
def test_bad_ppm_and_pam_give_one_line(tmp_path, content, said):
    f = tmp_path / "bad.pam"
    f.write_bytes(content)
    with pytest.raises(SisrError, match=rf"^{f}: .*{said}"):
        read_image(f)


def test_a_colour_pfm_is_read_as_a_gray_one_is(tmp_path, capsys):
    """A colour PFM ("PF": 32-bit floats, rows from the bottom up) was "not a readable image";
    Pillow reads the gray one ("Pf"). Both are now display values, clipped to 0-1 with a warning,
    enlarged into a 16-bit PNG."""
    from sisr.cli import main
    from sisr.io import decoded_format, stored_size

    rgb = np.random.default_rng(5).random((12, 16, 3), dtype=np.float32)
    (tmp_path / "le.pfm").write_bytes(b"PF\n16 12\n-1.0\n" + rgb[::-1].astype("<f4").tobytes())
    (tmp_path / "be.pfm").write_bytes(b"PF 16 12 1\n" + rgb[::-1].astype(">f4").tobytes())
    (tmp_path / "gray.pfm").write_bytes(b"Pf\n16 12\n-1.0\n" + rgb[::-1, :, 1].astype("<f4").tobytes())
    for name in ("le.pfm", "be.pfm"):
        data = read_image(tmp_path / name)
        np.testing.assert_array_equal(data.pixels, rgb)
        assert data.bits == 16 and stored_size(tmp_path / name) == (16, 12) and decoded_format(tmp_path / name) == "PFM"
    np.testing.assert_array_equal(read_image(tmp_path / "gray.pfm").pixels[:, :, 0], rgb[:, :, 1])  # rows alike
    (tmp_path / "hdr.pfm").write_bytes(b"PF\n16 12\n-1.0\n" + (rgb * 4).astype("<f4").tobytes())
    with pytest.warns(UserWarning, match=r"hdr.pfm: floating-point samples from \S+ to \S+, where 0 is black"):
        assert read_image(tmp_path / "hdr.pfm").pixels.max() == 1.0
    assert main(["upscale", str(tmp_path / "le.pfm"), "-o", str(tmp_path / "out"), "--model", "bicubic"]) == 0
    out = read_image(tmp_path / "out" / "le_x4.png")
    assert out.bits == 16 and out.pixels.shape == (48, 64, 3)
    capsys.readouterr()
    nan = rgb.copy()
    nan[3, 4, 1] = np.nan
    for content, said in [
        (b"PF\n16 12\n-1.0\n" + nan.astype("<f4").tobytes(), "samples that are not finite"),
        (b"PF\n16 12\n-1.0\n" + bytes(100), r"the file is truncated \(25 of 576 samples\)"),
        (b"PF\n16 12\n0\n" + bytes(2304), "a malformed PFM header"),
        (b"PF\n16 x\n-1\n" + bytes(2304), "a malformed PFM header"),
    ]:
        (tmp_path / "bad.pfm").write_bytes(content)
        with pytest.raises(SisrError, match=rf"^{tmp_path / 'bad.pfm'}: {said}"):
            read_image(tmp_path / "bad.pfm")


def test_ppm_and_pam_respect_the_pixel_limit(tmp_path, monkeypatch):
    f = tmp_path / "big.pam"
    f.write_bytes(_pam(np.zeros((100, 100, 3), int), 65535, "RGB"))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 5000)
    with pytest.raises(SisrError, match="100 x 100 is over the limit of 5000 pixels"):
        read_image(f)


def test_the_size_of_a_tiff_pillow_cannot_open_is_read_from_its_header(tmp_path):
    """``--dry-run`` and ``sisr bench`` take sizes from headers: a float or 16-bit gray+alpha TIFF,
    which sisr reads with tifffile, was "not a readable image" there while a real run read it."""
    import tifffile

    from sisr.io import stored_size

    rgb = np.random.default_rng(2).random((12, 16, 3), dtype=np.float32)
    tifffile.imwrite(tmp_path / "turned.tif", rgb, photometric="rgb", extratags=[(274, 3, 1, 6, True)])
    assert stored_size(tmp_path / "turned.tif") == (16, 12)
    assert stored_size(tmp_path / "turned.tif", oriented=True) == (12, 16)
    assert read_image(tmp_path / "turned.tif").pixels.shape == (16, 12, 3)  # as its header said
    tifffile.imwrite(tmp_path / "ga.tif", np.zeros((12, 16, 2), np.uint16), extrasamples=["unassalpha"])
    assert stored_size(tmp_path / "ga.tif", oriented=True) == (16, 12)
    (tmp_path / "bad.tif").write_bytes(b"II*\x00" + b"\xff" * 12)
    with pytest.raises(SisrError, match="bad.tif: "), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's, of the damaged directory it tried
        stored_size(tmp_path / "bad.tif")


@pytest.mark.parametrize(
    "argv, said",
    [
        (["upscale", "IN", "-o", ""], "--output: empty"),  # was the current folder
        (["upscale", "", "-o", "o.png"], "inputs: empty"),  # was the current folder, walked
        (["upscale", "IN", "-o", "o.png", "--model", " "], "--model: empty"),  # was the default model
        (["compare", "IN", "--crop", "0,0,8,8", "--models", ",", "-o", "c.png"], "--models names no model"),
        (["serve", "--host", ""], "--host: empty"),  # Python binds "" to every interface
    ],
)
def test_an_empty_argument_is_refused_not_taken_for_a_default(argv, said, tmp_path, photo, monkeypatch, capsys):
    from sisr.cli import main

    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "in.png", photo[:24, :32])
    assert main([a.replace("IN", "in.png") for a in argv]) == 2
    assert said in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]
    assert main(["upscale", "in.png", "-o", "keep", "--suffix", "", "--model", "bicubic", "--quiet"]) == 0
    assert (tmp_path / "keep" / "in.png").is_file()  # --suffix "" keeps the name: allowed


def test_the_api_refuses_empty_paths_and_model_names(tmp_path, photo, monkeypatch):
    """Path("") is the current folder: upscale_folder("") walked it, and load_model("") was the
    default model."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "in.png", photo[:24, :32])
    bicubic = sisr.load_model("bicubic")
    for call, said in [
        (lambda: sisr.upscale("", model="bicubic"), "the image's path is empty"),
        (lambda: sisr.load_model(" "), "the model's name is empty"),
        (lambda: sisr.upscale_file("", "x.png", bicubic), "the input is empty"),
        (lambda: sisr.upscale_file("in.png", "", bicubic), "the output is empty"),
        (lambda: sisr.upscale_folder("", "out", "bicubic"), "an input is empty"),
        (lambda: sisr.upscale_folder(".", "", "bicubic"), "the output is empty"),
    ]:
        with pytest.raises(SisrError, match=said):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_jpeg_quality_is_read_from_the_header():
    from sisr.io import jpeg_quality

    a = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    for q in range(1, 101):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "JPEG", quality=q)
        buf.seek(0)
        assert jpeg_quality(Image.open(buf)) == q
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG")
    assert jpeg_quality(Image.open(buf)) is None


def test_jpeg_quality_of_files_and_a_camera_s_mpo(tmp_path):
    from sisr.io import jpeg_quality

    a = (np.random.default_rng(0).random((32, 32, 3)) * 255).astype(np.uint8)
    Image.fromarray(a).save(tmp_path / "two.mpo", "MPO", save_all=True, append_images=[Image.fromarray(a)], quality=40)
    Image.fromarray(a).save(tmp_path / "a.jpg", quality=45)
    Image.fromarray(a).save(tmp_path / "a.png")
    assert Image.open(tmp_path / "two.mpo").format == "MPO"
    assert jpeg_quality(tmp_path / "two.mpo") == 40 and jpeg_quality(tmp_path / "a.jpg") == 45
    assert jpeg_quality(tmp_path / "a.png") is None and jpeg_quality(tmp_path / "none.jpg") is None


def test_low_quality_jpegs_get_the_real_photo_model_advised(tmp_path, photo, capsys):
    from sisr.api import JPEG_ADVICE_BELOW
    from sisr.cli import main

    src = tmp_path / "in"
    src.mkdir()
    for q in (30, 45, 90):
        Image.fromarray(photo[:24, :32]).save(src / f"j{q}.jpg", quality=q)
    Image.fromarray(photo[:24, :32]).save(src / "p.png")
    run = ["upscale", "-o", str(tmp_path / "out"), "--scale", "2", "--quiet"]
    assert JPEG_ADVICE_BELOW == 50
    assert main([*run, str(src / "j30.jpg"), "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "j30.jpg: a JPEG saved at quality about 30: rrgan-x4 enlarges its compression blocks; " in err
    assert "the model rrgan-real-x4, trained on such photos, scores higher on them" in err
    assert main([*run, str(src), "--dry-run"]) == 0  # a folder: one line for all
    err = capsys.readouterr().err
    assert "2 JPEGs saved below quality 50 (j30.jpg 30, j45.jpg 45): rrgan-x4 enlarges their" in err
    assert err.count("quality") == 1
    for quiet in (["--model", "rrgan-real-x4"], ["--model", "bicubic"]):  # the model itself, or no model
        assert main([*run, str(src), "--dry-run", *quiet]) == 0
        assert "JPEG" not in capsys.readouterr().err
    assert main([*run, str(src / "j90.jpg"), "--dry-run"]) == 0
    assert "JPEG" not in capsys.readouterr().err


def test_the_python_api_advises_on_a_low_quality_jpeg_as_the_cli_does(tmp_path, photo):
    """sisr.upscale gave no advice: only the CLI, the folder API and the web app did."""
    import io
    import warnings

    import sisr

    Image.fromarray(photo[:24, :32]).save(tmp_path / "j30.jpg", quality=30)
    Image.fromarray(photo[:24, :32]).save(tmp_path / "j90.jpg", quality=90)
    raw = (tmp_path / "j30.jpg").read_bytes()

    def said(image, model="rrgan-x4"):
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sisr.upscale(image, model, scale=2)
        return [str(x.message) for x in w if "JPEG" in str(x.message)]

    expect = "a JPEG saved at quality about 30: rrgan-x4 enlarges its compression blocks; the model rrgan-real-x4"
    assert said(tmp_path / "j30.jpg") == [
        f"{tmp_path / 'j30.jpg'}: {expect}, trained on such photos, scores higher on them"
    ]
    for opened in (raw, io.BytesIO(raw), Image.open(tmp_path / "j30.jpg")):  # bytes, a file, a PIL image
        assert said(opened) == [f"image: {expect}, trained on such photos, scores higher on them"]
    assert said(np.asarray(Image.open(tmp_path / "j30.jpg"))) == []  # an array has no header to read
    assert said(tmp_path / "j90.jpg") == [] and said(tmp_path / "j30.jpg", "rrgan-real-x4") == []


def test_an_output_name_and_a_format_that_disagree_are_refused(tmp_path, photo, capsys):
    """-o r.png --format webp wrote r.webp, a name the user did not give; the same format under
    another suffix (r.jpeg, jpg) keeps the name, and a suffix of no format takes the format's."""
    from sisr.cli import main

    src = tmp_path / "a.png"
    Image.fromarray(photo[:16, :16]).save(src)
    run = ["upscale", str(src), "--model", "bicubic", "--scale", "2", "--quiet", "-o"]
    assert main([*run, str(tmp_path / "r.png"), "--format", "webp"]) == 2
    assert "r.png: a .png name, and --format webp: give one (-o " in capsys.readouterr().err
    assert not list(tmp_path.glob("r.*"))
    assert main([*run, str(tmp_path / "r.jpeg"), "--format", "jpg"]) == 0
    assert main([*run, str(tmp_path / "r.out"), "--format", "webp"]) == 0
    assert sorted(p.name for p in tmp_path.glob("r.*")) == ["r.jpeg", "r.webp"]
    assert Image.open(tmp_path / "r.jpeg").format == "JPEG"
