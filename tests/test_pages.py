"""Multi-page TIFF (scans, faxes, documents): each page upscaled as a TIFF of one would be, into
one TIFF of as many pages; a reduced-resolution copy is not a page; one-page formats are refused."""

import io

import numpy as np
import pytest
import tifffile
from PIL import Image

from sisr.api import load_upscaler, upscale_file
from sisr.errors import SisrError
from sisr.io import read_image, read_pages, tiff_pages, write_image, write_pages


@pytest.fixture(scope="module")
def bicubic2():
    return load_upscaler("bicubic", 2)


def scan(path, photo):
    """Three pages of different sizes and kinds (8-bit RGB, 16-bit RGB, 8-bit gray), and a thumbnail."""
    pages = [
        photo[:40, :48],
        (photo[40:72, :36].astype(np.uint16) * 257 + 7),
        photo[:24, :28, 1],
    ]
    with tifffile.TiffWriter(path) as tw:
        tw.write(pages[0], photometric="rgb")
        tw.write(pages[0][::4, ::4], photometric="rgb", subfiletype=1)  # reduced-resolution copy
        tw.write(pages[1], photometric="rgb")
        tw.write(pages[2], photometric="minisblack")
    return pages


def test_pages_are_read_each_as_a_tiff_of_one(tmp_path, photo):
    pages = scan(tmp_path / "scan.tif", photo)
    assert tiff_pages(tmp_path / "scan.tif") == 3
    got = read_pages(tmp_path / "scan.tif")
    assert [(g.pixels.shape, g.bits) for g in got] == [((40, 48, 3), 8), ((32, 36, 3), 16), ((24, 28, 1), 8)]
    for g, want in zip(got, pages):
        top = 65535.0 if want.dtype == np.uint16 else 255.0
        np.testing.assert_allclose(g.pixels, (want / top).reshape(g.pixels.shape), atol=1e-6)
    with pytest.raises(SisrError, match="3 frames .multi-page; sisr upscale enlarges each page"):
        read_image(tmp_path / "scan.tif")


def test_each_page_is_upscaled_as_alone(tmp_path, photo, bicubic2):
    src = tmp_path / "scan.tif"
    scan(src, photo)
    out = upscale_file(src, tmp_path / "scan_x2.tif", bicubic2)
    assert tiff_pages(out) == 3
    for i, (page, result) in enumerate(zip(read_pages(src), read_pages(out))):
        alone = write_image(tmp_path / f"p{i}.tif", page)
        want = read_image(upscale_file(alone, tmp_path / f"p{i}_x2.tif", bicubic2))
        assert (result.bits, result.pixels.shape) == (want.bits, want.pixels.shape)
        np.testing.assert_array_equal(result.pixels, want.pixels)
    with tifffile.TiffFile(out) as tf:  # 16 bits stay 16 bits, page by page
        assert [p.dtype for p in tf.pages] == [np.uint8, np.uint16, np.uint8]


def test_one_page_formats_are_refused_before_any_work(tmp_path, photo, bicubic2):
    src = tmp_path / "scan.tif"
    scan(src, photo)
    with pytest.raises(SisrError, match=r"3 pages, and \.png holds one; write \.tif"):
        upscale_file(src, tmp_path / "o.png", bicubic2)
    assert not (tmp_path / "o.png").exists()


def test_size_and_progress_over_pages_of_different_sizes(tmp_path, photo):
    src = tmp_path / "scan.tif"
    scan(src, photo)
    seen = []
    up = load_upscaler("rrgan-x4", 2, tile=32, overlap=8)
    out = upscale_file(src, tmp_path / "o.tif", up, restore=True, on_tile=lambda d, t: seen.append((d, t)))
    assert [p.pixels.shape[:2] for p in read_pages(out)] == [(40, 48), (32, 36), (24, 28)]
    assert len({t for _, t in seen}) == 1 and seen[-1][0] == seen[-1][1]
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    from sisr.cli import _progress_words  # the CLI's bar names the pages (the thumbnail is not one)

    assert _progress_words(src, 3) == {"desc": "scan.tif (3 pages)", "unit": "page"}


def test_a_failing_page_leaves_no_file(tmp_path):
    def pages():
        yield read_pages  # not an ImageData: fails as a bug would
        raise AssertionError("not reached")

    with pytest.raises(AttributeError):
        write_pages(tmp_path / "o.tif", pages())
    assert list(tmp_path.iterdir()) == []


def test_the_web_app_takes_a_scan_and_previews_its_first_page(photo, tmp_path):
    import time
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from sisr.serve import ServeConfig, create_app

    scan(tmp_path / "scan.tif", photo)
    body = (tmp_path / "scan.tif").read_bytes()
    with TestClient(create_app(ServeConfig(max_upload_mb=1))) as c:
        bad = c.post("/api/jobs", files={"file": ("s.tif", body)}, data={"model": "bicubic", "format": "png"})
        assert bad.status_code == 400 and "3 pages, and .png holds one" in bad.json()["error"]
        r = c.post("/api/jobs", files={"file": ("s.tif", body)}, data={"model": "bicubic", "scale": "2"})
        assert r.status_code == 202, r.text
        job = r.json()["id"]
        for _ in range(600):
            if (s := c.get(f"/api/jobs/{job}").json())["status"] != "queued" and s["status"] != "running":
                break
            time.sleep(0.05)
        assert s["status"] == "done" and s["filename"] == "s_x2.tif", s
        result = tmp_path / "got.tif"
        result.write_bytes(c.get(f"/api/jobs/{job}/result").content)
        assert tiff_pages(result) == 3
        preview = Image.open(io.BytesIO(c.get(f"/api/jobs/{job}/preview").content))
        assert (preview.format, preview.size) == ("PNG", (96, 80))


def test_a_scan_is_read_a_page_at_a_time(tmp_path, photo, monkeypatch):
    """A long scan is never in memory whole: each page is decoded when its turn comes."""
    import sisr.io

    src = tmp_path / "scan.tif"
    scan(src, photo)
    decoded, seen = [], []
    from_pil = sisr.io.from_pil
    monkeypatch.setattr(sisr.io, "from_pil", lambda *a, **k: decoded.append(1) or from_pil(*a, **k))
    up = load_upscaler("rrgan-x4", 2, tile=32, overlap=8)
    upscale_file(src, tmp_path / "o.tif", up, on_tile=lambda d, t: seen.append((d, len(decoded))))
    assert seen[0][1] == 1 and seen[-1][1] == 2  # page 1 runs with only itself decoded; the 16-bit page uses tifffile
    pages = sisr.io.iter_pages(src)
    assert next(pages).pixels.shape[:2] == (40, 48) and len(decoded) == 3
    pages.close()


def test_every_page_is_held_to_the_pixel_limit(tmp_path, monkeypatch):
    src = tmp_path / "bomb.tif"
    with tifffile.TiffWriter(src) as tw:  # a small first page, which is all Pillow checks, then a large one
        tw.write(np.zeros((8, 8), np.uint8))
        tw.write(np.zeros((400, 400), np.uint8))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(SisrError, match="page 2 of 400 x 400 is over the limit of 10000 pixels"):
        upscale_file(src, tmp_path / "o.tif", load_upscaler("bicubic", 2))
    assert not (tmp_path / "o.tif").exists()
