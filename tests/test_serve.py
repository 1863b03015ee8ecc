"""The web API: every endpoint and error, the queue bound, cancel, retention, events, and a fuzz."""

import io
import time
import warnings
import zipfile

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from sisr.serve import ServeConfig, create_app


def png_bytes(h=24, w=20, seed=0) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def wait(c, job_id, states=("done", "failed", "cancelled"), timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        s = c.get(f"/api/jobs/{job_id}").json()
        if s["status"] in states:
            return s
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {s['status']}")


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeConfig(max_upload_mb=1))) as c:
        yield c


def test_health_models_and_page(client):
    assert client.get("/api/health").json()["status"] == "ok"
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert models["rrgan-x4"]["scales"] == [2, 4] and models["drsingan"]["kind"] == "zero-shot"
    assert "<title>sisr" in client.get("/").text
    assert client.get("/docs").status_code == 200 and "/api/jobs" in client.get("/openapi.json").text


def test_job_lifecycle_result_events_and_zip(client):
    r = client.post(
        "/api/jobs", files={"file": ("a b.png", png_bytes(), "image/png")}, data={"model": "bicubic", "scale": "3"}
    )
    assert r.status_code == 202
    job_id = r.json()["id"]
    assert len(job_id) >= 20  # random, unguessable
    events = client.get(f"/api/jobs/{job_id}/events").text
    assert events.startswith("data: ") and '"status": "done"' in events
    s = wait(client, job_id)
    assert s["status"] == "done" and s["progress"] == 1.0 and s["filename"] == "a b_x3.png"
    res = client.get(f"/api/jobs/{job_id}/result")
    assert res.status_code == 200 and Image.open(io.BytesIO(res.content)).size == (60, 72)
    assert (s["input_size"], s["result_size"], s["result_bytes"]) == ([20, 24], [60, 72], len(res.content))
    again = client.post(
        "/api/jobs", files={"file": ("a b.png", png_bytes(), "image/png")}, data={"model": "bicubic", "scale": "3"}
    ).json()["id"]
    wait(client, again)
    z = client.get(f"/api/results.zip?ids={job_id},{again}")
    assert z.status_code == 200 and z.content[:2] == b"PK"
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert names == ["bicubic/a b_x3.png", "bicubic/a b_x3 (2).png"]  # the same image twice: both kept
    assert not list(client.app.state.runner.root.glob("*.zip"))  # packed on disk, deleted once sent
    assert client.delete(f"/api/jobs/{job_id}").status_code == 200
    assert client.get(f"/api/jobs/{job_id}").status_code == 404


def test_a_result_is_named_safely_for_any_upload_name(client):
    """The name a result downloads under, alone or in the zip of results (unpacked on Windows too):
    no folders of either slash, no characters Windows refuses, no hidden-file dot."""
    named = {
        "..\\..\\evil:1?.png": "evil_1__x2.png",
        ".png": "png_x2.png",
        "..png": "image_x2.png",
        "照片.png": "照片_x2.png",
    }
    ids = []
    for upload, expected in named.items():
        r = client.post(
            "/api/jobs", files={"file": (upload, png_bytes(), "image/png")}, data={"model": "bicubic", "scale": "2"}
        )
        ids.append(r.json()["id"])
        assert wait(client, ids[-1])["filename"] == expected, upload
    names = zipfile.ZipFile(io.BytesIO(client.get(f"/api/results.zip?ids={','.join(ids)}").content)).namelist()
    assert names == [f"bicubic/{n}" for n in named.values()]


def test_a_phone_heic_a_jpeg_xl_a_pam_and_a_16bit_tiff_come_back_as_png_and_16bit_tiff(client):
    import pillow_heif
    import tifffile

    pillow_heif.register_heif_opener()
    heic = io.BytesIO()
    Image.open(io.BytesIO(png_bytes())).save(heic, format="HEIF", quality=95)
    tiff = io.BytesIO()
    tifffile.imwrite(tiff, np.arange(24 * 20 * 3, dtype=np.uint16).reshape(24, 20, 3) * 40, photometric="rgb")
    jxl = io.BytesIO()
    import pillow_jxl  # noqa: F401  (registers the JPEG XL writer this test makes its upload with)

    Image.open(io.BytesIO(png_bytes())).save(jxl, format="JXL", lossless=True)
    uploads = [("IMG_1.HEIC", heic, "IMG_1_x2.png", "PNG"), ("s.tif", tiff, "s_x2.tif", None)]
    pam = io.BytesIO(b"P7\nWIDTH 20\nHEIGHT 24\nDEPTH 4\nMAXVAL 65535\nTUPLTYPE RGB_ALPHA\nENDHDR\n" + bytes(3840))
    uploads += [("p.jxl", jxl, "p_x2.png", "PNG"), ("netpbm.pam", pam, "netpbm_x2.png", "PNG")]
    for name, body, filename, fmt in uploads:
        data = {"model": "bicubic", "scale": "2"}
        r = client.post("/api/jobs", files={"file": (name, body.getvalue(), "image/*")}, data=data)
        assert r.status_code == 202, r.text
        s = wait(client, r.json()["id"])
        assert s["status"] == "done" and s["filename"] == filename, s
        res = client.get(f"/api/jobs/{r.json()['id']}/result").content
        if fmt:
            assert Image.open(io.BytesIO(res)).format == fmt
        else:
            out = tifffile.imread(io.BytesIO(res))
            assert out.dtype == np.uint16 and out.shape == (48, 40, 3)


def test_output_format_quality_and_warnings_are_the_clis(client, tmp_path, capsys):
    from sisr.cli import main

    rgba = np.random.default_rng(1).integers(0, 256, (24, 20, 4), dtype=np.uint8)
    rgba[:, :, 3] = np.where(np.arange(20) < 10, 255, 0)  # half transparent: JPEG cannot keep that
    src = tmp_path / "half.png"
    Image.fromarray(rgba, "RGBA").save(src)
    data = {"model": "bicubic", "scale": "2", "format": "jpg", "quality": "70"}
    r = client.post("/api/jobs", files={"file": ("half.png", src.read_bytes(), "image/png")}, data=data)
    assert r.status_code == 202, r.text
    s = wait(client, r.json()["id"])
    assert (s["status"], s["filename"], s["format"], s["quality"]) == ("done", "half_x2.jpg", "jpg", 70)
    assert s["warnings"] == ["half_x2.jpg: JPEG has no alpha; transparent areas are flattened onto white"]
    page = client.get(f"/api/jobs/{r.json()['id']}/result").content
    ref = tmp_path / "half_x2.jpg"
    args = ["upscale", str(src), "-o", str(ref), "--model", "bicubic", "--scale", "2", "--quality", "70", "--quiet"]
    assert main(args) == 0
    assert page == ref.read_bytes()
    assert f"sisr: warning: {ref}: JPEG has no alpha" in capsys.readouterr().err
    # the next job's same warning is its own, not swallowed as a repeat
    r2 = client.post("/api/jobs", files={"file": ("half.png", src.read_bytes(), "image/png")}, data=data)
    assert wait(client, r2.json()["id"])["warnings"] == s["warnings"]
    # a format with no transparency trouble says nothing
    data = {"model": "bicubic", "scale": "2", "format": "webp"}
    r3 = client.post("/api/jobs", files={"file": ("half.png", src.read_bytes(), "image/png")}, data=data)
    s3 = wait(client, r3.json()["id"])
    assert s3["warnings"] == [] and s3["filename"] == "half_x2.webp" and s3["quality"] is None
    assert Image.open(io.BytesIO(client.get(f"/api/jobs/{r3.json()['id']}/result").content)).format == "WEBP"


def test_a_low_quality_jpeg_gets_the_real_photo_model_advised_under_its_job(client):
    a = np.random.default_rng(2).integers(0, 256, (24, 20, 3), dtype=np.uint8)
    warned = []
    for model, quality in (("rrgan-x4", 30), ("rrgan-real-x4", 30), ("rrgan-x4", 90)):
        buf = io.BytesIO()
        Image.fromarray(a).save(buf, "JPEG", quality=quality)
        r = client.post("/api/jobs", files={"file": ("c.jpg", buf.getvalue(), "image/jpeg")}, data={"model": model})
        warned.append(wait(client, r.json()["id"])["warnings"])
    assert warned[0] == [
        "upload: a JPEG saved at quality about 30: rrgan-x4 enlarges its compression blocks; "
        "the model rrgan-real-x4, trained on such photos, scores higher on them"
    ]
    assert warned[1] == warned[2] == []


def test_strip_metadata_as_the_cli(client, tmp_path):
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (51.0, 28.0, 40.0)  # GPSLatitude: where the photo was taken
    buf = io.BytesIO()
    Image.open(io.BytesIO(png_bytes())).convert("RGB").save(buf, "JPEG", exif=exif.tobytes(), quality=90)
    results = {}
    for strip in ("", "1"):
        data = {"model": "bicubic", "scale": "2", "strip_metadata": strip}
        r = client.post("/api/jobs", files={"file": ("gps.jpg", buf.getvalue(), "image/jpeg")}, data=data)
        assert r.status_code == 202, r.text
        s = wait(client, r.json()["id"])
        assert s["status"] == "done" and s["strip_metadata"] is bool(strip)
        results[strip] = Image.open(io.BytesIO(client.get(f"/api/jobs/{s['id']}/result").content))
    assert results[""].getexif().get_ifd(0x8825)[2] == (51.0, 28.0, 40.0)
    assert not results["1"].getexif()


def test_restore_at_x1_a_target_width_and_a_fractional_scale_as_the_cli(client, tmp_path):
    from sisr.cli import main

    src = tmp_path / "p.png"
    src.write_bytes(png_bytes(24, 20, seed=3))
    for data, flags, size, name in [
        ({"scale": "1"}, ["--scale", "1"], (20, 24), "p_x1.png"),
        ({"scale": "2", "width": "50"}, ["--scale", "2", "--width", "50"], (50, 60), "p_x2.png"),
        ({"scale": "1.5"}, ["--scale", "1.5"], (30, 36), "p_x1.5.png"),
    ]:
        r = client.post("/api/jobs", files={"file": ("p.png", src.read_bytes(), "image/png")}, data=data)
        assert r.status_code == 202, r.text
        s = wait(client, r.json()["id"])
        assert s["status"] == "done" and s["filename"] == name, s
        page = np.asarray(Image.open(io.BytesIO(client.get(f"/api/jobs/{r.json()['id']}/result").content)))
        ref = tmp_path / f"cli_{name}"
        assert main(["upscale", str(src), "-o", str(ref), "--quiet", *flags]) == 0
        assert page.shape[:2] == size[::-1] and np.array_equal(page, np.asarray(Image.open(ref)))


def test_a_tiff_result_has_a_png_preview_a_page_can_show(client):
    import tifffile

    tiff = io.BytesIO()
    tifffile.imwrite(tiff, (np.arange(24 * 20 * 3, dtype=np.uint16).reshape(24, 20, 3) * 40), photometric="rgb")
    r = client.post("/api/jobs", files={"file": ("s.tif", tiff.getvalue(), "image/tiff")}, data={"model": "bicubic"})
    job = r.json()["id"]
    assert client.get(f"/api/jobs/{job}/preview").status_code in (200, 409)  # 409 only while it runs
    assert wait(client, job)["status"] == "done"
    result = tifffile.imread(io.BytesIO(client.get(f"/api/jobs/{job}/result").content))
    shown = client.get(f"/api/jobs/{job}/preview")
    assert shown.headers["content-type"] == "image/png"
    png = np.asarray(Image.open(io.BytesIO(shown.content)))  # Pillow reads 16-bit RGB PNG at 8 bits
    assert result.dtype == np.uint16 and png.shape == result.shape
    assert np.abs(png.astype(int) - np.round(result / 257).astype(int)).max() <= 1
    # a PNG result is its own preview
    r = client.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "bicubic"})
    job = r.json()["id"]
    wait(client, job)
    assert client.get(f"/api/jobs/{job}/preview").content == client.get(f"/api/jobs/{job}/result").content
    # so is an AVIF result, which browsers show, with quality as the CLI's
    data = {"model": "bicubic", "format": "avif", "quality": "60"}
    r = client.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data=data)
    job = r.json()["id"]
    assert (wait(client, job)["filename"], wait(client, job)["quality"]) == ("a_x4.avif", 60)
    shown = client.get(f"/api/jobs/{job}/preview")
    assert shown.headers["content-type"] == "image/avif" and Image.open(io.BytesIO(shown.content)).format == "AVIF"
    assert shown.content == client.get(f"/api/jobs/{job}/result").content


@pytest.mark.parametrize(
    "files, data, status, needle",
    [
        ({"file": ("x.png", b"not an image", "image/png")}, {}, 400, "not a readable image"),
        ({"file": ("x.png", b"", "image/png")}, {}, 400, "empty"),
        ({"file": ("IMG_1.CR3", b"\x00\x00\x00\x18ftypcrx ", "image/x-canon-cr3")}, {}, 400, "camera raw"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"model": "nope"}, 400, "unknown model 'nope'"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"model": "srcnn", "scale": "2"}, 400, "does not upscale x2"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"model": "drsingan", "tile": "64"}, 400, "does not apply"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"scale": "two"}, 400, "scale must be a number, 1 or more"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"scale": "2.5", "width": "30"}, 400, "sets the result's size"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"format": "bmp"}, 400, "unknown format 'bmp'"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"quality": "high"}, 400, "quality must be a whole number"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"quality": "0", "format": "jpg"}, 400, "1 to 100"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"quality": "80"}, 400, "x_x4.png: quality applies to JPEG"),
        ({"file": ("x.png", png_bytes(1, 4100), "image/png")}, {"format": "webp"}, 400, "over WebP's limit"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"width": "wide"}, 400, "whole numbers of pixels"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"height": "0"}, 400, "1 to 65535"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"strip_metadata": "maybe"}, 400, "strip_metadata must be 1"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"ensemble": "2"}, 400, "ensemble must be 1 or 0"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"scale": "1", "width": "30"}, 400, "does not apply"),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"width": "20000", "format": "webp"}, 400, "WebP's limit"),
        (
            {"file": ("x.png", png_bytes(), "image/png")},
            {"tiles": "64"},
            400,
            "unknown field 'tiles' (did you mean 'tile'?",
        ),
        ({"file": ("x.png", png_bytes(), "image/png")}, {"scale": ["2", "4"]}, 400, "'scale' is given more than once"),
        ({"file": ("x.png", b"0" * (2 << 20), "image/png")}, {}, 413, "larger than 1 MB"),
        (None, {"model": "bicubic"}, 400, "'file' field"),
    ],
)
def test_bad_requests_get_a_4xx_with_one_line(client, files, data, status, needle):
    r = client.post("/api/jobs", files=files, data=data)
    assert r.status_code == status
    err = r.json()["error"]
    assert needle in err and "\n" not in err and "/tmp" not in err


def test_unknown_job_and_result_before_done(client):
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/nope/result").json() == {"error": "no job 'nope'"}
    assert client.delete("/api/jobs/nope").status_code == 404


def test_full_queue_429_and_cancel_of_a_queued_and_a_running_job(photo):
    img = io.BytesIO()
    Image.fromarray(photo[100:164, 100:164]).save(img, "PNG")
    with TestClient(create_app(ServeConfig(max_queue=2))) as c:
        ids = []
        for _ in range(2):
            r = c.post(
                "/api/jobs",
                files={"file": ("p.png", img.getvalue(), "image/png")},
                data={"model": "drsingan", "scale": "2"},
            )
            assert r.status_code == 202
            ids.append(r.json()["id"])
        full = c.post("/api/jobs", files={"file": ("p.png", png_bytes(), "image/png")}, data={"model": "bicubic"})
        assert (
            full.status_code == 429 and full.headers["retry-after"] == "5" and "queue is full" in full.json()["error"]
        )
        running = wait(c, ids[0], states=("running",))
        assert running["status"] == "running"
        assert c.get("/api/health").status_code == 200  # answers while a job runs
        end = time.time() + 20
        while c.get(f"/api/jobs/{ids[0]}").json()["progress"] == 0 and time.time() < end:
            time.sleep(0.05)
        assert c.get(f"/api/jobs/{ids[0]}").json()["eta_s"] is not None  # zero-shot reports training progress
        assert c.get(f"/api/jobs/{ids[1]}").json()["status"] == "queued"
        assert c.delete(f"/api/jobs/{ids[1]}").json()["status"] == "cancelled"
        assert c.delete(f"/api/jobs/{ids[0]}").json()["status"] == "cancelled"
        runner = c.app.state.runner
        assert runner.active() == 0
        end = time.time() + 30  # the running job stops at its next training iteration
        while list(runner.root.iterdir()) and time.time() < end:
            time.sleep(0.05)
        assert not list(runner.root.iterdir())  # no files left behind
        assert c.get("/api/health").json()["running"] is None


def test_retention_deletes_finished_jobs_and_their_files():
    with TestClient(create_app(ServeConfig(retention_s=0.2))) as c:
        job_id = c.post(
            "/api/jobs", files={"file": ("x.png", png_bytes(), "image/png")}, data={"model": "bicubic"}
        ).json()["id"]
        wait(c, job_id)
        runner = c.app.state.runner
        time.sleep(0.3)
        runner.sweep()
        assert c.get(f"/api/jobs/{job_id}").status_code == 404
        assert not (runner.root / job_id).exists()
    assert not runner.root.exists()  # the private folder goes on shutdown


fields = st.dictionaries(
    st.sampled_from(["model", "scale", "tile", "ensemble", "precision", "format", "quality", "extra"]),
    st.one_of(
        st.text(max_size=12),
        st.sampled_from(["bicubic", "rrgan-x4", "4", "-1", "0", "1e9", "bf16", "jpg", "webp", "tiff", "101", "95"]),
    ),
    max_size=4,
)
payloads = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda n: png_bytes()[:n], st.integers(0, 200)),  # truncated images
    st.just(png_bytes()),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=payloads, data=fields, field_name=st.sampled_from(["file", "file", "image"]), raw=st.booleans())
def test_fuzz_post_jobs_never_5xx(client, payload, data, field_name, raw):
    if raw:
        r = client.post("/api/jobs", content=payload, headers={"content-type": "multipart/form-data; boundary=xyz"})
    else:
        r = client.post("/api/jobs", files={field_name: ("f.png", payload, "image/png")}, data=data)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert set(r.json()) == {"error"}
    else:
        client.delete(f"/api/jobs/{r.json()['id']}")


def gif_bytes(n=3, h=24, w=20) -> bytes:
    rng = np.random.default_rng(5)
    frames = [Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)) for _ in range(n)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=[50, 60, 70][:n], loop=0)
    return buf.getvalue()


def test_an_animated_gif_comes_back_animated(client):
    data = {"model": "bicubic", "scale": "2"}
    r = client.post("/api/jobs", files={"file": ("cat.gif", gif_bytes(), "image/gif")}, data=data)
    assert r.status_code == 202, r.text
    s = wait(client, r.json()["id"])
    assert s["status"] == "done" and s["filename"] == "cat_x2.gif", s
    im = Image.open(io.BytesIO(client.get(f"/api/jobs/{r.json()['id']}/result").content))
    assert (im.format, im.size, im.n_frames, im.info["loop"]) == ("GIF", (40, 48), 3, 0)
    preview = client.get(f"/api/jobs/{r.json()['id']}/preview")
    assert preview.status_code == 200 and Image.open(io.BytesIO(preview.content)).n_frames == 3
    r = client.post("/api/jobs", files={"file": ("cat.gif", gif_bytes(), "image/gif")}, data={**data, "format": "webp"})
    s = wait(client, r.json()["id"])
    im = Image.open(io.BytesIO(client.get(f"/api/jobs/{r.json()['id']}/result").content))
    assert (s["filename"], im.format, im.n_frames) == ("cat_x2.webp", "WEBP", 3)


@pytest.mark.parametrize(
    "data, message",
    [
        ({"model": "bicubic", "scale": "2", "format": "jpg"}, "cat_x2.jpg: 3 frames, and .jpg holds one"),
        ({"model": "drsingan", "scale": "2"}, "upload: an animation of 3 frames; drsingan trains on each image"),
    ],
)
def test_an_animation_that_cannot_be_done_is_refused_at_upload(client, data, message):
    r = client.post("/api/jobs", files={"file": ("cat.gif", gif_bytes(), "image/gif")}, data=data)
    assert r.status_code == 400 and r.json()["error"].startswith(message), r.text


def test_sisr_serve_answers_at_the_printed_address_and_stops_on_ctrl_c():
    import signal
    import socket
    import subprocess
    import sys
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "sisr", "serve", "--port", str(port)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"sisr serve: http://127.0.0.1:{port}/"), line
        where = "cpu" if not torch.cuda.is_available() else "cuda"
        assert f"(models run on {where}" in line, line
        # Straight after the line, before the app has started: the connection waits, it is not refused.
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/models", timeout=60) as r:
            assert r.status == 200
        taken = subprocess.run(cmd, capture_output=True, text=True, timeout=60)  # the same port again
        assert taken.returncode == 2 and taken.stdout == "", taken.stdout
        assert taken.stderr.startswith(f"sisr: error: cannot listen on 127.0.0.1:{port}: ")
        assert taken.stderr.endswith("(another server? pick another --port)\n") and taken.stderr.count("\n") == 1
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        # 130 as a shell's Ctrl+C; 0 where SIGINT was ignored when it started (a background job, CI)
        assert proc.returncode in (0, 130) and "Traceback" not in err, err
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--port", "99999"], "--port must be 0 to 65535, got 99999"),
        (["--host", "no-such-host.invalid"], "--host no-such-host.invalid: "),
    ],
)
def test_sisr_serve_refuses_an_address_in_one_line(args, message):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "sisr", "serve", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "" and r.stderr.startswith(f"sisr: error: {message}"), r.stderr
    assert len(r.stderr.splitlines()) == 1


def test_the_file_picker_offers_every_kind_sisr_reads(client):
    """A picker filtering on image/* alone hides files whose type the system does not know
    (HEIC, JPEG XL on many machines): each suffix sisr reads is named."""
    import re

    from sisr.io import IMAGE_SUFFIXES

    accept = re.search(r'id="file"[^>]*accept="([^"]*)"', client.get("/").text).group(1).split(",")
    assert set(IMAGE_SUFFIXES) <= set(accept) and "image/*" in accept


def test_an_uploads_spooled_file_is_closed_with_its_request(client, monkeypatch):
    """A refused upload's spooled file (on disk past 1 MB) stayed open until garbage collection."""
    from starlette.datastructures import UploadFile

    closed = []
    real = UploadFile.close

    async def close(self):
        closed.append(self.filename)
        await real(self)

    monkeypatch.setattr(UploadFile, "close", close)
    for data in ({"model": "no-such-model"}, {"model": "bicubic", "scale": "2"}):
        r = client.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data=data)
        assert r.status_code in (202, 400)
    assert closed == ["a.png", "a.png"]


def test_the_servers_device_is_where_its_models_run(capsys):
    from sisr.cli import main

    with TestClient(create_app(ServeConfig(device="cpu"))) as c:
        r = c.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "srcnn"})
        assert r.status_code == 202 and wait(c, r.json()["id"])["status"] == "done"
    assert main(["serve", "--device", "tpu", "--port", "0"]) == 2  # before it binds or serves
    assert capsys.readouterr().err == "sisr: error: device must be 'cpu' or 'cuda[:N]', got 'tpu'\n"


def test_sisr_serve_model_offers_ones_own_weights_on_the_page(tmp_path, monkeypatch):
    """A user who trained a model could use it everywhere but in the web app."""
    import shutil

    from sisr.errors import SisrError
    from sisr.models import weights_path
    from sisr.serve import own_models

    run = tmp_path / "my-run"
    run.mkdir()
    shutil.copy(weights_path("srcnn"), run / "model.safetensors")
    shutil.copy(weights_path("srcnn-y"), tmp_path / "luma.safetensors")
    import sisr.serve as serve_mod

    loads = []
    real_load = serve_mod.load_model
    monkeypatch.setattr(serve_mod, "load_model", lambda p, *a, **k: loads.append(p) or real_load(p, *a, **k))
    own = own_models([str(run), str(tmp_path / "luma.safetensors")])
    assert own == (("my-run", str(run)), ("luma", str(tmp_path / "luma.safetensors")))
    serve_mod._models_info(own)
    monkeypatch.undo()
    assert sorted(loads) == sorted([str(run), str(tmp_path / "luma.safetensors")])  # once each: checked, then listed
    with TestClient(create_app(ServeConfig(own=own))) as c:
        models = {m["name"]: m for m in c.get("/api/models").json()["models"]}
        assert models["my-run"]["description"] == f"your model: {run}" and models["my-run"]["scales"] == [4]
        assert models["luma"]["kind"] == "supervised" and "rrgan-x4" in models
        assert models["luma"]["own"] and not models["rrgan-x4"]["own"]  # the page labels it "(yours)"
        r = c.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "my-run"})
        s = wait(c, r.json()["id"])
        assert s["status"] == "done" and s["result_size"] == [80, 96], s
        got = np.asarray(Image.open(io.BytesIO(c.get(f"/api/jobs/{s['id']}/result").content)))
        import sisr

        want = sisr.upscale(png_bytes(), str(run))
        assert np.array_equal(got, np.floor(want * 255 + 0.5).astype(np.uint8))  # the folder's weights ran
        bad = c.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "my-rum"})
        assert bad.status_code == 400 and "my-run, luma)" in bad.json()["error"]
    pytest.importorskip("onnxruntime")
    from sisr.export import export_onnx
    from sisr.infer import load_model

    x2 = export_onnx(load_model("rrgan-x4", scale=2), tmp_path / "x2.onnx")  # a model without x4
    with TestClient(create_app(ServeConfig(own=own_models([str(x2)])))) as c:
        r = c.post("/api/jobs", files={"file": ("a.png", png_bytes(), "image/png")}, data={"model": "x2"})
        assert r.status_code == 202, r.json()  # no scale: the model's largest, as sisr upscale's default
        s = wait(c, r.json()["id"])
        assert (s["status"], s["result_size"], s["filename"]) == ("done", [40, 48], "a_x2.png"), s
    for paths, said in (
        (["rrgan-x4"], "'rrgan-x4' is on the menu already"),
        ([str(run), str(run)], "the menu has a model named 'my-run' already"),
        ([str(tmp_path / "nowhere.safetensors")], "no such weights file"),
    ):
        with pytest.raises(SisrError, match=said):
            own_models(paths)
