"""Screenshot of the web app with a result, made in the same headless Chromium as the browser tests.

    python benchmarks/serve_screenshot.py -o assets/serve_screenshot.png

The input is scikit-image's coffee photo (public domain), shrunk by 4 with MATLAB bicubic and
cropped; the page upscales it x4 with the default model and shows the before/after slider.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from PIL import Image
from skimage import data

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serve_helpers import CHROMIUM_ARGS, chromium_path, live_server  # noqa: E402
from sisr.io import to_uint8  # noqa: E402
from sisr.resize import imresize  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--output", default="assets/serve_screenshot.png")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    small = to_uint8(imresize(data.coffee()[40:360, 100:580] / 255.0, 0.25))
    with tempfile.TemporaryDirectory() as tmp, live_server() as (url, _), sync_playwright() as p:
        src = Path(tmp) / "coffee_quarter.png"
        Image.fromarray(small).save(src)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(url + "/")
        page.wait_for_selector("#model option[value='rrgan-x4']", state="attached")
        page.set_input_files("#file", str(src))
        page.select_option("#scale", "4")
        page.click("#go")
        page.wait_for_selector("#download:not([hidden])", timeout=120_000)
        page.wait_for_function("document.getElementById('after').naturalWidth > 0")
        page.evaluate("document.getElementById('controls').scrollTop = 0")  # the settings from the top
        page.wait_for_timeout(300)
        page.screenshot(path=args.output)
        browser.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
