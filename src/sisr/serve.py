"""``sisr serve``: a local web app (FastAPI, served by uvicorn) to upscale, compare and download.

One worker thread runs the jobs one at a time, so a small machine stays responsive and
``/api/health`` answers while a job runs. Uploads are recognised by decoding them (with the
CLI's decompression-bomb guard), stored under a private temporary folder with random job ids,
and deleted after ``retention_s`` and on shutdown. Every error is ``{"error": "one line"}``
with a 4xx status; a 5xx is a bug. A result is the file ``sisr upscale`` writes for the same
input and options (format, alpha, 16 bits, ICC profile and EXIF kept); the warnings it would print
(a 16-bit TIFF read at 8 bits, transparency flattened for JPEG) are the job's ``warnings``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import functools
import json
import os
import queue
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from sisr.api import check_result, check_scale, jpeg_advice, load_upscaler, result_size, sizing, upscale_file
from sisr.errors import SisrError, closest, collected, warn
from sisr.infer import descriptors, list_models, load_model, pyramid_file
from sisr.io import (
    CAMERA_RAW_SUFFIXES,
    WRITE_FORMATS,
    decoded_format,
    iter_pages,
    read_animation,
    read_image,
    result_suffix,
    result_suffix_of,
    sequence_of,
    stored_size,
    tiff_pages,
    write_image,
)
from sisr.models import DEFAULT_MODEL, unknown_model
from sisr.precision import cores, device_label, resolve_device

__all__ = ["ServeConfig", "create_app", "serve"]

STATIC = Path(__file__).resolve().parent / "static"
TERMINAL = ("done", "failed", "cancelled")
BROWSER_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif")  # results a page can show as they are


@dataclass(frozen=True)
class ServeConfig:
    max_upload_mb: float = 50.0
    max_queue: int = 8  # jobs waiting or running; more get 429
    retention_s: float = 3600.0  # finished jobs and their files are deleted after this
    threads: int = 0  # torch threads of the worker (0: all cores but one)
    device: str | None = None  # where models run, as --device ("auto": a CUDA GPU where there is one)
    # One's own trained weights on the page (sisr serve --model): (name in the menu, weights path)
    own: tuple[tuple[str, str], ...] = ()


class Cancelled(Exception):
    pass


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


@dataclass
class Job:
    id: str
    model: str
    scale: int | float  # 2.5: the model's x3 or x4, then resized (size)
    options: dict[str, Any]
    folder: Path
    filename: str
    quality: int | None = None
    size: tuple[int | None, int | None] | float | None = None  # width, height to reach, or a factor (None: the scale's)
    strip_metadata: bool = False
    status: str = "queued"
    progress: float = 0.0
    error: str = ""
    created: float = field(default_factory=time.time)
    started: float = 0.0
    finished: float = 0.0
    result: Path | None = None
    preview: Path | None = None  # what a page shows: the result, or a PNG of a TIFF result
    warnings: list[str] = field(default_factory=list)
    input_size: tuple[int, int] | None = None  # width, height (an animation's frame, a scan's first page)
    result_size: tuple[int, int] | None = None
    result_bytes: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    version: int = 0  # bumped at every change, for the event stream

    def eta_s(self) -> float | None:
        if self.status != "running" or self.progress <= 0:
            return None
        spent = time.time() - self.started
        return round(spent * (1 - self.progress) / self.progress, 1)

    def public(self) -> dict[str, Any]:
        seconds = (self.finished or time.time()) - self.started if self.started else 0.0
        return {
            "id": self.id,
            "status": self.status,
            "progress": round(self.progress, 4),
            "eta_s": self.eta_s(),
            "error": self.error,
            "model": self.model,
            "scale": self.scale,
            "options": self.options,
            "filename": self.filename,
            "format": Path(self.filename).suffix.lstrip("."),
            "quality": self.quality,
            "strip_metadata": self.strip_metadata,
            "warnings": list(self.warnings),
            "seconds": round(seconds, 2),
            "input_size": self.input_size,
            "result_size": self.result_size,
            "result_bytes": self.result_bytes,
        }


class JobRunner:
    """The job table, the bounded queue and the one worker thread."""

    def __init__(self, cfg: ServeConfig) -> None:
        self.cfg = cfg
        self.root = Path(tempfile.mkdtemp(prefix="sisr-serve-"))
        os.chmod(self.root, 0o700)
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.todo: queue.Queue[str | None] = queue.Queue()
        self.models: dict[tuple, Any] = {}
        self.models_lock = threading.Lock()
        self.stopping = threading.Event()
        self.worker = threading.Thread(target=self._work, name="sisr-worker", daemon=True)
        self.cleaner = threading.Thread(target=self._clean, name="sisr-cleaner", daemon=True)

    def start(self) -> None:
        if self.cfg.threads or cores() > 1:
            import torch

            torch.set_num_threads(self.cfg.threads or max(1, cores() - 1))
        self.worker.start()
        self.cleaner.start()

    def stop(self) -> None:
        self.stopping.set()
        for job in list(self.jobs.values()):
            job.cancel.set()
        self.todo.put(None)
        self.worker.join(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)

    def active(self) -> int:
        with self.lock:
            return sum(j.status in ("queued", "running") for j in self.jobs.values())

    def submit(self, job: Job) -> None:
        with self.lock:
            busy = sum(j.status in ("queued", "running") for j in self.jobs.values())
            if busy >= self.cfg.max_queue:
                shutil.rmtree(job.folder, ignore_errors=True)
                raise ApiError(429, f"the queue is full ({busy} jobs); try again shortly", {"Retry-After": "5"})
            self.jobs[job.id] = job
        self.todo.put(job.id)

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"no job '{job_id[:40]}'")
        return job

    def delete(self, job_id: str) -> Job:
        job = self.get(job_id)
        job.cancel.set()
        with self.lock:
            if job.status == "queued":
                self._finish(job, "cancelled")
            self.jobs.pop(job.id, None)
        if job.status != "running":
            shutil.rmtree(job.folder, ignore_errors=True)
        return job

    def _finish(self, job: Job, status: str, error: str = "") -> None:
        job.status, job.error, job.finished = status, error, time.time()
        job.version += 1

    def model(self, name: str, scale: int | float, options: dict[str, Any]):
        """The loaded model for these options (it refuses those that do not apply), from a small cache
        shared by the upload check and the worker, so that weights are read once."""
        key = (name, scale, json.dumps(options, sort_keys=True))
        with self.models_lock:
            if key not in self.models:
                if len(self.models) >= 4:
                    self.models.pop(next(iter(self.models)))
                # scale 1: restore at input size
                path = dict(self.cfg.own).get(name, name)
                self.models[key] = load_upscaler(path, scale, **options, device=self.cfg.device)
            return self.models[key]

    def _work(self) -> None:
        while not self.stopping.is_set():
            job_id = self.todo.get()
            if job_id is None:
                return
            job = self.jobs.get(job_id)
            if job is None or job.status != "queued":
                continue
            self._run(job)
            if job.id not in self.jobs:  # deleted while it ran
                shutil.rmtree(job.folder, ignore_errors=True)

    def _run(self, job: Job) -> None:
        job.status, job.started = "running", time.time()
        job.version += 1

        def on_tile(done: int, total: int) -> None:
            if job.cancel.is_set():
                raise Cancelled
            job.progress = min(0.99, done / max(total, 1))
            job.version += 1

        src, dst = job.folder / "input", job.folder / f"result{Path(job.filename).suffix}"
        said: list[str] = []
        status, error = "done", ""
        try:
            src = next(job.folder.glob("input.*"))  # gone if the job was deleted as it started: a failure
            up = self.model(job.model, job.scale, job.options)
            with collected(said):
                if advice := jpeg_advice([src], up):
                    warn(advice)
                upscale_file(
                    src,
                    dst,
                    up,
                    overwrite=True,
                    on_tile=on_tile,
                    quality=job.quality,
                    size=job.size,
                    restore=job.scale == 1,
                    strip_metadata=job.strip_metadata,
                )
                if job.cancel.is_set():
                    raise Cancelled
                job.preview = dst if dst.suffix in BROWSER_SUFFIXES else _preview(dst)
                job.result_size = stored_size(dst)
            job.result, job.progress, job.result_bytes = dst, 1.0, dst.stat().st_size
        except Cancelled:
            status = "cancelled"
        except SisrError as e:
            status, error = "failed", str(e).splitlines()[0]
        except Exception as e:  # a bug: the job fails with one line, the server goes on
            status, error = "failed", f"internal error ({type(e).__name__})"

        def named(text: str) -> str:  # the user's names, not the server's temporary paths
            return text.replace(str(dst), job.filename).replace(str(src), "upload")

        job.warnings = [named(w) for w in said]
        self._finish(job, status, named(error))

    def _clean(self) -> None:
        while not self.stopping.wait(min(60.0, max(0.5, self.cfg.retention_s / 4))):
            self.sweep()

    def sweep(self) -> int:
        """Delete finished jobs older than the retention time; returns how many."""
        now, gone = time.time(), []
        with self.lock:
            for job in list(self.jobs.values()):
                if job.status in TERMINAL and now - job.finished > self.cfg.retention_s:
                    gone.append(self.jobs.pop(job.id))
        for job in gone:
            shutil.rmtree(job.folder, ignore_errors=True)
        return len(gone)


def own_models(paths: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``(name, path)`` for each of one's own weights to offer (a training run's folder or a
    ``.safetensors`` file), named by the folder or the file; each is loaded once now, so that a
    wrong one is one line before the server starts."""
    out: dict[str, str] = {}
    for p in paths:
        if not str(p).strip() or p in list_models():
            said = "is on the menu already" if p else "is empty"
            raise SisrError(f"--model '{p}' {said}: it adds a training run's folder or a weights file")
        if pyramid_file(str(p)) is not None:
            raise SisrError(
                f"--model {p}: a zero-shot pyramid enlarges only the image it was trained on; the web app offers "
                "models for any image (`sisr upscale IMAGE --model PYRAMID` runs it)"
            )
        _own_descriptor(str(p))  # its weights and metadata, checked (a name that is no file: a did-you-mean)
        name = Path(p).name if Path(p).is_dir() else Path(p).stem
        if name in list_models() or name in out:
            raise SisrError(f"--model {p}: the menu has a model named '{name}' already; rename the folder or file")
        out[name] = str(p)
    return tuple(out.items())


@functools.cache
def _own_descriptor(path: str):
    """The descriptor of one's own weights, loaded once for both the check at start and the menu."""
    return load_model(path).descriptor


def _models_info(own: tuple[tuple[str, str], ...] = ()) -> list[dict[str, Any]]:
    out = []
    mine = [dataclasses.replace(_own_descriptor(p), name=n, description=f"your model: {p}") for n, p in own]
    for desc in [*descriptors(), *mine]:
        name = desc.name
        out.append(
            {
                "name": name,
                "kind": desc.kind,
                "description": desc.description,
                "scales": list(desc.scales) if not desc.any_scale else [2, 3, 4],
                "tiling": desc.tiling,
                "precisions": list(desc.precisions),
                "ensemble": desc.ensemble,
                "denoise": desc.denoise,
                "default": name == DEFAULT_MODEL,
                "own": name in dict(own),  # one's own weights (sisr serve --model)
            }
        )
    return out


def _field(form, key: str) -> str:
    v = form.get(key)
    return v.strip() if isinstance(v, str) else ""


def _flag(form, key: str) -> bool:
    v = _field(form, key).lower()
    if v in ("1", "true", "on", "yes"):
        return True
    if v in ("", "0", "false", "off", "no"):
        return False
    raise ApiError(400, f"{key} must be 1 or 0, got '{v[:20]}'")


# What a job's form may hold: the upload, the model and scale, _form_options' and _form_output's.
_FORM_FIELDS = (
    "file",
    "model",
    "scale",
    "tile",
    "denoise",
    "ensemble",
    "precision",
    "format",
    "quality",
    "width",
    "height",
    "strip_metadata",
)


def _form_options(form) -> tuple[int | float | None, dict[str, Any]]:
    def text(key: str) -> str:
        return _field(form, key)

    try:
        scale = check_scale(float(text("scale"))) if text("scale") else None  # None: the model's largest
        tile = int(text("tile")) if text("tile") else None
        denoise = float(text("denoise")) if text("denoise") else None
    except (ValueError, SisrError):
        raise ApiError(
            400, "scale must be a number, 1 or more (4, 2.5), tile a whole number, denoise a number from 0 to 1"
        ) from None
    options: dict[str, Any] = {}
    if _flag(form, "ensemble"):
        options["ensemble"] = True
    if text("precision"):
        options["precision"] = text("precision")
    if tile is not None:
        options["tile"] = tile
    if denoise is not None:
        options["denoise"] = denoise
    return scale, options


def _form_output(form) -> tuple[str, int | None, tuple[int | None, int | None] | None, bool]:
    """The output ``format`` asked for ("" keeps the upload's), the lossy ``quality``, the
    ``(width, height)`` to reach (as ``--width``/``--height``; None: the scale's size) and
    whether to strip EXIF, XMP and PNG text (as ``--strip-metadata``)."""
    fmt, quality = _field(form, "format").lower(), _field(form, "quality")
    if fmt and fmt not in WRITE_FORMATS:
        raise ApiError(400, f"unknown format '{fmt[:20]}' (known: {', '.join(WRITE_FORMATS)})")
    try:
        quality_n = int(quality) if quality else None
    except ValueError:
        raise ApiError(400, "quality must be a whole number from 1 to 100") from None
    try:
        w, h = (int(_field(form, k)) if _field(form, k) else None for k in ("width", "height"))
    except ValueError:
        raise ApiError(400, "width and height must be whole numbers of pixels") from None
    if any(v is not None and not 1 <= v <= 65535 for v in (w, h)):
        raise ApiError(400, "width and height must be 1 to 65535 pixels")
    return fmt, quality_n, None if w is None and h is None else (w, h), _flag(form, "strip_metadata")


def create_app(cfg: ServeConfig | None = None) -> FastAPI:
    cfg = cfg or ServeConfig()
    runner = JobRunner(cfg)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        runner.start()
        yield
        runner.stop()

    app = FastAPI(
        title="sisr",
        description="Single-image super-resolution: upload an image, follow the job, download the result.",
        lifespan=lifespan,
    )
    app.state.runner = runner
    models_cache: list[dict[str, Any]] = []

    @app.exception_handler(ApiError)
    async def api_error(request: Request, e: ApiError):
        return JSONResponse({"error": e.message}, status_code=e.status, headers=e.headers)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, e: HTTPException):
        return JSONResponse({"error": str(e.detail).splitlines()[0]}, status_code=e.status_code)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, e: RequestValidationError):
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return JSONResponse({"error": f"bad request: {where} {first.get('msg', '')}".strip()}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, e: Exception):
        return JSONResponse({"error": f"internal error ({type(e).__name__})"}, status_code=500)

    @app.get("/", include_in_schema=False)
    async def index():
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/api/health")
    async def health():
        running = next((j.id for j in runner.jobs.values() if j.status == "running"), None)
        return {"status": "ok", "active_jobs": runner.active(), "running": running}

    @app.get("/api/models")
    async def models():
        if not models_cache:
            models_cache.extend(await asyncio.to_thread(_models_info, cfg.own))
        return {"models": models_cache}

    @app.post("/api/jobs", status_code=202)
    async def create_job(request: Request):
        limit = int(cfg.max_upload_mb * 2**20)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > limit + 64 * 1024:
            raise ApiError(413, f"upload larger than {cfg.max_upload_mb:g} MB")
        try:
            form = await request.form(max_files=1, max_fields=16, max_part_size=limit)
        except Exception as e:  # the multipart parser's own limits and malformed bodies
            if "size" in str(e).lower() or "large" in str(e).lower():
                raise ApiError(413, f"upload larger than {cfg.max_upload_mb:g} MB") from None
            raise ApiError(400, "bad request: expected multipart/form-data with a 'file' field") from None
        try:  # the upload's spooled file (on disk past 1 MB) goes now, not when it is garbage-collected
            return await _create_job(form, limit)
        finally:
            await form.close()

    async def _create_job(form, limit: int) -> dict[str, str]:
        for key in dict.fromkeys(form.keys()):  # a misspelt option is refused, as the CLI refuses one
            if key not in _FORM_FIELDS:
                close = closest(key, _FORM_FIELDS)
                hint = f"did you mean '{close}'? " if close else ""
                raise ApiError(400, f"unknown field '{key[:30]}' ({hint}known: {', '.join(_FORM_FIELDS)})")
            if len(form.getlist(key)) > 1:
                raise ApiError(400, f"field '{key}' is given more than once")
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise ApiError(400, "bad request: expected multipart/form-data with a 'file' field")
        model = form.get("model")
        model = model.strip() if isinstance(model, str) and model.strip() else DEFAULT_MODEL
        if model not in list_models() and model not in dict(cfg.own):
            mine = "".join(f", {n}" for n, _ in cfg.own)
            raise ApiError(400, unknown_model(model) + mine + ")")
        scale, options = _form_options(form)
        if scale is None:  # the model's largest, as sisr upscale's default (a model of one's own may lack x4)
            try:
                scale = (await asyncio.to_thread(runner.model, model, None, options)).scale
            except SisrError as e:
                raise ApiError(400, str(e).splitlines()[0]) from None
        fmt, quality, target, strip = _form_output(form)
        if scale == 1 and target is not None:
            raise ApiError(400, "x1 keeps the input's size: a width or height does not apply")
        job = Job(secrets.token_urlsafe(16), model, scale, options, runner.root / "pending", "", quality, target, strip)
        job.folder = runner.root / job.id
        job.folder.mkdir(mode=0o700)
        try:
            # A camera raw file keeps its suffix, which is how most of them are known.
            raw_suffix = Path(upload.filename or "").suffix.lower()
            raw = job.folder / f"input{raw_suffix if raw_suffix in CAMERA_RAW_SUFFIXES else '.upload'}"
            size = 0
            with raw.open("wb") as fh:
                while chunk := await upload.read(1 << 20):
                    size += len(chunk)
                    if size > limit:
                        raise ApiError(413, f"upload larger than {cfg.max_upload_mb:g} MB")
                    fh.write(chunk)
            width, height, kind, n = await asyncio.to_thread(_check_image, raw)
            job.input_size = (width, height)
            src = raw.rename(job.folder / f"input{result_suffix(decoded_format(raw))}")
            stem = _download_stem(upload.filename)
            job.filename = f"{stem}_x{scale}{result_suffix_of(src, fmt)}"
            dst = Path(job.filename)
            try:
                up = await asyncio.to_thread(runner.model, model, scale, options)  # refuses what does not apply
                check_result(up, dst, kind, n, "upload", quality=quality)
                _, job.size, _ = sizing(scale, up, target)  # a fractional scale is a size
                result_size(width, height, up, size=job.size, restore=scale == 1, dst=dst)
            except SisrError as e:
                raise ApiError(400, str(e).splitlines()[0]) from None
            runner.submit(job)
        except BaseException:
            shutil.rmtree(job.folder, ignore_errors=True)
            raise
        return {"id": job.id}

    @app.get("/api/jobs/{job_id}")
    async def job_status(job_id: str):
        return runner.get(job_id).public()

    @app.get("/api/jobs/{job_id}/result")
    async def job_result(job_id: str):
        job = runner.get(job_id)
        if job.status != "done" or job.result is None or not job.result.exists():
            raise ApiError(409, f"job is {job.status}, no result yet")
        return FileResponse(job.result, filename=job.filename)

    @app.get("/api/jobs/{job_id}/preview")
    async def job_preview(job_id: str):
        """The result as a page can show it: itself, or a PNG of a TIFF result."""
        job = runner.get(job_id)
        if job.status != "done" or job.preview is None or not job.preview.exists():
            raise ApiError(409, f"job is {job.status}, no result yet")
        return FileResponse(job.preview)

    @app.delete("/api/jobs/{job_id}")
    async def job_delete(job_id: str):
        job = runner.delete(job_id)
        return {"id": job.id, "status": "cancelled" if job.status != "done" else "deleted"}

    @app.get("/api/jobs/{job_id}/events")
    async def job_events(job_id: str):
        job = runner.get(job_id)

        async def stream():
            seen = -1
            while True:
                if job.version != seen:
                    seen = job.version
                    now = job.public()  # one snapshot: the event sent is the state the loop ends on
                    yield f"data: {json.dumps(now)}\n\n"
                    if now["status"] in TERMINAL:
                        return
                await asyncio.sleep(0.2)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/results.zip")
    async def results_zip(ids: str):
        jobs = [runner.get(i) for i in ids.split(",") if i][:64]
        done = [j for j in jobs if j.status == "done" and j.result is not None]
        if not done:
            raise ApiError(409, "none of these jobs has a result")
        # On disk, not in memory: 64 poster-sized results are gigabytes. Deleted once sent.
        fd, path = tempfile.mkstemp(suffix=".zip", dir=runner.root)

        def pack() -> None:
            with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
                names: set[str] = set()
                for j in done:
                    name, n = f"{j.model}/{j.filename}", 1
                    while name in names:  # the same image and model twice: "cat_x4 (2).png", as a browser saves it
                        n += 1
                        name = f"{j.model}/{Path(j.filename).stem} ({n}){Path(j.filename).suffix}"
                    names.add(name)
                    zf.write(j.result, name)

        try:
            await asyncio.to_thread(pack)
        except BaseException:
            Path(path).unlink(missing_ok=True)
            raise
        return FileResponse(
            path,
            media_type="application/zip",
            filename="sisr-results.zip",
            background=BackgroundTask(Path(path).unlink, missing_ok=True),
        )

    return app


def _download_stem(filename: str | None) -> str:
    """The name a result is downloaded under, from the upload's: without folders (either slash),
    characters Windows does not allow in names (a zip of results is unpacked there too) or leading
    dots (a hidden file), at most 80 characters; "image" where nothing is left."""
    stem = Path((filename or "").replace("\\", "/")).stem
    return re.sub(r'[\x00-\x1f<>:"/\\|?*]', "_", stem).lstrip(". ")[:80].rstrip(". ") or "image"


def _check_image(path: Path) -> tuple[int, int, str, int]:
    """The upload's ``(width, height, kind, n)``: the size of its first frame or page and
    :func:`sisr.io.sequence_of`, or a 400 if it is not an image sisr reads."""
    kind, n = sequence_of(path)
    try:
        with collected([]):  # dropped: the job reads it again, and its warnings are the job's
            if kind == "animation":
                h, w = read_animation(path).frames[0].shape[:2]
            elif kind == "pages":  # every page decodes, one at a time
                h, w = [page.pixels.shape[:2] for page in iter_pages(path)][0]
            else:
                h, w = read_image(path).pixels.shape[:2]
    except SisrError as e:
        msg = str(e).splitlines()[0].replace(str(path), "upload")
        raise ApiError(400, msg) from None
    return w, h, kind, n


def _preview(result: Path) -> Path:
    """A PNG of a result a browser cannot show (TIFF; of several pages, the first), at its bit
    depth, with its alpha."""
    if tiff_pages(result):
        with contextlib.closing(iter_pages(result)) as pages:
            shown = next(pages)
    else:
        shown = read_image(result)
    return write_image(result.with_name("preview.png"), shown)


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` before anything says the app is there, or a one-line
    error (a port in use, an address this machine does not have)."""
    if not 0 <= port <= 65535:
        raise SisrError(f"--port must be 0 to 65535, got {port}")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as e:
        raise SisrError(f"--host {host}: {e.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a restart need not wait
    try:
        sock.bind(address)
        sock.listen(128)  # a browser that opens the printed address at once waits instead of being refused
    except OSError as e:
        sock.close()
        hint = " (another server? pick another --port)" if e.errno == errno.EADDRINUSE else ""
        raise SisrError(f"cannot listen on {host}:{port}: {e.strerror}{hint}") from None
    return sock


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    max_upload_mb: float = 50.0,
    open_browser: bool = False,
    device: str | None = None,
    models: Sequence[str] = (),
) -> None:
    import uvicorn

    runs_on = resolve_device(device)  # a GPU this machine lacks: one line now, not at the first upload
    own = own_models(models)
    sock = listen(host, port)
    port = sock.getsockname()[1]  # port 0: the one the system chose
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"sisr: warning: serving on {host}: anyone who can reach this address can use the app")
    app = create_app(ServeConfig(max_upload_mb=max_upload_mb, device=device, own=own))
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    print(f"sisr serve: {url} (models run on {device_label(runs_on)}; Ctrl+C stops)", flush=True)
    if open_browser:
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
