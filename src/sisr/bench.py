"""Benchmark: models x datasets x scales -> Y-PSNR / Y-SSIM tables, per the field's rules."""

from __future__ import annotations

import dataclasses
import hashlib
import multiprocessing as mp
import os
import queue
import re
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sisr import __version__
from sisr.checkpoint import find_weights, read_header
from sisr.data import PROTOCOLS, check_measurable, dataset_images, sr_pair
from sisr.degrade import DegradeConfig
from sisr.errors import SisrError
from sisr.infer import ZeroShotUpscaler, load_model, pyramid_file, weights_path
from sisr.io import IMAGE_SUFFIXES, read_image, read_rgb, stored_size, to_uint8, write_image
from sisr.metrics import gray_of, psnr, quantize, rgb_to_y, ssim
from sisr.models import ZEROSHOT
from sisr.precision import cores, cpu_name, device_label
from sisr.published import PUBLISHED, PUBLISHED_PER_IMAGE
from sisr.zeroshot import ZeroShotConfig

__all__ = ["evaluate", "parse_scales", "run_bench", "to_markdown"]


def parse_scales(text: str) -> list[int]:
    scales = []
    for part in str(text).split(","):
        part = part.strip()
        if not part.isdigit() or not 2 <= int(part) <= 8:
            raise SisrError(f"bad scale '{part}': scales are integers from 2 to 8")
        scales.append(int(part))
    return scales


def evaluate(
    up,
    files,
    protocol: str = "y",
    on_image=None,
    with_ssim: bool = True,
    degradation: str = "bicubic",
    seed: int = 0,
    on_work=None,
    save: Path | None = None,
) -> list[dict[str, Any]]:
    """Per-image ``{"name", "psnr_y", "ssim_y", "seconds"}`` of an :class:`~sisr.infer.Upscaler` at its scale;
    ``on_work(done, total)`` follows the work inside each image (a zero-shot model's training);
    ``save``: a folder for each 8-bit image measured (``<name>.png``; the luma under protocol y)."""

    rows = []
    s = up.scale
    for f in files:
        hr, lr = sr_pair(f, s, protocol, degradation, seed)
        t0 = time.perf_counter()
        rgb = np.repeat(lr, 3, axis=2) if lr.shape[2] == 1 else lr
        out = up(rgb, on_tile=on_work) if on_work is not None else up(rgb)
        sr = quantize(gray_of(out) if lr.shape[2] == 1 else out)
        row = {"name": f.stem, "psnr_y": psnr(sr, hr, crop=s), "seconds": round(time.perf_counter() - t0, 2)}
        if with_ssim:
            row["ssim_y"] = ssim(sr, hr, crop=s)
        if save is not None:
            write_image(save / f"{f.stem}.png", sr)
        rows.append(row)
        if on_image is not None:
            on_image()
    return rows


def output_label(folder: str | os.PathLike) -> str:
    """The row name of a folder of results made elsewhere: the folder's name (``.``: the current one's)."""
    return Path(folder).resolve().name or str(folder)


def _set_row(model: str, dataset: str, scale: int, images: list[dict[str, Any]]) -> dict[str, Any]:
    """A table row: the means over a set's images, which it keeps (per-image rows, pairing)."""
    n = len(images)
    row = {"model": model, "dataset": dataset, "scale": scale}
    row |= {k: sum(i[k] for i in images) / n for k in ("psnr_y", "ssim_y")}
    if all("seconds" in i for i in images):  # none for results made elsewhere
        row["seconds"] = round(sum(i["seconds"] for i in images), 3)
    return row | {"images": images}


def find_output(
    folder: Path, dataset: str | None, scale: int, name: str, one_dataset: bool = True, one_scale: bool = True
) -> Path:
    """The image another program made of benchmark image ``name`` at ``scale``: ``NAME.*`` or
    ``NAME_xS.*`` (sisr upscale's name) in ``folder/DATASET/xS`` (the layout ``--save`` writes), or,
    where no other dataset or scale is measured to be mistaken for it, in ``folder/xS``,
    ``folder/DATASET`` or ``folder`` itself (``dataset`` None: an image of no dataset)."""
    # A dataset given as a path is found under its --save folder name and under its own name.
    named = [] if dataset is None else list(dict.fromkeys([_folder_name(dataset), Path(dataset).name]))
    levels = [folder / n / f"x{scale}" for n in named]
    levels += [folder / f"x{scale}"] if one_dataset else []
    levels += [folder / n for n in named] if one_scale else []
    levels += [folder] if one_dataset and one_scale else []
    stems = {name, f"{name}_x{scale}"}
    for level in levels:
        found = sorted(
            f
            for f in (level.iterdir() if level.is_dir() else ())
            if f.stem in stems and f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()
        )
        if len(found) > 1:
            raise SisrError(f"{level}: {len(found)} results for {name} ({', '.join(f.name for f in found)}); keep one")
        if found:
            return found[0]
    where = ", ".join(str(lv) for lv in levels)
    of = f"{dataset} {name}" if dataset is not None else name
    raise SisrError(f"--outputs {folder}: no result for {of} at x{scale} ({name}.* or {name}_x{scale}.* in {where})")


def load_output(
    out: Path, shape: tuple[int, ...], source: Path, scale: int, protocol: str | None = None, of_input: bool = False
) -> np.ndarray:
    """A result made elsewhere, 8-bit, as an ``H x W x C`` array like the reference ``shape`` (C = 1:
    the luma or a gray image; 3: colour). A colour result of a colour image whose reference is its
    luma (protocol y) is taken as its rounded luma (MATLAB's ``rgb2ycbcr`` of an 8-bit image), one of
    a gray image as its rounded full-range luma (as a model's output of a gray input is read); a
    gray result, or RGB with equal channels, as the luma itself. It must be the reference's size (``of_input``:
    ``source`` is the input, not the HR)."""
    sr = to_uint8(read_image(out).pixels)
    if sr.shape[:2] != tuple(shape[:2]):
        why = (
            "the input's size"
            if of_input
            else f"its size cropped to a multiple of {scale}, as the benchmark measures it"
        )
        raise SisrError(
            f"{out}: {sr.shape[1]} x {sr.shape[0]}, but {source.name} at x{scale} is {shape[1]} x {shape[0]} ({why})"
        )
    if sr.shape[2] == 3 and (sr[:, :, :1] == sr[:, :, 1:]).all():  # a gray image saved as RGB
        sr = sr[:, :, :1]
    if sr.shape[2] == 3 and shape[2] == 1:
        # A gray image's own values are its reference, so a colour result of one is read back as a
        # model's output of a gray input is (full-range luma); a colour image's luma is rgb2ycbcr's.
        gray = read_image(source).pixels.shape[2] == 1
        y = gray_of(sr)[:, :, 0] * 255.0 if gray else rgb_to_y(sr)
        sr = np.floor(y + 0.5).astype(np.uint8)[:, :, None]
    elif sr.shape[2] == 1 and shape[2] == 3:
        under = f" under --protocol {protocol}" if protocol else ""
        raise SisrError(f"{out}: a gray image, but {source.name} is in colour{under}")
    return sr


def score_outputs(
    folder: Path, files: list[Path], dataset: str, scale: int, protocol: str, one_dataset: bool, one_scale: bool
) -> tuple[list[dict[str, Any]], list[Path]]:
    """Per-image ``{"name", "psnr_y", "ssim_y"}`` of the images another program made (see
    :func:`find_output`, :func:`load_output`), measured as a model's would be, against the same HR;
    and the files measured."""
    rows, used = [], []
    for f in files:
        hr, _ = sr_pair(f, scale, protocol)
        out = find_output(folder, dataset, scale, f.stem, one_dataset, one_scale)
        sr = load_output(out, hr.shape, f, scale, protocol)
        rows.append({"name": f.stem, "psnr_y": psnr(sr, hr, crop=scale), "ssim_y": ssim(sr, hr, crop=scale)})
        used.append(out)
    return rows, used


class _Progress:
    """The bench's one bar. With a zero-shot model in the run it counts work units (training and
    SR, known per image before any starts), so the time estimate is there from the first minute
    and not after the first image, which takes minutes; supervised images are seconds and weigh
    nothing in it. Without one, it counts images. Image-runs may go on at once (``key`` tells
    them apart)."""

    def __init__(self, upscalers, files, show: bool) -> None:
        self.weighted = any(isinstance(up, ZeroShotUpscaler) for up in upscalers.values())
        self.credit: dict[Any, int] = {}  # units already counted, per running image
        if self.weighted:
            # Each image decoded once; every LR protocol makes an H // s x W // s input of it.
            self.sizes = {f: read_rgb(f).shape[:2] for fs in files.values() for f in fs}
            zs = [up for up in upscalers.values() if isinstance(up, ZeroShotUpscaler)]
            total = sum(self.units(up, f) for up in zs for f in self.sizes)
            fmt = "{desc}{percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"  # set_description adds ": "
            self.bar = tqdm(total=total, disable=not show, file=sys.stderr, leave=False, bar_format=fmt)
        else:
            total = sum(len(fs) for fs in files.values()) * len(upscalers)
            self.bar = tqdm(total=total, unit="img", disable=not show, file=sys.stderr, leave=False)

    def units(self, up, f) -> int:
        """The work units of ``up`` on image file ``f`` (0 for a supervised model)."""
        if not isinstance(up, ZeroShotUpscaler):
            return 0
        h, w = self.sizes[f]
        return up.work(h // up.scale, w // up.scale)

    def set_description(self, text: str) -> None:
        self.bar.set_description(text)

    def on_work(self, key: Any, done: int) -> None:
        """Image-run ``key`` has done ``done`` units of its work."""
        self.bar.update(max(0, done - self.credit.get(key, 0)))
        self.credit[key] = max(done, self.credit.get(key, 0))

    def image_done(self, key: Any = None, units: int = 0) -> None:
        """One image finished: ``units`` is its whole work (tops up updates still in flight)."""
        if not self.weighted:
            self.bar.update()
        elif units:
            self.bar.update(max(0, units - self.credit.get(key, 0)))
        self.credit.pop(key, None)

    def close(self) -> None:
        self.bar.close()


_WORK: Any = None  # a worker's queue for progress messages


def _worker_start(work, parent: int) -> None:
    global _WORK
    _WORK = work

    def orphaned() -> None:
        # A bench killed outright (SIGKILL, a deadline) must not leave minutes of training behind.
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=orphaned, daemon=True).start()


def _zero_shot_image(key, up, f, protocol: str, degradation: str, seed: int, save: Path | None) -> dict[str, Any]:
    """One zero-shot image-run in a worker process; progress goes back as ``(key, done)``."""
    progress = lambda done, total: _WORK.put((key, done))  # noqa: E731
    return evaluate(up, [f], protocol, degradation=degradation, seed=seed, on_work=progress, save=save)[0]


def _run_zero_shot(tasks, jobs: int, bar: _Progress, protocol: str, degradation: str, seed: int, save):
    """``{key: row}`` of the zero-shot image-runs ``tasks`` (``(key, upscaler, file)``), ``jobs`` at a
    time in worker processes, the longest first so that no long run starts last; ``save(key)``: the
    folder for its image, or None."""
    ctx = mp.get_context("spawn")
    work = ctx.Queue()
    rows: dict[Any, dict[str, Any]] = {}
    units = {key: bar.units(up, f) for key, up, f in tasks}

    def drain() -> None:
        while True:
            try:
                key, done = work.get_nowait()
            except queue.Empty:
                return
            if key not in rows:
                bar.on_work(key, done)

    before = set(mp.active_children())
    with ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_start, initargs=(work, os.getpid())) as pool:
        futures = {
            pool.submit(_zero_shot_image, key, up, f, protocol, degradation, seed, save(key)): key
            for key, up, f in sorted(tasks, key=lambda t: -units[t[0]])
        }
        pending = set(futures)
        try:
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                drain()
                for fut in finished:
                    key = futures[fut]
                    rows[key] = fut.result()
                    bar.image_done(key, units[key])
        except BaseException:
            # Stop the other runs now: they would otherwise finish first, minutes later.
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in set(mp.active_children()) - before:
                proc.terminate()
            raise
    return rows


def run_bench(
    models: list[str],
    datasets: list[str],
    scales: list[int],
    progress: bool = True,
    protocol: str = "y",
    settings: dict[str, Any] | None = None,
    degradation: str = "bicubic",
    seed: int = 0,
    precision: str = "fp32",
    denoise: float | None = None,
    ensemble: bool = False,
    jobs: int = 0,
    save: str | os.PathLike | None = None,
    device: str | None = None,
    outputs: list[str] | None = None,
) -> dict[str, Any]:
    """Evaluate every model on every dataset at every scale.

    Returns ``{"sisr_version", "results": [{"model", "dataset", "scale",
    "psnr_y", "ssim_y", "seconds", "images": [{"name", "psnr_y", "ssim_y"}]}]}``
    with set means over images. All inputs are checked before any work starts.
    ``protocol`` is how LR inputs are made (see :func:`sisr.data.sr_pair`).
    ``settings`` are zero-shot settings (recorded in the report: they are the budget of every result).
    ``denoise`` blends each model with its clean partner (models trained on degraded LR only);
    the rows are then named ``MODEL@denoise=D``. ``ensemble``: every model runs its x8
    self-ensemble (a model without one is refused); the rows are named ``MODEL@x8``.
    ``jobs``: zero-shot image-runs at once, each in its own process (0: the cores over each run's
    threads, which are 1 unless set). A result's ``seconds`` is the sum of its images' seconds.
    ``save``: a folder for the images measured, ``<save>/<model>/<dataset>/x<scale>/<image>.png``
    (8-bit; the luma under protocol y), so that they can be looked at or measured otherwise.
    ``outputs``: folders of images another program made (one folder a method, named by the folder;
    :func:`find_output` says where each image is looked for), measured beside the models, as they are.
    """

    folders: dict[Path, str] = {}
    for o in outputs or []:  # each folder once, however it is spelled
        folders.setdefault(Path(o).resolve(), o)
    outputs = list(folders.values())
    for what, given in (("--models", models or outputs), ("--data", datasets), ("--scale", scales)):
        if not given:  # an empty table, said to have succeeded
            raise SisrError(f"{what} names nothing to measure")
    named = {m: m for m in models}
    for o in outputs:
        name = output_label(o)
        if not Path(o).is_dir():
            raise SisrError(f"--outputs {o}: no such folder (it names a folder of result images)")
        if name in named:
            raise SisrError(
                f"--outputs {o}: its rows would be named '{name}', as {named[name]}'s are; rename the folder"
            )
        named[name] = o
    if outputs and degradation != "bicubic":
        raise SisrError("--outputs: results made elsewhere were not made from this command's degraded inputs")
    if outputs and not models:
        for opt, given in (
            ("--precision", precision != "fp32"),
            ("--denoise", denoise is not None),
            ("--ensemble", ensemble),
            ("--device", device is not None),
            ("--save", save is not None),
        ):
            if given:
                raise SisrError(f"{opt} applies to --models, and none is listed; --outputs are measured as they are")
    if protocol not in PROTOCOLS:
        raise SisrError(f"unknown protocol '{protocol}' (use {' or '.join(PROTOCOLS)})")
    for s in scales:
        if not isinstance(s, int) or s < 2:
            raise SisrError(f"bad scale {s!r}: scales are integers >= 2")
    if not (isinstance(seed, int) and 0 <= seed < 2**32):  # numpy's seeds
        raise SisrError(f"--seed must be 0 to {2**32 - 1}, got {seed}")
    scales, datasets = list(dict.fromkeys(scales)), list(dict.fromkeys(datasets))  # each measured once
    files = {d: dataset_images(d) for d in datasets}
    for f in {f for fs in files.values() for f in fs}:
        for s in scales:
            check_measurable(f, s, *stored_size(f, oriented=True))
    if jobs < 0:
        raise SisrError(f"bad --jobs {jobs}: a number of processes, 1 or more (0: one per core)")
    if settings and not any(m in ZEROSHOT for m in models):
        raise SisrError("--set: settings apply to zero-shot models only, and none is listed")

    def options(m: str) -> dict[str, Any]:
        # Zero-shot models take the settings; the others run untiled, as the tables assume.
        if m in ZEROSHOT:
            return {"settings": settings, "ensemble": ensemble, "device": device}
        return {"tile": 0, "precision": precision, "ensemble": ensemble, "device": device} | (
            {} if denoise is None else {"denoise": denoise}
        )

    def label(m: str) -> str:
        return m + ("" if denoise is None else f"@denoise={denoise:g}") + ("@x8" if ensemble else "")

    def saved(m: str, d: str, s: int) -> Path | None:
        if save is None:
            return None
        model = str(Path(m).with_suffix("")) if m.endswith(".safetensors") else m  # runs/a/model: runs_a_model
        return Path(save) / _folder_name(label(model)) / _folder_name(d) / f"x{s}"

    if save is not None and len({saved(m, "", 2) for m in models}) < len(set(models)):
        raise SisrError("--save: two models would share one folder; rename a weights file")

    for m in models:
        if (pyr := pyramid_file(m)) is not None:  # before its options: a pyramid would refuse --tile first
            method = read_header(pyr, "pyramid")["config"].get("method", "drsingan")
            raise SisrError(
                f"{m}: a pyramid trained on one image enlarges only that image; a bench measures models on "
                f"datasets (a zero-shot method trains on each of their images: --models {method})"
            )
    # A wrong or missing result is one line before the models' minutes of work, not after.
    one_d, one_s = len(datasets) == 1, len(scales) == 1
    scored = {
        (o, d, s): score_outputs(Path(o), files[d], d, s, protocol, one_d, one_s)
        for o in outputs
        for d in datasets
        for s in scales
    }
    upscalers = {(m, s): load_model(m, scale=s, **options(m)) for m in models for s in scales}
    # Zero-shot image-runs train on one thread each (unless --set threads=N), as many at once as
    # there are cores: more work done per second than threads inside one small-convolution
    # training, and per-image results that do not change with the machine's core count.
    zero = {k: up for k, up in upscalers.items() if isinstance(up, ZeroShotUpscaler)}
    for k, up in zero.items():
        upscalers[k] = zero[k] = dataclasses.replace(
            up, config=dataclasses.replace(up.config, threads=up.config.threads or 1)
        )
    threads = max((up.config.threads for up in zero.values()), default=1)
    jobs = jobs or max(1, cores() // threads)
    bar = _Progress(upscalers, files, progress)
    rows: dict[tuple, dict[str, Any]] = {}
    t_start = time.perf_counter()
    try:
        tasks = [
            ((m, d, s, i), upscalers[(m, s)], f) for (m, s) in zero for d in datasets for i, f in enumerate(files[d])
        ]
        if tasks:
            bar.set_description(f"{', '.join(sorted({m for m, _ in zero}))}: {min(jobs, len(tasks))} at a time")
            rows |= _run_zero_shot(
                tasks, min(jobs, len(tasks)), bar, protocol, degradation, seed, lambda k: saved(*k[:3])
            )
        for (m, s), up in upscalers.items():
            if (m, s) in zero:
                continue
            for d in datasets:
                bar.set_description(f"{m} {d} x{s}")
                got = evaluate(
                    up, files[d], protocol, bar.image_done, degradation=degradation, seed=seed, save=saved(m, d, s)
                )
                rows |= {(m, d, s, i): r for i, r in enumerate(got)}
    finally:
        bar.close()
    results = []
    for m in models:
        for d in datasets:
            for s in scales:
                results.append(_set_row(label(m), d, s, [rows[(m, d, s, i)] for i in range(len(files[d]))]))
    results += [
        _set_row(output_label(o), d, s, scored[(o, d, s)][0]) for o in outputs for d in datasets for s in scales
    ]
    report: dict[str, Any] = {"sisr_version": __version__, "protocol": protocol, "results": results}
    report["wall_seconds"] = round(time.perf_counter() - t_start, 1)
    if zero:
        report["zero_shot_jobs"] = min(jobs, len(tasks))
    if precision != "fp32":
        report["precision"] = precision
    if denoise is not None:
        report["denoise"] = denoise
    if ensemble:
        report["ensemble"] = "x8"
    if degradation == "real":
        report["protocol"] = "rgb"
        report["degradation"] = {"kind": "real", "seed": seed, "ranges": dataclasses.asdict(DegradeConfig())}
    first = {m: upscalers[(m, scales[0])] for m in models}
    budgets = {label(m): training_budget(up.meta) for m, up in first.items() if up.descriptor.kind == "supervised"}
    if budgets:
        report["budgets"] = budgets | {output_label(o): "results made elsewhere (not recorded)" for o in outputs}
    zero = {m: dataclasses.asdict(up.config) for m, up in first.items() if up.descriptor.kind == "zero-shot"}
    if zero:
        report["zero_shot_settings"] = zero
    report["provenance"] = provenance({label(m): weights_path(m) for m in models}, files)
    if outputs:  # which files were measured: their images' digests, in the order measured
        report["provenance"]["outputs"] = {
            output_label(o): {
                "images": sum(len(scored[(o, d, s)][1]) for d in datasets for s in scales),
                "sha256": _files_sha256([f for d in datasets for s in scales for f in scored[(o, d, s)][1]]),
            }
            for o in outputs
        }
    ran = {up.device for up in upscalers.values()}
    report["provenance"]["environment"]["devices"] = sorted(device_label(d) for d in ran)
    return report


def file_sha256(path: Path) -> bytes:
    """A file's SHA-256 digest (``.hex()``: ``sha256sum``'s), as reports record weights."""
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").digest()


def _files_sha256(paths: list[Path]) -> str:
    """The SHA-256 of the files' SHA-256 digests, in order."""
    return hashlib.sha256(b"".join(file_sha256(p) for p in paths)).hexdigest()


def provenance(weights: dict[str, Path | None], files: dict[str, list[Path]]) -> dict[str, Any]:
    """What a report's numbers came from, so that a reader can tell two reports' weights or images
    apart: each weights file's and each dataset's SHA-256 (of its images' bytes, in order), and the
    software and machine (its seconds compare only on one CPU and thread count). A weights file's
    is ``sha256sum``'s; a dataset's is that of its images' digests, in sorted order."""
    import platform

    return {
        "weights": {m: {"file": p.name, "sha256": file_sha256(p).hex()} for m, p in weights.items() if p},
        "datasets": {d: {"images": len(fs), "sha256": _files_sha256(fs)} for d, fs in files.items()},
        "environment": {
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "cpu": cpu_name(),
            "threads": torch.get_num_threads(),
        },
    }


def _folder_name(name: str) -> str:
    """A dataset's or model's name ("BSD200:val", a path, "rrgan-x4@x8") as one folder name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name).strip("/\\")) or "data"


def training_budget(meta: dict[str, Any]) -> dict[str, Any]:
    """What training a weights file cost: steps, batch, hours of step time and hardware, summed over
    the chain of ``init`` weights it started from (a GAN phase from its PSNR phase, a grown model
    from the smaller one). ``complete`` is false where an ``init`` file of the chain is missing."""
    recipe = meta.get("recipe") or {}
    steps, seconds, runs = int(meta.get("steps", 0)), float(meta.get("train_seconds", 0)), 1
    init = recipe.get("init") or ""
    hardware = {meta.get("hardware", "")}
    while init and runs < 16:
        found = find_weights(init)
        if found is None:
            break
        prev = read_header(found, "weights")
        steps += int(prev.get("steps", 0))
        seconds += float(prev.get("train_seconds", 0))
        hardware.add(prev.get("hardware", ""))
        runs += 1
        init = (prev.get("recipe") or {}).get("init") or ""
    return {
        "steps": steps,
        "batch": recipe.get("batch"),
        "hours": round(seconds / 3600, 2),
        # Weights trained before the label learned the singular say "1 threads".
        "hardware": "; ".join(sorted({h.replace(" 1 threads", " 1 thread") for h in hardware if h})),
        "runs": runs,
        "complete": not init,
    }


def _devices(hardware: str) -> str:
    """The devices of a chain of runs, each named once: a run's own label may say which steps each
    device trained ("...; x86_64 CPU, 1 thread (steps 0-23)"), which the report keeps but a table
    cell, summing the chain, has no use for."""
    names = [re.sub(r" \(steps [^)]*\)$", "", part) for part in hardware.split("; ")]
    return "; ".join(dict.fromkeys(n for n in names if n))


def budget_cell(b: dict[str, Any] | str | None, zero_shot: bool) -> str:
    if zero_shot:
        return "trained on each image (settings below)"
    if not b:
        return "none (no training)"
    if isinstance(b, str):  # "not recorded": merged from a report older than the column
        return b
    text = f"{b['steps']:,} x {b['batch']}, {b['hours']:.2f} h, {_devices(b['hardware'])}"
    if b["runs"] > 1:
        text += f" ({b['runs']} runs)"
    return text + ("" if b["complete"] else ", + earlier runs not found")


PAIRED_RESAMPLES = 10_000


def paired(report: dict[str, Any], against: str) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Each model's per-image PSNR minus ``against``'s on the same images, for every dataset and
    scale both were measured on: ``{(model, dataset, scale): {"mean", "low", "high", "higher", "n"}}``.
    ``low``-``high`` is a 95% percentile bootstrap interval of the mean over the images (seeded:
    the same report gives the same interval); ``higher`` counts the images where the model scores
    more. A mean difference on 5 or 10 images says little without them."""
    rows = {(r["model"], r["dataset"], r["scale"]): r for r in report["results"]}
    if not any(m == against for m, _, _ in rows):
        models = ", ".join(dict.fromkeys(m for m, _, _ in rows))
        raise SisrError(f"--against {against}: not a model of this report ({models})")
    out = {}
    for (m, d, sc), r in rows.items():
        ref = rows.get((against, d, sc))
        if m == against or ref is None:
            continue
        theirs = {i["name"]: i["psnr_y"] for i in ref["images"]}
        diff = np.array([i["psnr_y"] - theirs[i["name"]] for i in r["images"] if i["name"] in theirs])
        if not diff.size:
            continue
        rng = np.random.default_rng(0)
        means = diff[rng.integers(0, diff.size, (PAIRED_RESAMPLES, diff.size))].mean(axis=1)
        low, high = np.percentile(means, [2.5, 97.5])
        out[(m, d, sc)] = {
            "mean": float(diff.mean()),
            "low": float(low),
            "high": float(high),
            "higher": int((diff > 0).sum()),
            "n": int(diff.size),
        }
    return out


def _paired_markdown(report: dict[str, Any], against: str, cols: list[tuple[str, int]]) -> list[str]:
    diffs = paired(report, against)
    models = [m for m in dict.fromkeys(r["model"] for r in report["results"]) if m != against]
    out = [
        f"### PSNR against {against} (dB, Y, paired by image)\n",
        "| model | " + " | ".join(f"{d} x{s}" for d, s in cols) + " |",
        "|---|" + "---:|" * len(cols),
    ]
    for m in models:
        cells = []
        for d, s in cols:
            p = diffs.get((m, d, s))
            cells.append(
                f"{p['mean']:+.2f} ({p['low']:+.2f} to {p['high']:+.2f}), {p['higher']} of {p['n']}" if p else ""
            )
        out.append(f"| {m} | " + " | ".join(cells) + " |")
    return out + [
        "",
        f"Each cell: the mean of the per-image differences from {against}; in brackets a 95% bootstrap interval "
        f"of that mean over the images ({PAIRED_RESAMPLES:,} resamples, seeded); then the images on which the "
        "model scores higher.",
        "",
    ]


def to_markdown(
    report: dict[str, Any], per_image: bool = False, published: bool = True, against: str | None = None
) -> str:
    """Table 1 (PSNR) and Table 2 (SSIM): rows model, columns dataset x scale.

    With ``published``, each column that has a published figure for any listed model
    gets a "pub." column beside it (values and sources in :mod:`sisr.published`). With
    ``against``, a table of each model's paired PSNR difference from that model (:func:`paired`).
    """

    results = report["results"]
    degraded = report.get("degradation")
    published = published and degraded is None  # the published figures are for bicubic LR
    datasets = list(dict.fromkeys(r["dataset"] for r in results))
    # Scales ascending within each dataset, also where merged reports measured x3 after x2 and x4.
    cols = sorted({(r["dataset"], r["scale"]) for r in results}, key=lambda c: (datasets.index(c[0]), c[1]))
    models = list(dict.fromkeys(r["model"] for r in results))
    by = {(r["model"], r["dataset"], r["scale"]): r for r in results}
    out = []
    tables = (("psnr_y", 0, "Table 1: PSNR (dB, Y)", "{:.2f}"), ("ssim_y", 1, "Table 2: SSIM (Y)", "{:.4f}"))
    for metric, idx, title, fmt in tables:
        pub = {
            c: published and any(PUBLISHED.get((m, *c), (None, None))[idx] is not None for m in models) for c in cols
        }
        head, rule = ["model"], ["---"]
        budget = idx == 0 and "budgets" in report
        for d, s in cols:
            head.append(f"{d} x{s}")
            rule.append("---:")
            if pub[(d, s)]:
                head.append("pub.")
                rule.append("---:")
        if budget:
            head.append("training budget (steps x batch, step time, hardware)")
            rule.append("---")
        out += [f"### {title}\n", "| " + " | ".join(head) + " |", "|" + "|".join(rule) + "|"]
        for m in models:
            cells = [m]
            for d, s in cols:
                cells.append(fmt.format(by[(m, d, s)][metric]) if (m, d, s) in by else "")
                if pub[(d, s)]:
                    v = PUBLISHED.get((m, d, s), (None, None))[idx]
                    cells.append("" if v is None else fmt.format(v))
            if budget:
                cells.append(budget_cell(report["budgets"].get(m), m in report.get("zero_shot_settings", {})))
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if against is not None:
        out += _paired_markdown(report, against, cols)
    sources = sorted({PUBLISHED[(m, d, s)][2] for m in models for d, s in cols if (m, d, s) in PUBLISHED})
    if published and sources:
        out += ["Published figures (pub.): " + "; ".join(sources) + ". Values and notes: `sisr/published.py`.", ""]
    if degraded:
        out += [
            f"LR inputs: {degraded['kind']} degradations (`sisr.degrade`, Real-ESRGAN's ranges) of the 8-bit RGB "
            f"images, seed {degraded['seed']}.",
            "",
        ]
    zero_shot = report.get("zero_shot_settings", {})
    if zero_shot:
        default = dataclasses.asdict(ZeroShotConfig())
    for m, cfg in zero_shot.items():
        changed = {
            k: v
            for k, v in cfg.items()
            if k in default and k != "threads" and (tuple(v) if isinstance(v, list) else v) != default[k]
        }
        text = ", ".join(f"{k}={v}" for k, v in changed.items()) or "the defaults"
        out += [f"`{m}` settings (its training budget, on each image): {text}.", ""]
    if per_image:
        for r in results:
            key = (r["model"], r["dataset"], r["scale"])
            pub = {i["name"]: PUBLISHED_PER_IMAGE.get((*key, i["name"])) for i in r["images"]} if published else {}
            with_pub = any(pub.values())
            out.append(f"### {r['model']} on {r['dataset']} x{r['scale']}\n")
            if with_pub:
                out.append("| image | PSNR | SSIM | pub. PSNR | pub. SSIM | seconds |\n|---|---:|---:|---:|---:|---:|")
            else:
                out.append("| image | PSNR | SSIM | seconds |\n|---|---:|---:|---:|")
            for i in r["images"]:
                cells = [i["name"], f"{i['psnr_y']:.2f}", f"{i['ssim_y']:.4f}"]
                if with_pub:
                    p = pub.get(i["name"])
                    cells += [f"{p[0]:.3f}", f"{p[1]:.3f}"] if p else ["", ""]
                cells.append(f"{i['seconds']:.1f}" if "seconds" in i else "")  # none for results made elsewhere
                out.append("| " + " | ".join(cells) + " |")
            if with_pub:
                out.append(f"\npub.: {next(p for p in pub.values() if p)[2]}.")
            out.append("")
    return "\n".join(out)
