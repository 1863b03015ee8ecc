"""Datasets: folders ``NAME/HR/*`` of images, with LR synthesised by MATLAB bicubic.

A dataset name resolves under ``$SISR_DATA``; a path that exists is taken as
given. LR images are made from the HR mod-cropped to a multiple of the scale
with :func:`sisr.resize.imresize` on 8-bit values, as the benchmark rules say.
"""

from __future__ import annotations

import os
import re
import zlib
from pathlib import Path

import numpy as np

from sisr.degrade import degrade
from sisr.errors import SisrError, closest, warn
from sisr.io import IMAGE_SUFFIXES, read_image, stored_size, to_uint8
from sisr.metrics import Y_WEIGHTS, rgb_to_y
from sisr.precision import known_free_memory
from sisr.resize import imresize, modcrop

__all__ = ["TEST_SETS", "data_root", "dataset_images", "make_lr", "resolve_dataset", "sr_pair", "test_set_of"]


def data_root() -> Path | None:
    """The folder ``$SISR_DATA`` names, or None when unset."""
    root = os.environ.get("SISR_DATA")
    return Path(root) if root else None


def resolve_dataset(name: str | os.PathLike) -> Path:
    """Folder holding ``HR/`` for a dataset name (under ``$SISR_DATA``) or path."""
    p = Path(name)
    candidates = [p] if p.is_absolute() or p.exists() else []
    root = data_root()
    if root is not None and not p.is_absolute():
        candidates.append(root / p)
    for c in candidates:
        if (c / "HR").is_dir():
            return c
        if c.is_dir() and c.name == "HR":
            return c.parent
    where = f"under SISR_DATA={root}" if root else "(SISR_DATA is not set)"
    hint = ""
    if root is not None and root.is_dir():
        close = closest(str(name), (d.name for d in root.iterdir() if (d / "HR").is_dir()))
        hint = f" (did you mean '{close}'?)" if close else ""
    raise SisrError(f"dataset '{name}' not found {where}: expected a folder {name}/HR/ of images{hint}")


def _hr_folder(name: str) -> Path:
    """A dataset's ``HR/`` folder; or, for a path to a folder of images without one (a user's own
    photos to train on), that folder."""
    try:
        return resolve_dataset(name) / "HR"
    except SisrError:
        p = Path(name)
        if p.is_dir():
            return p
        raise


# Every HOLDOUT_EVERY-th file (sorted, from the first) of a dataset forms its "val" split: for
# BSD200, 10 images that a "NAME:train" recipe never sees, so training can validate off the
# test sets.
HOLDOUT_EVERY = 20
SPLITS = ("train", "val")


# The benchmark sets: measured once, at the end; never to choose a checkpoint or a setting, never trained on.
TEST_SETS = ("Set5", "Set14", "BSD100")


def test_set_of(name: str | os.PathLike) -> str | None:
    """The test set a dataset name or path (with or without a split) is, or None."""
    base = Path(re.sub(rf":({'|'.join(SPLITS)}|\d+-\d+)$", "", str(name))).name  # as dataset_images reads it
    return base if base in TEST_SETS else None


def dataset_images(name: str | os.PathLike) -> list[Path]:
    """Sorted image files of a dataset's ``HR/`` folder; ``"NAME:train"`` / ``"NAME:val"`` name a
    split, ``"NAME:A-B"`` the A-th to B-th files in sorted order (from 1, inclusive)."""
    split = None
    text = str(name)
    if not text.strip():  # a path "" is the current folder, which the images there would make a dataset of
        raise SisrError("a dataset name is empty")
    span = re.fullmatch(r"(.+):(\d+)-(\d+)", text)
    if span:
        first, last = int(span[2]), int(span[3])
        files = dataset_images(span[1])
        if not 1 <= first <= last <= len(files):
            raise SisrError(f"{text}: the range must lie within 1-{len(files)}")
        return files[first - 1 : last]
    if ":" in text and text.rsplit(":", 1)[1] in SPLITS:
        text, split = text.rsplit(":", 1)
    folder = _hr_folder(text)
    # Hidden files are left out: a Mac's "._name.png" beside each image is metadata, not an image.
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith("."))
    if not files:
        raise SisrError(f"{folder}: a folder with no images (of {', '.join(s[1:] for s in IMAGE_SUFFIXES)})")
    if split is not None:
        files = [f for i, f in enumerate(files) if (i % HOLDOUT_EVERY == 0) == (split == "val")]
    return files


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """MATLAB-bicubic LR of an already mod-cropped uint8 HR image."""
    return imresize(hr, 1.0 / scale)


PROTOCOLS = ("rgb", "y")


def sr_pair(
    path: str | os.PathLike, scale: int, protocol: str = "rgb", degradation: str = "bicubic", seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(HR mod-cropped, LR) ``H x W x C`` arrays for one benchmark image (C = 3, or 1 for gray).

    ``protocol="y"`` (sisr's default; that of the SRCNN/VDSR/DRCN/DRRN tables,
    whose bicubic row is the field's reference): HR is the 8-bit luma
    ``round(Y)`` (gray as is), LR its bicubic downscale kept in float, as
    VDSR's MATLAB test code does; RGB models see it replicated to 3 channels.
    ``degradation="real"``: HR is the 8-bit RGB image, LR made by :func:`sisr.degrade.degrade`
    (blur, resize, noise, JPEG; seeded by ``seed``, the scale and the file name).
    ``protocol="rgb"`` (that of EDSR and later): HR is the 8-bit image, LR its
    MATLAB-bicubic downscale in 8-bit arithmetic (uint8). Bicubic itself
    scores about 0.01 dB higher under it (Set5 x2: 33.68 vs 33.66).
    """
    if protocol not in PROTOCOLS:
        raise SisrError(f"unknown protocol '{protocol}' (use {' or '.join(PROTOCOLS)})")
    if degradation == "real":
        # Real-photo degradations (sisr.degrade) of the 8-bit RGB image, seeded by (seed, scale, file name),
        # so an image's LR does not depend on what else is measured.
        hr = to_uint8(read_image(path).rgb)
        check_measurable(path, scale, hr.shape[1], hr.shape[0])
        hr = modcrop(hr, scale)
        rng = np.random.default_rng([seed, scale, zlib.crc32(Path(path).name.encode())])
        return hr, degrade(hr, scale, rng)
    if degradation != "bicubic":
        raise SisrError(f"unknown degradation '{degradation}' (use bicubic or real)")
    img8 = to_uint8(read_image(path).pixels)
    check_measurable(path, scale, img8.shape[1], img8.shape[0])
    if protocol == "rgb":
        hr = modcrop(img8, scale)
        return hr, make_lr(hr, scale)

    y8 = img8 if img8.shape[2] == 1 else np.floor(rgb_to_y(img8) + 0.5).astype(np.uint8)[:, :, None]
    hr = modcrop(y8, scale)
    return hr, imresize(hr / 255.0, 1.0 / scale)


def check_measurable(path, scale: int, width: int, height: int) -> None:
    """Refuse an image of ``width x height`` on which PSNR and SSIM cannot be measured at ``scale``:
    what is left after cropping to a multiple of the scale, and leaving out ``scale`` pixels of
    border on each side, must hold SSIM's 11 x 11 window."""
    if min(width - width % scale, height - height % scale) - 2 * scale < 11:
        need = -(-(2 * scale + 11) // scale) * scale  # the next multiple of the scale
        raise SisrError(
            f"{path}: {width} x {height} is too small to measure at x{scale} (at least {need} px a side: "
            f"cropped to a multiple of {scale}, {scale} px of border left out, SSIM's window of 11 px)"
        )


def check_sampler_memory(files: list[Path], scale_aug: tuple[float, ...]) -> None:
    """Refuse, before decoding, training images that would not fit in memory: a sampler holds each
    as 8-bit RGB with its ``scale_aug`` copies (a folder of one's own 12 MP photos: 119 MB each with
    the recipes' five factors). The sizes come from the headers."""
    free = known_free_memory()
    if free is None:
        return
    pixels = sum(w * h for w, h in map(_header_size, files))
    need = pixels * 3 * sum(f * f for f in scale_aug)
    if need > free * 0.8:  # the rest: the model, its optimizer, batches and the decoding itself
        raise SisrError(
            f"the {len(files)} training images need about {need / 2**30:.3g} GiB of memory as 8-bit RGB with "
            f"their {len(scale_aug)} scale_aug copies, and {free / 2**30:.3g} GiB is free: train on fewer or "
            "smaller images, or fewer scale_aug factors"
        )


def _header_size(path: Path) -> tuple[int, int]:
    """A training image's size from its header; (0, 0) for one without a readable header, which
    :meth:`PatchSampler.from_datasets` leaves out and names."""
    try:
        return stored_size(path, oriented=True)
    except SisrError:
        return 0, 0


class PatchSampler:
    """Random HR patches from images decoded once into memory.

    Augmentation: down-scaled copies of every image (``scale_aug`` factors,
    VDSR/DRRN's 291-image recipe), random 90-degree rotations and flips, and
    with probability ``gray_prob`` the patch replaced by its 8-bit-range luma
    replicated to RGB (what the default benchmark protocol feeds a model).
    Sampling is a pure function of the generator passed in, so a training step
    can draw the same batch again after a resume.
    """

    def __init__(
        self,
        images: list[np.ndarray],
        hr_size: int,
        scale_aug: tuple[float, ...] = (1.0,),
        gray_prob: float = 0.0,
    ) -> None:
        self.hr_size = hr_size
        self.gray_prob = gray_prob
        pool = []
        for img in images:
            for f in scale_aug:
                im = img if f == 1.0 else imresize(img, f)
                if min(im.shape[:2]) >= hr_size:
                    pool.append(im)
        if not pool:
            raise SisrError(f"no training image is at least {hr_size} px on its shorter side")
        self.images = pool
        areas = np.array([(im.shape[0] - hr_size + 1) * (im.shape[1] - hr_size + 1) for im in pool], float)
        self.p = areas / areas.sum()

    @classmethod
    def from_datasets(cls, names, hr_size: int, **kwargs) -> PatchSampler:
        files = [f for n in names for f in dataset_images(n)]
        check_sampler_memory(files, kwargs.get("scale_aug", (1.0,)))
        # One unreadable photo in a folder of one's own should not stop a run: it is left out, and said.
        images, left, small_px = [], [], 0
        for f in files:
            try:
                images.append(to_uint8(read_image(f).rgb))
            except SisrError as e:
                left.append(str(e))
            else:
                if min(images[-1].shape[:2]) < hr_size:
                    h, w = images[-1].shape[:2]
                    left.append(f"{f}: {w} x {h}, smaller than the {hr_size} px HR patches")
                    small_px += w * h
        if left and len(left) < len(files):
            said = "; ".join(left[:3]) + ("; ..." if len(left) > 3 else "")
            share = small_px / sum(im.shape[0] * im.shape[1] for im in images)
            warn(f"{len(left)} of the {len(files)} training images are left out ({share:.1%} of the pixels): {said}")
        elif left:
            raise SisrError(f"none of the {len(files)} training images can be used: {left[0]}")
        return cls(images, hr_size, **kwargs)

    def sample(self, rng: np.random.Generator, batch: int) -> np.ndarray:
        """``batch x hr x hr x 3`` uint8 patches."""
        n = self.hr_size
        out = np.empty((batch, n, n, 3), np.uint8)
        idx = rng.choice(len(self.images), size=batch, p=self.p)
        for b, i in enumerate(idx):
            im = self.images[i]
            y = int(rng.integers(0, im.shape[0] - n + 1))
            x = int(rng.integers(0, im.shape[1] - n + 1))
            patch = im[y : y + n, x : x + n]
            patch = np.rot90(patch, int(rng.integers(0, 4)))
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            if rng.random() < self.gray_prob:
                luma = 16.0 + patch.astype(np.float64) @ Y_WEIGHTS / 255.0
                patch = np.repeat(np.floor(luma + 0.5).astype(np.uint8)[:, :, None], 3, axis=2)
            out[b] = patch
        return out
