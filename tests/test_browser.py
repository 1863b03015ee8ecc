"""The web app in a real headless Chromium (Debian's), driven by Playwright: upload, slider,
download, compare mode and a broken file."""

import io
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from .serve_helpers import CHROMIUM_ARGS, chromium_path, live_server

playwright = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")


@pytest.fixture(scope="module")
def browser():
    exe = chromium_path()
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def browser_page(browser):
    with live_server() as (url, app):
        page = browser.new_page(viewport={"width": 1366, "height": 800}, accept_downloads=True)
        page.goto(url + "/")
        page.wait_for_selector("#model option[value='rrgan-x4']", state="attached")
        yield page, url, app
        page.close()


@pytest.fixture(scope="module")
def image_file(tmp_path_factory, photo):
    p = tmp_path_factory.mktemp("b") / "cat.png"
    Image.fromarray(photo[60:100, 200:248]).save(p)
    return p


def test_upload_slider_download_equals_the_cli(browser_page, image_file, tmp_path):
    from sisr.cli import main

    page, _, _ = browser_page
    page.set_input_files("#file", str(image_file))
    page.select_option("#model", "rrgan-x4")
    page.select_option("#scale", "2")
    page.click("#go")
    page.wait_for_selector("#download:not([hidden])", timeout=60_000)
    page.wait_for_function("document.getElementById('after').naturalWidth > 0")
    # Drag the before/after divider to a quarter of the width.
    box = page.locator("#slider").bounding_box()
    div = page.locator("#divider").bounding_box()
    page.mouse.move(div["x"] + 2, div["y"] + div["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.25, div["y"] + div["height"] / 2, steps=5)
    page.mouse.up()
    assert 20 <= int(page.get_attribute("#divider", "aria-valuenow")) <= 30
    with page.expect_download() as dl:
        page.click("#download")
    got = tmp_path / "from_page.png"
    dl.value.save_as(got)
    ref = tmp_path / "from_cli.png"
    assert main(["upscale", str(image_file), "-o", str(ref), "--model", "rrgan-x4", "--scale", "2", "--quiet"]) == 0
    a, b = np.asarray(Image.open(got)), np.asarray(Image.open(ref))
    assert a.shape == (80, 96, 3)
    assert np.array_equal(a, b)


def test_compare_mode_with_two_models(browser_page, image_file):
    page, _, _ = browser_page
    page.set_input_files("#file", str(image_file))
    page.select_option("#scale", "2")
    page.check("#cmp-bicubic")
    page.check("#cmp-rrgan-x4")
    page.click("#compare")
    page.wait_for_selector("#grid:not([hidden]) .stage img", timeout=60_000)
    page.wait_for_function(
        "[...document.querySelectorAll('#grid img')].length === 2 && "
        "[...document.querySelectorAll('#grid img')].every(i => i.naturalWidth === 96)"
    )
    labels = page.locator("#grid .tag").all_inner_texts()
    assert len(labels) == 2 and labels[0].startswith("bicubic") and labels[1].startswith("rrgan-x4")
    assert all(" s" in t for t in labels)  # each panel states its time
    page.click("#as-slider")  # model A vs model B in the before/after slider
    page.wait_for_selector("#slider:not([hidden])")
    assert page.inner_text("#before-tag") == "bicubic" and page.inner_text("#after-tag") == "rrgan-x4"


def test_compare_mode_on_a_crop(browser_page, image_file):
    page, _, _ = browser_page
    page.set_input_files("#file", str(image_file))
    page.select_option("#scale", "2")
    page.fill("#crop", "4,6,20,16")
    page.click("#compare")  # bicubic and rrgan-x4 are still ticked
    page.wait_for_function(
        "[...document.querySelectorAll('#grid img')].length === 2 && "
        "[...document.querySelectorAll('#grid img')].every(i => i.naturalWidth === 40 && i.naturalHeight === 32)",
        timeout=60_000,
    )
    page.fill("#crop", "40,0,20,16")
    page.click("#compare")
    page.wait_for_function("document.getElementById('error').textContent.includes('outside')")
    page.fill("#crop", "")


def test_a_broken_file_shows_a_one_line_error_where_it_is_seen(browser_page, tmp_path):
    page, _, _ = browser_page
    page.set_viewport_size({"width": 1200, "height": 700})  # a laptop's: the message is below the controls
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not really a png")
    page.set_input_files("#file", str(bad))
    page.evaluate("document.getElementById('controls').scrollTop = 0")
    page.click("#go")
    page.wait_for_function("document.getElementById('error').textContent.length > 0")
    text = page.inner_text("#error")
    assert "\n" not in text.strip() and "image" in text
    # on top at its own centre: scrolled into the controls' view and the window's
    seen = """() => { const r = document.getElementById('error').getBoundingClientRect();
        const at = document.elementFromPoint(r.left + 5, (r.top + r.bottom) / 2);
        return at !== null && at.closest('#error') !== null; }"""
    assert page.evaluate(seen)
    raw = tmp_path / "IMG_0042.CR3"
    raw.write_bytes(b"\x00\x00\x00\x18ftypcrx " + bytes(64))
    page.set_input_files("#file", str(raw))
    page.click("#go")
    page.wait_for_function("document.getElementById('error').textContent.includes('camera raw')")
    page.set_viewport_size({"width": 1366, "height": 800})  # the module's page, as the other tests had it


def test_a_phone_wide_page_is_one_column_and_brings_up_the_jobs(browser, image_file):
    """At 390 px the three columns were squeezed side by side, and the Output box's text ran out of
    it, cut off. Upscale then left the jobs and the result below all the settings, out of sight, and
    a finger on the divider scrolled the page (the browser took the touch) instead of dragging it."""
    with live_server() as (url, _):
        context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#model option[value='bicubic']", state="attached")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        boxes = {s: page.locator(s).bounding_box() for s in ("#controls", "#queue", "#view")}
        assert boxes["#controls"]["y"] + boxes["#controls"]["height"] <= boxes["#queue"]["y"]  # stacked
        assert all(b["width"] >= 350 for b in boxes.values())
        inside = """() => { const f = [...document.querySelectorAll('#controls fieldset')];
            return f.every((el) => [...el.querySelectorAll('*')].every((c) => c.getBoundingClientRect().right
                <= el.getBoundingClientRect().right + 0.5)); }"""
        assert page.evaluate(inside)
        page.set_input_files("#file", str(image_file))
        page.select_option("#model", "bicubic")
        page.select_option("#scale", "2")
        assert page.evaluate("document.getElementById('queue').getBoundingClientRect().top") > 844
        page.click("#go")
        page.wait_for_selector("#download:not([hidden])", timeout=60_000)
        top = {
            s: page.evaluate(f"document.getElementById('{s}').getBoundingClientRect().top") for s in ("queue", "view")
        }
        assert 0 <= top["queue"] < top["view"] < 844 - 100  # in sight, as far as the page scrolls
        page.wait_for_function("document.getElementById('after').naturalWidth > 0")
        # as tall as the result at the slider's width, not 70% of the screen with bars around it
        as_tall = """() => { const s = document.getElementById('slider'), i = document.getElementById('after');
            return Math.abs(s.clientHeight - s.clientWidth * i.naturalHeight / i.naturalWidth) <= 1; }"""
        page.wait_for_function(as_tall, timeout=10_000)
        page.locator("#slider").scroll_into_view_if_needed()
        box, div = page.locator("#slider").bounding_box(), page.locator("#divider").bounding_box()
        touch = context.new_cdp_session(page)
        x, y, to = div["x"] + 2, div["y"] + 50, box["x"] + box["width"] * 0.25
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for i in range(1, 6):
            point = {"x": x + (to - x) * i / 5, "y": y}
            touch.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert 20 <= int(page.get_attribute("#divider", "aria-valuenow")) <= 30
        # turned to landscape: the view fits the slider's new size (it had not been zoomed or panned)
        page.set_viewport_size({"width": 844, "height": 390})
        fitted = """() => { const s = document.getElementById('slider'), i = document.getElementById('after');
            const z = Math.min(s.clientWidth / i.naturalWidth, s.clientHeight / i.naturalHeight);
            const x = (s.clientWidth - i.naturalWidth * z) / 2;  // centred in the wider slider
            return s.clientWidth > 500 && Math.abs(state.view.z - z) < 1e-6 && Math.abs(state.view.x - x) < 1e-6; }"""
        page.wait_for_function(fitted, timeout=10_000)
        page.focus("#slider")
        page.keyboard.press("+")  # zoomed: a resize leaves the user's view as it is
        zoomed = page.evaluate("state.view.z")
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(300)
        assert page.evaluate("state.view.z") == zoomed
        context.close()


def test_output_format_a_tiff_shown_and_a_warning_on_the_page(browser_page, photo, tmp_path):
    page, _, _ = browser_page
    # a TIFF result is shown (as a PNG preview: browsers cannot show TIFF) and downloads as TIFF
    tif = tmp_path / "scan.tif"
    Image.fromarray(photo[60:100, 200:248]).save(tif)
    page.set_input_files("#file", str(tif))
    page.select_option("#model", "rrgan-x4")
    page.select_option("#scale", "2")
    page.select_option("#format", "")
    assert page.is_disabled("#quality")  # nothing lossy to set for a TIFF
    page.click("#go")
    page.wait_for_function("document.getElementById('after').naturalWidth === 96", timeout=60_000)
    with page.expect_download() as dl:
        page.click("#download")
    assert dl.value.suggested_filename == "scan_x2.tif"
    # JPEG at quality 60 from a half-transparent PNG: the job says what JPEG did to the transparency
    alpha = np.where(np.arange(48) < 24, 255, 0).astype(np.uint8)[None].repeat(40, 0)
    rgba = np.dstack([photo[60:100, 200:248], alpha])
    png = tmp_path / "half.png"
    Image.fromarray(rgba, "RGBA").save(png)
    page.set_input_files("#file", str(png))
    page.select_option("#format", "jpg")
    page.fill("#quality", "60")
    page.click("#go")
    page.wait_for_function(
        "document.querySelector('#jobs .warnings li')?.textContent.includes('flattened onto white')", timeout=60_000
    )
    assert "half_x2.jpg" in page.inner_text("#jobs .warnings li")
    page.wait_for_function("document.getElementById('download').getAttribute('download') === 'half_x2.jpg'")
    page.select_option("#format", "")


def bicubic_x2_download(page, src, name, tmp_path):
    """Upscale ``src`` (48 x 40) on the page with bicubic x2 in its own format; the downloaded file."""
    page.set_input_files("#file", str(src))
    page.select_option("#model", "bicubic")
    page.select_option("#scale", "2")
    page.select_option("#format", "")
    page.click("#go")
    page.wait_for_function(f"document.getElementById('download').getAttribute('download') === '{name}'")
    page.wait_for_function("document.getElementById('after').naturalWidth === 96", timeout=60_000)
    with page.expect_download() as dl:
        page.click("#download")
    got = tmp_path / f"got{Path(name).suffix}"
    dl.value.save_as(got)
    return got


def test_remove_camera_data_box(browser_page, photo, tmp_path):
    page, _, _ = browser_page
    exif = Image.Exif()
    exif.get_ifd(0x8825)[2] = (51.0, 28.0, 40.0)  # GPSLatitude
    src = tmp_path / "trip.jpg"
    Image.fromarray(photo[60:100, 200:248]).save(src, exif=exif.tobytes(), quality=90)
    page.check("#strip")
    got = bicubic_x2_download(page, src, "trip_x2.jpg", tmp_path)
    with Image.open(got) as im:
        assert im.size == (96, 80) and not im.getexif()
    page.uncheck("#strip")


def test_an_animated_gif_plays_on_the_page_and_downloads_as_the_clis(browser_page, photo, tmp_path):
    from sisr.cli import main

    page, _, _ = browser_page
    src = tmp_path / "wave.gif"
    frames = [Image.fromarray(np.roll(photo[60:100, 200:248], 6 * i, axis=1)) for i in range(3)]
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=200, loop=0)
    got = bicubic_x2_download(page, src, "wave_x2.gif", tmp_path)
    ref = tmp_path / "cli.gif"
    assert main(["upscale", str(src), "-o", str(ref), "--model", "bicubic", "--scale", "2", "--quiet"]) == 0
    assert got.read_bytes() == ref.read_bytes()
    with Image.open(got) as im:
        assert (im.n_frames, im.info["loop"], im.info["duration"]) == (3, 0, 200)


def test_an_avif_is_shown_on_the_page_and_downloads_as_an_avif(browser_page, photo, tmp_path):
    page, _, _ = browser_page
    src = tmp_path / "sky.avif"
    Image.fromarray(photo[60:100, 200:248]).save(src, quality=95)
    got = bicubic_x2_download(page, src, "sky_x2.avif", tmp_path)
    shown = "fetch(document.getElementById('after').src).then(r => r.headers.get('content-type'))"
    assert page.evaluate(shown) == "image/avif"  # the browser decodes the result itself, no PNG copy
    assert not page.is_disabled("#quality")  # an AVIF's result is lossy: its quality can be set
    title = page.inner_text("#view-title")  # what became of the upload, and the download's size
    assert re.search(r"· 48 x 40 → 96 x 80, \d+ KB$", title) and got.stat().st_size < 1024 * 100, title
    with Image.open(got) as im:
        assert (im.format, im.size) == ("AVIF", (96, 80))


def test_several_images_at_once_each_viewable_from_its_job(browser_page, photo, tmp_path):
    import io
    import zipfile
    from urllib.request import urlopen

    page, url, _ = browser_page
    files = []
    for i, (h, w) in enumerate([(20, 24), (16, 28), (24, 16)]):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(photo[i * 30 : i * 30 + h, 100 : 100 + w]).save(p)
        files.append(p)
    page.select_option("#format", "")
    page.set_input_files("#file", [str(f) for f in files])
    assert page.inner_text("#picked").startswith("3 images")
    page.select_option("#model", "rrgan-x4")
    page.select_option("#scale", "2")
    before = page.locator("#jobs > li").count()
    page.click("#go")
    page.wait_for_function(
        f"document.querySelectorAll('#jobs > li').length === {before + 6} && "
        "[...document.querySelectorAll('#jobs > li .state')].every(s => s.textContent.startsWith('done'))",
        timeout=120_000,
    )
    # the first image is on view; its jobs are marked; another image's job brings that one up
    page.wait_for_function("document.getElementById('after').naturalWidth === 48")
    assert page.inner_text("#view-title").startswith("img0.png: rrgan-x4 x2")
    page.locator("#jobs > li", has_text="img2.png").first.click()
    page.wait_for_function("document.getElementById('after').naturalWidth === 32")
    assert page.inner_text("#view-title").startswith("img2.png")
    assert page.locator("#jobs > li.current").count() == 2
    assert page.get_attribute("#download", "download") == "img2_x2.png"
    # the zip holds the results asked for, not the bicubic references of the slider
    href = page.get_attribute("#zip", "href")
    names = zipfile.ZipFile(io.BytesIO(urlopen(url + href).read())).namelist()
    assert {"rrgan-x4/img0_x2.png", "rrgan-x4/img1_x2.png", "rrgan-x4/img2_x2.png"} <= set(names)
    assert not any(n.startswith("bicubic/img") for n in names)
    # a broken file among several is refused on its own; the others go on
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    page.set_input_files("#file", [str(files[0]), str(broken), str(files[1])])
    before = page.locator("#jobs > li").count()
    page.click("#go")
    page.wait_for_function("document.getElementById('error').textContent.startsWith('broken.png: ')")
    page.wait_for_function(f"document.querySelectorAll('#jobs > li').length === {before + 4}")
    # x1 restores at the input's size (and a size to reach does not apply to it)
    page.set_input_files("#file", str(files[1]))
    page.select_option("#scale", "1")
    assert page.is_disabled("#width") and page.is_disabled("#height")
    page.click("#go")
    page.wait_for_function("document.getElementById('view-title').textContent.includes('x1')", timeout=60_000)
    page.wait_for_function("document.getElementById('after').naturalWidth === 28")
    # x2.5: the model's next scale up, then resized to 2.5 times the input (as --scale 2.5)
    assert "resized" in page.locator("#scale option[value='2.5']").inner_text()
    page.select_option("#scale", "2.5")
    assert page.is_disabled("#width") and page.is_disabled("#height")
    page.click("#go")
    page.wait_for_function("document.getElementById('view-title').textContent.includes('x2.5')", timeout=60_000)
    page.wait_for_function("document.getElementById('after').naturalWidth === 70")
    page.select_option("#scale", "2")
    assert not page.is_disabled("#width")
    page.set_input_files("#file", [str(f) for f in files])
    # compare mode wants one image
    page.click("#compare")
    page.wait_for_function("document.getElementById('error').textContent.includes('one image')")


def test_more_images_than_the_queue_holds_go_in_as_it_frees(browser, photo, tmp_path):
    from sisr.serve import ServeConfig

    files = []
    for i in range(3):
        p = tmp_path / f"q{i}.png"
        Image.fromarray(photo[i * 20 : i * 20 + 16, :16]).save(p)
        files.append(str(p))
    with live_server(ServeConfig(max_queue=2)) as (url, _):
        page = browser.new_page()
        page.goto(url + "/")
        page.wait_for_selector("#model option[value='rrgan-x4']", state="attached")
        page.set_input_files("#file", files)
        page.select_option("#scale", "2")
        page.click("#go")  # 6 jobs into a queue of 2: the page waits out each 429
        page.wait_for_function(
            "document.querySelectorAll('#jobs > li').length === 6 && "
            "[...document.querySelectorAll('#jobs > li .state')].every(s => s.textContent.startsWith('done'))",
            timeout=120_000,
        )
        assert page.inner_text("#error") == ""
        page.close()


def test_chromium_shows_an_hdr_result_by_its_cicp_chunk(browser, tmp_path):
    """The cICP chunk sisr writes for an HDR photo is one Chromium reads: the PQ ramp is tone-mapped
    for this (SDR) screen, where the same pixels without the chunk show as plain sRGB levels."""
    from sisr.cli import main

    from .test_io_cli import hdr_heic

    src = hdr_heic(tmp_path / "pq.heic", deep=True)
    assert main(["upscale", str(src), "-o", str(tmp_path / "t.png"), "--model", "bicubic", "--scale", "2"]) == 0
    Image.open(tmp_path / "t.png").save(tmp_path / "p.png")  # Pillow drops the chunk it does not know
    assert b"cICP" in (tmp_path / "t.png").read_bytes() and b"cICP" not in (tmp_path / "p.png").read_bytes()
    (tmp_path / "c.html").write_text(
        "<body style='margin:0'>" + "".join(f"<img id={n} src='{n}.png' style='display:block'>" for n in "tp")
    )
    page = browser.new_page(viewport={"width": 200, "height": 100})
    try:
        page.goto((tmp_path / "c.html").as_uri())
        page.wait_for_function("document.getElementById('t').complete && document.getElementById('p').complete")
        shot = np.asarray(Image.open(io.BytesIO(page.screenshot())).convert("L"), np.float64)
    finally:
        page.close()
    tagged, plain = shot[8, :128], shot[24, :128]  # the middle row of each 128 x 16 image
    assert np.abs(plain - np.asarray(Image.open(tmp_path / "p.png").convert("L"))[8]).max() <= 2  # as stored
    assert np.abs(tagged - plain).mean() > 20, (tagged[::16], plain[::16])
