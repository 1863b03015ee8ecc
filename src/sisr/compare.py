"""Visual comparison figure: the HR image with a crop box, then the zoomed crop from each model."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from sisr.bench import find_output, load_output, output_label
from sisr.data import sr_pair
from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.io import read_image, to_uint8
from sisr.metrics import gray_of, psnr, quantize

__all__ = ["compare_figure", "detailed_crop", "parse_crop"]


def parse_crop(text: str) -> tuple[int, int, int, int]:
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise SisrError(f"--crop expects X,Y,W,H in HR pixels, got '{text}'") from None
    if w < 4 or h < 4 or x < 0 or y < 0:
        raise SisrError(f"--crop {text}: needs x, y >= 0 and a size of at least 4 x 4")
    return x, y, w, h


def detailed_crop(img: np.ndarray, w: int, h: int) -> tuple[int, int, int, int]:
    """The ``w x h`` window of ``img`` (``H x W x C``) with the most detail, the sum of its luma's
    gradient magnitudes, where models differ most: a figure's crop when none is given (the
    topmost, then leftmost, of equals)."""
    y = gray_of(img)[:, :, 0].astype(np.float64)
    grad = np.zeros(y.shape)
    grad[:, 1:] += np.abs(np.diff(y, axis=1))
    grad[1:, :] += np.abs(np.diff(y, axis=0))
    h, w = min(h, y.shape[0]), min(w, y.shape[1])
    table = np.pad(grad.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = table[h:, w:] - table[:-h, w:] - table[h:, :-w] + table[:-h, :-w]
    top, left = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return int(left), int(top), w, h


def _auto_crop(h: int, w: int) -> tuple[int, int]:
    """A crop's ``(w, h)`` when none is given: a quarter of the shorter side (at least 16 px),
    square."""
    side = max(16, min(h, w) // 4)
    return min(side, w), min(side, h)


def compare_figure(
    image: str | os.PathLike,
    models: list[str],
    scale: int,
    crop: tuple[int, int, int, int] | None = None,
    panel: int = 192,
    lr_input: bool = False,
    device: str | None = None,
    outputs: list[str] = (),
) -> np.ndarray:
    """uint8 ``H x W x 3`` figure: HR with the crop box, HR crop, then each model's crop with its PSNR.

    The LR input is the MATLAB-bicubic downscale of the mod-cropped HR; PSNR is
    the Y-channel PSNR of the whole image (``scale`` pixels cropped per edge).
    With ``lr_input`` the image itself is the input (a photo with no ground truth):
    the overview is its bicubic enlargement, the crop is in output pixels, and
    each panel gives the model's time instead of a PSNR. ``device``: where the models run (None: auto).
    ``crop`` None: :func:`detailed_crop`, a quarter of the shorter side (of the HR; with
    ``lr_input``, chosen on the input and scaled to output pixels).
    ``outputs``: folders of results made elsewhere (``NAME.*`` or ``NAME_xS.*`` in the folder or its
    ``xS/``; see :func:`sisr.bench.find_output`), a panel each after the models'.
    """
    if not models and not outputs:  # a figure of the HR alone
        raise SisrError("--models names no model to compare")
    if lr_input:
        return _figure_without_hr(image, models, scale, crop, panel, device, outputs)

    hr, lr = sr_pair(image, scale, "rgb")
    made = [_output(o, image, scale, hr.shape) for o in outputs]  # a wrong one is one line before the models run
    if hr.shape[2] == 1:
        hr, lr = np.repeat(hr, 3, axis=2), np.repeat(lr, 3, axis=2)
    x, y, w, h = crop = crop or detailed_crop(hr, *_auto_crop(*hr.shape[:2]))
    if x + w > hr.shape[1] or y + h > hr.shape[0]:
        raise SisrError(f"crop {crop} lies outside the {hr.shape[1]}x{hr.shape[0]} image")
    panels = [("HR", hr)]
    for name in models:
        sr = to_uint8(quantize(load_model(name, scale=scale, device=device)(lr)))
        panels.append((f"{name}: {psnr(sr, hr, crop=scale):.2f} dB", sr))
    panels += [(f"{label}: {psnr(sr, hr, crop=scale):.2f} dB", sr) for label, sr in made]
    return _layout(Path(image).stem, hr, panels, crop, panel)


def _output(folder: str, image, scale: int, shape: tuple[int, ...], of_input: bool = False) -> tuple[str, np.ndarray]:
    """(label, ``H x W x 3`` uint8) of the result in ``folder`` made elsewhere of ``image``."""
    out = find_output(Path(folder), None, scale, Path(image).stem)
    sr = load_output(out, shape, Path(image), scale, of_input=of_input)
    return output_label(folder), np.repeat(sr, 3, axis=2) if sr.shape[2] == 1 else sr


def _figure_without_hr(
    image, models: list[str], scale: int, crop, panel: int, device: str | None, outputs: list[str] = ()
) -> np.ndarray:
    decoded = read_image(image)
    lr = decoded.rgb
    shape = (lr.shape[0] * scale, lr.shape[1] * scale, decoded.pixels.shape[2])
    made = [_output(o, image, scale, shape, of_input=True) for o in outputs]
    if crop is None:
        crop = tuple(v * scale for v in detailed_crop(lr, *_auto_crop(*lr.shape[:2])))
    x, y, w, h = crop
    H, W = shape[:2]
    if x + w > W or y + h > H:
        raise SisrError(f"crop {crop} lies outside the {W}x{H} output")
    panels = []
    for name in models:
        up = load_model(name, scale=scale, device=device)
        t0 = time.perf_counter()
        sr = to_uint8(up(lr))
        panels.append((f"{name}: {time.perf_counter() - t0:.1f} s", sr))
    panels += made  # no ground truth to score them on, and no time of theirs to show
    base = next((img for label, img in panels if label.startswith("bicubic:")), panels[0][1])
    return _layout(Path(image).stem, base, panels, crop, panel)


def _layout(title: str, overview_img: np.ndarray, panels, crop, panel: int) -> np.ndarray:
    """The figure: the overview with the crop box, then each labelled panel's crop zoomed (nearest)."""
    x, y, w, h = crop
    zoom_h = round(panel * h / w)
    overview = Image.fromarray(overview_img)
    box_width = max(2, overview_img.shape[1] // 200)
    ImageDraw.Draw(overview).rectangle([x, y, x + w - 1, y + h - 1], outline=(255, 0, 0), width=box_width)
    ov_w = round(overview.width * zoom_h / overview.height)
    overview = overview.resize((ov_w, zoom_h), Image.BICUBIC)
    label_h, gap = 18, 4
    fig = Image.new("RGB", (ov_w + gap + len(panels) * (panel + gap), zoom_h + label_h), (255, 255, 255))
    fig.paste(overview, (0, label_h))
    draw = ImageDraw.Draw(fig)
    draw.text((2, 2), title, fill=(0, 0, 0))
    left = ov_w + gap
    for label, img in panels:
        fig.paste(Image.fromarray(img[y : y + h, x : x + w]).resize((panel, zoom_h), Image.NEAREST), (left, label_h))
        draw.text((left + 2, 2), label, fill=(0, 0, 0))
        left += panel + gap
    return np.asarray(fig)
