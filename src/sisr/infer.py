"""Running a model on an image: one inference contract for every runnable model.

Each runnable thing (bicubic, a supervised network, a zero-shot method) is
described by a :class:`ModelDescriptor`: its scales, its input, whether and
how it tiles, the precisions and backends it runs in, whether it exports,
and the settings it takes. :func:`load_model` checks every option against it
and refuses, with one line, an option that does not apply; it returns a
runner (:class:`Upscaler` or :class:`ZeroShotUpscaler`) that upscales an
``H x W x 3`` array (uint8, uint16 or float in [0, 1]) to float32 in [0, 1].
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from sisr.atomic import check_writable
from sisr.checkpoint import blind_recipe, file_kind, find_weights, load_checkpoint, read_header
from sisr.config import build_dataclass
from sisr.errors import SisrError
from sisr.export import exported_head, onnx_session
from sisr.io import to_float
from sisr.models import (
    DEFAULT_MODEL,
    PRETRAINED,
    WEIGHTLESS,
    ZEROSHOT,
    build_model,
    list_models,
    model_from_checkpoint,
    weights_dir,
    weights_path,
)
from sisr.models.base import SRModel
from sisr.precision import (
    PRECISIONS,
    autocast,
    available_memory,
    device_here,
    resolve_device,
    resolve_precision,
)
from sisr.train.zeroshot import check_config, upscale_zero_shot, work_units
from sisr.transforms import self_ensemble
from sisr.zeroshot import (
    DEFAULT_PRESET,
    PRESETS,
    Pyramid,
    ZeroShotConfig,
    conv_macs,
    load_pyramid,
    preset_values,
    sr_cost,
    sr_settings,
)

__all__ = [
    "InferenceOptions",
    "ModelDescriptor",
    "PyramidUpscaler",
    "Upscaler",
    "ZeroShotUpscaler",
    "auto_tile",
    "describe",
    "list_models",
    "load_model",
    "run_tiled",
    "self_ensemble",
]

DEFAULT_OVERLAP = 16
MIN_TILE = 16  # LR pixels
# Zero-shot settings that the model name or an option decides, not --set.
_ZS_FIXED = ("method",)


@dataclass(frozen=True)
class InferenceOptions:
    """What a caller asks of a model run; ``None`` and the defaults mean "not asked"."""

    tile: int | None = None  # LR tile side (None: from free memory; 0: no tiling)
    overlap: int | None = None  # tile context and blend width, LR px (None: 16)
    ensemble: bool = False  # x8 self-ensemble
    precision: str | None = None  # "auto", "fp32" or "bf16" (None: fp32; zero-shot: its settings')
    backend: str | None = None  # "torch" or "onnx" (None: the model's first: torch, or onnx for an .onnx file)
    settings: dict[str, Any] | None = None  # zero-shot settings (--set)
    save_model: str | None = None  # zero-shot: folder for each trained pyramid
    progress: bool = False  # zero-shot: a training progress bar
    denoise: float | None = None  # 0..1: blend with the clean partner's weights (0: clean, 1: as trained)
    # "auto" (a CUDA GPU where there is one), "cpu", "cuda[:N]" (None: auto; zero-shot: its settings')
    device: str | None = None


class ScaleError(SisrError):
    """A scale the model does not upscale by; ``largest`` is its largest, which a resize to the size
    wanted (``--width``) can follow."""

    def __init__(self, message: str, largest: int) -> None:
        super().__init__(message)
        self.largest = largest


@dataclass(frozen=True)
class ModelDescriptor:
    """What a runnable model can do; options outside it are refused, never dropped."""

    name: str
    kind: str  # "interpolation", "supervised" or "zero-shot"
    description: str
    scales: tuple[int, ...]  # output scales; any integer >= 2 when ``any_scale``
    any_scale: bool = False
    input: str = "H x W x 3 RGB, uint8, uint16 or float in [0, 1]"
    tiling: bool = True  # runs tile by tile with blended overlaps (zero-shot trains on the whole image)
    feature_space: str = "lr"  # "lr" or "hr": where features live, for the tile-memory estimate
    precisions: tuple[str, ...] = PRECISIONS
    backends: tuple[str, ...] = ("torch", "onnx")
    ensemble: bool = True  # x8 self-ensemble
    export: bool = True  # ONNX export
    settings: tuple[str, ...] = ()  # names accepted by --set
    params: int = 0
    denoise: bool = False  # trained on degraded inputs from a clean model: --denoise blends the two
    devices: tuple[str, ...] = ("cpu", "cuda")  # where it runs ("auto" picks)
    trains: bool = False  # trains a model on each input (a zero-shot method; not its saved pyramid)

    def refuse(self, option: str, why: str) -> None:
        raise SisrError(f"{option} does not apply to {self.name}: {why}")

    def check_scale(self, scale: int | None) -> int:
        _check_scale_type(scale)
        chosen = scale or max(self.scales)
        if chosen not in self.scales and not (self.any_scale and chosen >= 1):
            supported = ", ".join(f"x{s}" for s in self.scales)
            raise SisrError(f"model '{self.name}' does not upscale x{chosen} (it supports {supported})")
        return chosen

    def check(self, o: InferenceOptions) -> None:
        """Raise a one-line :class:`SisrError` for any option this model cannot honour."""
        tile, overlap, precision, backend = o.tile, o.overlap, o.precision, o.backend
        if precision is not None and precision not in PRECISIONS:
            raise SisrError(f"unknown precision '{precision}' (use {', '.join(PRECISIONS)})")
        if backend is not None and backend not in ("torch", "onnx"):
            raise SisrError(f"unknown backend '{backend}' (use torch or onnx)")
        if tile is not None and (tile < 0 or 0 < tile < MIN_TILE):
            # a smaller tile runs mostly its context: 3 LR px with 16 of overlap run 35 x 35 px for 3 x 3
            raise SisrError(f"tile must be 0 (no tiling) or at least {MIN_TILE} LR px, got {tile}")
        if overlap is not None and overlap < 0:
            raise SisrError(f"tile overlap must be >= 0, got {overlap}")
        zero_shot = "it is trained on the whole input image"
        if not self.tiling and tile is not None:
            self.refuse("--tile", zero_shot)
        if not self.tiling and overlap is not None:
            self.refuse("--tile-overlap", zero_shot)
        if o.ensemble and not self.ensemble:
            self.refuse("--ensemble", "it has no self-ensemble")
        if precision is not None and precision not in self.precisions:
            self.refuse(f"--precision {precision}", f"it runs in {', '.join(self.precisions)}")
        if backend is not None and backend not in self.backends:
            self.refuse(f"--backend {backend}", f"it runs on {', '.join(self.backends)}")
        backend = backend or self.backends[0]
        if backend == "onnx" and precision == "bf16":  # the exported graph is fp32
            self.refuse("--precision bf16", "its ONNX backend runs in fp32 (use --backend torch for bf16)")
        if o.device not in (None, "auto"):
            dev = device_here(o.device)  # a name that is no device, or a GPU this machine lacks: one line
            if dev.type not in self.devices:
                self.refuse(f"--device {o.device}", f"it runs on {', '.join(self.devices)}")
            if backend == "onnx" and dev.type != "cpu":
                self.refuse(f"--device {o.device}", "its ONNX backend runs on the CPU (use --backend torch)")
        for key, value in (o.settings or {}).items():
            if not self.settings:
                saved = self.kind == "zero-shot"  # a pyramid that a zero-shot method trained and saved
                why = (
                    "a saved pyramid keeps the settings it was trained with"
                    if saved
                    else "only zero-shot models take settings"
                )
                self.refuse(f"--set {key}", why)
            if isinstance(value, dict):  # "drsingan.lr=...": a setting for that method only
                if key not in ZEROSHOT:
                    raise SisrError(f"--set {key}.{next(iter(value), '')}: '{key}' is not a zero-shot method")
                keys = list(value)
            else:
                keys = [key]
            for k in keys:
                if k not in self.settings:
                    self.refuse(f"--set {k}", f"not one of its settings ({', '.join(self.settings)})")
        if o.save_model and not self.trains:
            saved = self.kind == "zero-shot"
            self.refuse(
                "--save-model",
                "a saved pyramid trains nothing" if saved else "only zero-shot models train a model per image",
            )
        if o.denoise is not None:
            if not self.denoise:
                self.refuse("--denoise", "it has no clean partner to blend with (a model trained on degraded LR has)")
            if not 0.0 <= o.denoise <= 1.0:
                raise SisrError(f"--denoise must be between 0 and 1, got {o.denoise}")


def describe(name: str, module: SRModel | None = None, meta: dict[str, Any] | None = None) -> ModelDescriptor:
    """The descriptor of a model name (or of ``module`` and its checkpoint ``meta``, loaded from ``name``)."""
    if name in ZEROSHOT:
        settings = tuple(f.name for f in dataclasses.fields(ZeroShotConfig) if f.name not in _ZS_FIXED)
        return ModelDescriptor(
            name,
            "zero-shot",
            ZEROSHOT[name],
            scales=(2, 3, 4, 8),
            any_scale=True,
            tiling=False,
            feature_space="lr",
            precisions=PRECISIONS,
            backends=("torch",),
            ensemble=True,
            export=False,
            settings=settings,
            trains=True,
        )
    if module is None:
        raise SisrError(f"describe('{name}') needs the loaded module")
    params = sum(p.numel() for p in module.parameters())
    if name in WEIGHTLESS:
        # Interpolation is exact arithmetic on pixels: bf16 would only lose precision.
        return ModelDescriptor(
            name,
            "interpolation",
            WEIGHTLESS[name],
            scales=tuple(module.scales),
            any_scale=True,
            feature_space=module.feature_space,
            precisions=("auto", "fp32"),
            backends=("torch",),
            ensemble=False,
            export=False,
        )
    desc = PRETRAINED[name][1] if name in PRETRAINED else f"weights from {Path(name).name}"
    return ModelDescriptor(
        name,
        "supervised",
        desc,
        scales=tuple(module.scales),
        feature_space=module.feature_space,
        params=params,
        denoise=denoise_partner(meta or {}) is not None,
    )


def denoise_partner(meta: dict[str, Any]) -> Path | None:
    """The clean model a weights file descends from by fine-tunes on degraded LR (its recipe's
    ``init``, followed through blind fine-tunes such as a GAN phase on degraded LR to the first
    clean one), whose weights ``--denoise`` blends with its own; None for any other model. Weights
    of two networks interpolate well only when one was fine-tuned from the other (Real-ESRGAN's
    general model and its denoise variant), which is why only such a pair qualifies."""
    recipe, seen = meta.get("recipe") or {}, set()
    while blind_recipe(recipe) and recipe.get("init"):
        path = find_weights(recipe["init"])
        if path is None or path in seen:
            return None
        seen.add(path)
        recipe = read_header(path, "weights").get("recipe") or {}
        if not blind_recipe(recipe):
            return path
    return None


def blend_weights(module: SRModel, partner: Path, denoise: float) -> None:
    """Set ``module``'s weights to ``denoise * own + (1 - denoise) * partner's`` (same layout)."""
    other = load_checkpoint(partner).state_dict
    own = module.state_dict()
    if set(other) != set(own) or any(other[k].shape != v.shape for k, v in own.items()):
        raise SisrError(f"--denoise: {partner.name} does not have this model's layout")
    mixed = {
        k: (denoise * v + (1 - denoise) * other[k]).to(v.dtype) if v.is_floating_point() else v for k, v in own.items()
    }
    module.load_state_dict(mixed)


def _window(length: int, blend_start: int, blend_end: int) -> torch.Tensor:
    """1-D blending weights: a raised-cosine ramp up over the first ``blend_start`` samples and
    down over the last ``blend_end``. Two neighbours' ramps over the same span sum to one."""
    w = torch.ones(length)
    if blend_start:
        q = (torch.arange(blend_start, dtype=torch.float32) + 0.5) / blend_start
        w[:blend_start] = 0.5 - 0.5 * torch.cos(math.pi * q)
    if blend_end:
        q = (torch.arange(blend_end, dtype=torch.float32) + 0.5) / blend_end
        w[length - blend_end :] = 0.5 + 0.5 * torch.cos(math.pi * q)
    return w


def _spans(n: int, tile: int) -> list[tuple[int, int]]:
    """``ceil(n / tile)`` core spans of near-equal length covering ``0..n``.

    Equal spans (rather than full tiles and a remainder) keep every core at least half a tile
    long, so the blend ramps on its two sides (each at most half the overlap, which is at most
    a quarter tile) never overrun it, whatever the image size.
    """
    k = -(-n // tile)
    bounds = [round(i * n / k) for i in range(k + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def _overlap_for(tile: int, overlap: int) -> int:
    return max(0, min(overlap, tile // 2))


def _around(lo: int, hi: int, n: int, margin: int) -> tuple[int, int]:
    """The span ``lo:hi`` of ``0:n`` widened by ``margin`` each side, within ``0:n``."""
    return max(0, lo - margin), min(n, hi + margin)


def run_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int = 16,
    on_tile: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Apply ``fn`` (``1 x C x h x w`` -> ``1 x C x h*s x w*s``) tile by tile.

    The image is cut into cores of at most ``tile`` x ``tile`` LR pixels, of
    near-equal size along each axis. Each tile is run with ``overlap`` pixels
    of context around its core, and neighbouring outputs are blended with
    raised-cosine weights over ``overlap`` pixels centred on the boundary, so
    there are no seams and the result matches the untiled one closely.
    ``tile <= 0`` or an image no larger than one tile runs in one piece.
    """
    _, c, h, w = x.shape
    if tile <= 0 or (h <= tile and w <= tile):
        if on_tile:
            on_tile(1, 1)
        return fn(x)
    overlap = _overlap_for(tile, overlap)
    half = overlap // 2
    s = scale
    # Stored height x width x channels: the caller's H x W x C array is this memory, not a copy.
    out = torch.zeros(h * s, w * s, c).permute(2, 0, 1)[None]
    # The weights of a grid of tiles are products of 1-D windows, so their sum is the product of
    # two 1-D sums: no second full-size array.
    wsum_y, wsum_x = torch.zeros(h * s), torch.zeros(w * s)
    ys, xs = _spans(h, tile), _spans(w, tile)
    total, done = len(ys) * len(xs), 0
    for y0, y1 in ys:
        for x0, x1 in xs:
            (iy0, iy1), (ix0, ix1) = _around(y0, y1, h, overlap), _around(x0, x1, w, overlap)
            (ky0, ky1), (kx0, kx1) = _around(y0, y1, h, half), _around(x0, x1, w, half)
            y = fn(x[..., iy0:iy1, ix0:ix1])
            y = y[..., (ky0 - iy0) * s : (ky1 - iy0) * s, (kx0 - ix0) * s : (kx1 - ix0) * s].float()
            wy = _window((ky1 - ky0) * s, 2 * half * s if y0 > 0 else 0, 2 * half * s if y1 < h else 0)
            wx = _window((kx1 - kx0) * s, 2 * half * s if x0 > 0 else 0, 2 * half * s if x1 < w else 0)
            weight = (wy[:, None] * wx[None, :])[None, None]
            out[..., ky0 * s : ky1 * s, kx0 * s : kx1 * s] += y * weight
            if x0 == 0:
                wsum_y[ky0 * s : ky1 * s] += wy
            if y0 == 0:
                wsum_x[kx0 * s : kx1 * s] += wx
            done += 1
            if on_tile:
                on_tile(done, total)
    for r in range(0, h * s, 256):  # a band of rows at a time: no full-size temporary
        out[..., r : r + 256, :].div_(wsum_y[r : r + 256, None] * wsum_x[None, :])
    return out


def still_share(frames: list[np.ndarray], tile: int, overlap: int = DEFAULT_OVERLAP) -> float:
    """The share of tiles (cores of at most ``tile`` with ``overlap`` of context, as
    :func:`run_tiled` cuts them) whose input is the same as in the frame before: what a
    :class:`TileMemo` would not run again."""
    h, w = frames[0].shape[:2]
    overlap = _overlap_for(tile, overlap)
    boxes = [
        (*_around(y0, y1, h, overlap), *_around(x0, x1, w, overlap))
        for y0, y1 in _spans(h, tile)
        for x0, x1 in _spans(w, tile)
    ]
    same = sum(
        np.array_equal(a[y0:y1, x0:x1], b[y0:y1, x0:x1]) for a, b in zip(frames, frames[1:]) for y0, y1, x0, x1 in boxes
    )
    return same / max(1, len(boxes) * len(frames))


class TileMemo:
    """The outputs of the previous image's tiles, by their input pixels, for a sequence of images
    (an animation's frames): a tile whose input did not change (a still background, a repeated
    frame) is not run again. A tile's output depends on its input alone, so it is the same."""

    def __init__(self) -> None:
        self.previous: dict[bytes, torch.Tensor] = {}
        self.current: dict[bytes, torch.Tensor] = {}
        self.runs = self.reused = 0

    def next_image(self) -> None:
        """Keep the last image's tiles only: memory for two images' outputs at most."""
        self.previous, self.current = self.current, {}

    def wrap(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[torch.Tensor], torch.Tensor]:
        def memo(x: torch.Tensor) -> torch.Tensor:
            key = repr(tuple(x.shape)).encode() + hashlib.blake2b(x.numpy().tobytes(), digest_size=16).digest()
            y = self.current.get(key)
            if y is None:
                y = self.previous.get(key)
            if y is None:
                y = fn(x)
                self.runs += 1
            else:
                self.reused += 1
            self.current[key] = y
            return y.clone()  # the caller's to change: the kept output stays as made

        return memo


def auto_tile(module: SRModel, scale: int, memory: int | None = None) -> int:
    """LR tile side that keeps one tile's activations within a quarter of the free memory.

    A model whose features live at the output's size (``feature_space == "hr"``: SRCNN, VDSR,
    DRCN) needs ``scale**2`` times the memory per input pixel of one working at the input's size.
    """
    per_feature_px = scale * scale if module.feature_space == "hr" else 1
    per_px = 4 * (8 * module.feature_channels * per_feature_px + 4 * 3 * scale * scale)
    budget = (memory if memory is not None else available_memory()) // 4
    side = int(math.sqrt(max(budget, 1) / per_px)) // 16 * 16
    return max(64, min(1024, side))


def _is_oom(e: BaseException) -> bool:
    return isinstance(e, MemoryError) or "out of memory" in str(e) or "can't allocate memory" in str(e)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    arr = to_float(img)
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise SisrError(f"expected an H x W x 3 image, got shape {arr.shape}")
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))[None]


@dataclass
class Upscaler:
    """A network (or bicubic) bound to one output scale, with its inference options.

    ``tile``: LR tile side (``None``: chosen from free memory; ``0``: no tiling);
    ``overlap``: context and blend width in LR pixels; ``ensemble``: x8
    self-ensemble; ``precision``: ``"auto"`` (bf16 where the CPU has native
    bf16, else fp32), ``"fp32"`` or ``"bf16"``; ``backend``: torch or onnx.
    """

    name: str
    module: SRModel
    scale: int
    descriptor: ModelDescriptor
    meta: dict[str, Any] = field(default_factory=dict)
    tile: int | None = None
    overlap: int = DEFAULT_OVERLAP
    ensemble: bool = False
    precision: str = "fp32"
    backend: str = "torch"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where the module is
    _onnx: Any = field(default=None, repr=False)

    @property
    def scales(self) -> tuple[int, ...]:
        return self.descriptor.scales

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.backend == "onnx":
            if self._onnx is None:
                self._onnx = onnx_session(self)
            y = self._onnx.run(None, {"lr": x.float().contiguous().numpy()})[0]
            return torch.from_numpy(y)
        # Tiles go to the device and come back one at a time: the image and its result stay in memory.
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        with autocast(self.precision, self.device):
            out = self.module.forward_scale(x, self.scale)
        return out.float().cpu()

    @torch.no_grad()
    def run(
        self, x: torch.Tensor, on_tile: Callable[[int, int], None] | None = None, memo: TileMemo | None = None
    ) -> torch.Tensor:
        """Upscale a ``1 x 3 x H x W`` float tensor in [0, 1]; output clamped to [0, 1]. ``memo``:
        reuse the tiles of the previous image of a sequence that did not change."""
        fn = self_ensemble(self._forward) if self.ensemble else self._forward
        if memo is not None:
            memo.next_image()
            fn = memo.wrap(fn)
        gpu = torch.cuda.mem_get_info(self.device)[0] if self.device.type == "cuda" else None
        tile = auto_tile(self.module, self.scale, gpu) if self.tile is None else self.tile
        h, w = x.shape[-2:]
        grow = [0, 0, 0, 0]  # left, right, top, bottom
        if self.descriptor.kind != "interpolation" and min(h, w) < _MIN_SIDE:
            # A network's zero padding is most of what it sees of an image a few pixels wide:
            # SRGAN made a 1 x 1 of 200 into 3 and a 2 x 2 into 52. The edge pixels repeated
            # out to _MIN_SIDE give it an image to work on; what they add is cut off again.
            ph, pw = max(0, _MIN_SIDE - h), max(0, _MIN_SIDE - w)
            grow = [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]
            x = torch.nn.functional.pad(x, grow, mode="replicate")
        while True:
            try:
                out = run_tiled(fn, x, self.scale, tile, self.overlap, on_tile)
                break
            except (RuntimeError, MemoryError) as e:
                if not _is_oom(e) or tile == 32:
                    raise
                tile = max(32, tile // 2 if tile else 512)
        s = self.scale
        out = out[..., grow[2] * s : (grow[2] + h) * s, grow[0] * s : (grow[0] + w) * s]
        return out.clamp_(0.0, 1.0)

    def __call__(
        self, img: np.ndarray, on_tile: Callable[[int, int], None] | None = None, memo: TileMemo | None = None
    ) -> np.ndarray:
        """Upscale an ``H x W x 3`` image (uint8, uint16 or float in [0, 1]); returns float32 in [0, 1]."""
        y = self.run(_to_tensor(img), on_tile, memo)
        return y[0].permute(1, 2, 0).contiguous().numpy()  # a tiled run's output is stored so already


@dataclass
class ZeroShotUpscaler:
    """A zero-shot method bound to a scale: each call trains a pyramid on the image, then enlarges it.

    ``config``: the resolved :class:`~sisr.zeroshot.ZeroShotConfig`; ``save_model``: folder where
    each trained pyramid is kept, one sub-folder per image: named after ``source`` (the file the
    next call's image came from, which :func:`sisr.api.upscale_file` sets), else ``image0000``, ...
    """

    name: str
    scale: int
    descriptor: ModelDescriptor
    config: ZeroShotConfig
    save_model: str | None = None
    progress: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    last: Any = field(default=None, repr=False)  # the last trained pyramid
    calls: int = 0
    source: str | None = None
    save_as: str | None = None  # a folder run's name for it: the input's path inside its folder
    sources: dict[str, int] = field(default_factory=dict, repr=False)  # calls per name (a TIFF's pages)

    @property
    def scales(self) -> tuple[int, ...]:
        return self.descriptor.scales

    @property
    def device(self) -> torch.device:
        """Where its pyramids train and run."""
        return torch.device(self.config.device)

    def work(self, h: int, w: int) -> int:
        """The work units (those of ``on_tile``) of one call on an ``h`` x ``w`` image, known beforehand."""
        return work_units(h, w, self.scale, self.config)

    def __call__(
        self, img: np.ndarray, on_tile: Callable[[int, int], None] | None = None, memo: TileMemo | None = None
    ) -> np.ndarray:
        """Train on ``img`` and enlarge it; ``on_tile(done, total)`` follows its work (training, then SR)."""
        if memo is not None:
            raise SisrError(f"{self.name} trains on each image: there are no tiles to reuse")
        arr = _to_tensor(img)[0].permute(1, 2, 0).numpy()
        save = self._save_folder() if self.save_model else None
        self.calls += 1
        out, self.last = upscale_zero_shot(
            arr, self.scale, self.config, progress=self.progress, save_dir=save, on_progress=on_tile, source=self.source
        )
        return out

    def _save_folder(self) -> str:
        """Where this call's pyramid goes: ``save_model/<save_as>`` in a folder run (the input's
        path inside its folder, as its result's: ``2024/a.png``), else ``save_model/<source's file
        name>``; the next of that name in this run (a TIFF's second page) ``a.png_0001``. So
        processes sharing out a folder of images (torchrun) write one pyramid per image and a rerun
        replaces that image's own; without a file, ``image0000``, ``image0001``, ..."""
        root = Path(self.save_model)
        if self.source is None and self.save_as is None:
            return str(root / f"image{self.calls:04d}")
        name = self.save_as or Path(self.source).name
        page = self.sources.get(name, 0)
        self.sources[name] = page + 1
        return str(root / (name + (f"_{page:04d}" if page else "")))


@dataclass
class PyramidUpscaler:
    """A pyramid that a zero-shot method trained on one image (``--save-model``), bound to a scale:
    it enlarges that image again, at any scale, without training."""

    name: str
    scale: int
    descriptor: ModelDescriptor
    pyramid: Pyramid
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def scales(self) -> tuple[int, ...]:
        return self.descriptor.scales

    @property
    def config(self) -> ZeroShotConfig:
        return self.pyramid.cfg

    @property
    def device(self) -> torch.device:
        return next(self.pyramid.gens[-1].parameters()).device

    def check_size(self, h: int, w: int) -> None:
        """Refuse an ``h`` x ``w`` image: it is not the one the pyramid was trained on."""
        th, tw = self.pyramid.sizes[-1]
        if (h, w) != (th, tw):
            raise SisrError(
                f"{self.name}: a pyramid trained on one {tw}x{th} image enlarges that image, not a {w}x{h} one "
                f"(--model {self.config.method} trains one on it)"
            )

    def work(self, h: int, w: int) -> int:
        """The work units (those of ``on_tile``) of one call on an ``h`` x ``w`` image."""
        g = self.pyramid.gens[-1]
        return sr_cost(h, w, self.scale, sr_settings(h, w, self.scale, self.config, conv_macs(g)))

    def __call__(
        self, img: np.ndarray, on_tile: Callable[[int, int], None] | None = None, memo: TileMemo | None = None
    ) -> np.ndarray:
        """Enlarge ``img``, which must be the image the pyramid was trained on (its size is checked)."""
        if memo is not None:
            raise SisrError(f"{self.name} runs on the whole image: there are no tiles to reuse")
        h, w = img.shape[:2]
        self.check_size(h, w)
        total, done = self.work(h, w), [0]

        def tick(pixels: int) -> None:
            done[0] += pixels
            if on_tile is not None:
                on_tile(min(done[0], total), total)

        arr = _to_tensor(img)[0].permute(1, 2, 0).numpy()
        return self.pyramid.enlarge(arr, self.scale, tick=tick).astype(np.float32, copy=False)


def pyramid_file(name: str) -> Path | None:
    """The saved pyramid that ``name`` names (its file, or the folder ``--save-model`` wrote it
    in); None for anything else."""
    if name in list_models():
        return None
    p = Path(name)
    if p.is_dir() and not (p / "model.safetensors").is_file():
        p = p / "pyramid.safetensors"
    return p if p.is_file() and p.suffix.lower() == ".safetensors" and file_kind(p) == "pyramid" else None


def _load_pyramid(name: str, path: Path, scale: int | None, o: InferenceOptions) -> PyramidUpscaler:
    pyr = load_pyramid(path)
    th, tw = pyr.sizes[-1]
    desc = ModelDescriptor(
        name,
        "zero-shot",
        f"a {pyr.cfg.method} pyramid trained on one {tw}x{th} image: it enlarges that image again, without training",
        scales=(2, 3, 4, 8),
        any_scale=True,
        tiling=False,
        precisions=PRECISIONS,
        backends=("torch",),
        ensemble=True,
        export=False,
        params=sum(p.numel() for g in pyr.gens for p in g.parameters()),
    )
    desc.check(o)
    chosen = desc.check_scale(scale or 4)
    changes = {"precision": o.precision} if o.precision is not None else {}
    if o.ensemble:
        changes["ensemble"] = True
    device = resolve_device(o.device)
    pyr = dataclasses.replace(
        pyr, cfg=dataclasses.replace(pyr.cfg, **changes), gens=[g.to(device).eval() for g in pyr.gens]
    )
    meta = {"kind": "pyramid", "method": pyr.cfg.method, "trained_on": [tw, th], "seconds": pyr.seconds}
    return PyramidUpscaler(name, chosen, desc, pyr, meta)


def zero_shot_config(
    name: str, settings: dict[str, Any] | None = None, precision: str | None = None, ensemble: bool = False
):
    """The settings of zero-shot method ``name``: its preset (``preset``, "fast" by default; "paper"
    for the papers' settings), then ``settings`` (a nested ``{method: {...}}`` entry applies to that
    method only), then the --precision/--ensemble options."""
    settings = settings or {}
    common = {k: v for k, v in settings.items() if not isinstance(v, dict)}
    for k, v in settings.items():
        if isinstance(v, dict) and k not in PRESETS:
            raise SisrError(
                f"setting '{k}.{next(iter(v), '')}': '{k}' is not a zero-shot method ({', '.join(PRESETS)})"
            )
    own = settings.get(name, {})
    preset = str(own.get("preset", common.get("preset", DEFAULT_PRESET)))
    values = {**preset_values(name, preset), **common, **own}
    if precision is not None:
        values["precision"] = precision
    if ensemble:
        values["ensemble"] = True
    cfg = build_dataclass(ZeroShotConfig, values, f"{name} settings")
    check_config(cfg)
    return cfg


def descriptors() -> list[ModelDescriptor]:
    """The descriptor of every model of :func:`list_models`, in its order (each network loaded)."""
    return [describe(n) if n in ZEROSHOT else load_model(n, scale=None).descriptor for n in list_models()]


def models_for_scale(scale: int) -> list[str]:
    """The names of :func:`list_models` that upscale x``scale``: the shipped models whose headers
    say so (their modules built without memory), then bicubic and the zero-shot methods."""
    shipped = []
    for name, (file, _) in PRETRAINED.items():
        head = read_header(weights_dir() / file, "weights")
        with torch.device("meta"):
            if scale in build_model(head["arch"], head["config"]).scales:
                shipped.append(name)
    return [*shipped, *WEIGHTLESS, *ZEROSHOT]


def _check_scale_type(scale: Any) -> None:
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int) or scale < 1):
        raise SisrError(f"scale must be a positive integer, got {scale!r}")


_MIN_SIDE = 16  # LR pixels: a smaller image is run with its edges repeated out to this (Upscaler.run)


def model_card(name: str) -> str | None:
    """The model card (Markdown) shipped beside a trained model's weights; None for the others."""
    card = weights_dir() / (Path(PRETRAINED[name][0]).stem + ".md") if name in PRETRAINED else None
    return card.read_text() if card is not None and card.is_file() else None


def _load_module(name: str, scale: int | None) -> tuple[SRModel, dict[str, Any]]:
    if name in WEIGHTLESS:
        _check_scale_type(scale)  # before it sizes the module; the descriptor checks the rest
        return build_model(name, {"scale": scale or 4}), {}
    path = weights_path(name)
    ckpt = load_checkpoint(path)
    module = model_from_checkpoint(ckpt, name)
    if not isinstance(module, SRModel):
        raise SisrError(f"{name}: not a super-resolution model (a {type(module).__name__})")
    return module, ckpt.meta


def _load_onnx(path: str) -> tuple[SRModel, dict[str, Any], Any]:
    """An ``.onnx`` file that ``sisr export`` wrote: a module of its architecture (untrained: it
    sizes tiles and states parameters; the graph computes), its metadata, and its session."""
    if not Path(path).is_file():
        raise SisrError(f"{path}: no such file")
    session = onnx_session(path)
    head = exported_head(session, path)
    module = build_model(head["arch"], head["config"])
    if not isinstance(module, SRModel):
        raise SisrError(f"{path}: not a super-resolution model (a {head['arch']})")
    return module, {"exported_from": head["name"], "scale": int(head["scale"])}, session


def load_model(name_or_path: str | Path | None = None, scale: int | None = None, **options: Any):
    """Load a model by name (see :func:`list_models`) or from a ``.safetensors`` path.

    ``scale`` picks the output scale (default: the model's largest); bicubic and zero-shot
    methods take any integer scale. ``options`` are :class:`InferenceOptions` fields, each
    checked against the model's :class:`ModelDescriptor`: one that does not apply raises
    :class:`SisrError`. Returns an :class:`Upscaler`, a :class:`ZeroShotUpscaler`, or for a pyramid
    saved by ``--save-model`` (its file or folder), a :class:`PyramidUpscaler`.
    """
    if name_or_path is not None and not str(name_or_path).strip():  # not the default: an unset variable
        raise SisrError("the model's name is empty")
    name = str(name_or_path or DEFAULT_MODEL)
    try:
        o = InferenceOptions(**options)
    except TypeError:
        unknown = sorted(set(options) - {f.name for f in dataclasses.fields(InferenceOptions)})
        raise SisrError(f"unknown inference options: {', '.join(unknown)}") from None
    if name in ZEROSHOT:
        desc = describe(name)
        desc.check(o)
        chosen = desc.check_scale(scale or 4)
        settings = o.settings
        if o.device is not None:
            dev = str(resolve_device(o.device))
            set_dev = (o.settings or {}).get(name, {}).get("device", (o.settings or {}).get("device"))
            if set_dev is not None and str(device_here(str(set_dev))) != dev:
                raise SisrError(f"--device {o.device} and --set device={set_dev} disagree: give one")
            settings = {**(o.settings or {}), "device": dev}
        cfg = zero_shot_config(name, settings, o.precision, o.ensemble)
        if o.save_model:  # before the training it would keep, not after
            try:
                check_writable(Path(o.save_model) / "image" / "pyramid.safetensors")
            except SisrError as e:
                raise SisrError(f"--save-model {o.save_model}: {str(e).partition(': ')[2]}") from None
        return ZeroShotUpscaler(name, chosen, desc, cfg, save_model=o.save_model, progress=o.progress)
    if (pyramid := pyramid_file(name)) is not None:
        return _load_pyramid(name, pyramid, scale, o)
    session = None
    if name.lower().endswith(".onnx"):
        module, meta, session = _load_onnx(name)
        desc = dataclasses.replace(
            describe(name, module, meta),
            description=f"the ONNX graph of {meta['exported_from']} at x{meta['scale']}",
            scales=(meta["scale"],),
            backends=("onnx",),
            precisions=("auto", "fp32"),
            export=False,
            devices=("cpu",),
        )
    else:
        module, meta = _load_module(name, scale)
        desc = describe(name, module, meta)
    desc.check(o)
    backend = o.backend or desc.backends[0]
    try:
        chosen = desc.check_scale(scale)
    except SisrError as e:
        others = [m for m in models_for_scale(scale) if m != name]
        raise ScaleError(f"{e}; models that do x{scale}: {', '.join(others)}", max(desc.scales)) from None
    if o.denoise is not None and o.denoise != 1.0:
        blend_weights(module, denoise_partner(meta), o.denoise)
    device = torch.device("cpu") if backend == "onnx" else resolve_device(o.device)
    module.eval().to(device, memory_format=torch.channels_last)
    return Upscaler(
        name=name,
        module=module,
        scale=chosen,
        descriptor=desc,
        meta=meta,
        tile=o.tile,
        overlap=DEFAULT_OVERLAP if o.overlap is None else o.overlap,
        ensemble=o.ensemble,
        # auto is bf16 only for a model that runs in bf16 (not bicubic, whose arithmetic it would round)
        precision="fp32"
        if backend == "onnx" or "bf16" not in desc.precisions
        else resolve_precision(o.precision or "fp32", device),
        backend=backend,
        device=device,
        _onnx=session,
    )
