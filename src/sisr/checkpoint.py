"""The one on-disk format: safetensors with a JSON header naming the format, its version and kind.

Three kinds of file share it: ``weights`` (a model: architecture, config and
provenance), ``train-state`` (weights, EMA, optimizer state and step of a
training run) and ``pyramid`` (a trained zero-shot pyramid). A file names
everything needed to rebuild what it holds, so loading needs no guessing and
never unpickles. Files of an older version load through an explicit migration;
a newer version, or a file of another kind, fails with one line.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from sisr import __version__
from sisr.atomic import atomic_target
from sisr.errors import SisrError

__all__ = [
    "Checkpoint",
    "find_weights",
    "file_kind",
    "load_checkpoint",
    "load_tensors",
    "read_header",
    "save_checkpoint",
    "save_tensors",
]

FORMAT = "sisr"
VERSION = 2
KINDS = ("weights", "train-state", "pyramid")
# Zero-shot settings that were removed; version-1 pyramids saved with them load without them.
_REMOVED_ZERO_SHOT_SETTINGS = ("ema", "gradual")


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], kind: str, header: dict) -> Path:
    """Write ``tensors`` and ``header`` atomically as a version-2 sisr file of ``kind``."""

    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    meta = {"format": FORMAT, "version": VERSION, "kind": kind, "sisr_version": __version__, **header}
    p = Path(path)
    with atomic_target(p) as tmp:
        save_file(
            {k: v.detach().contiguous().cpu() for k, v in tensors.items()},
            str(tmp),
            metadata={"sisr": json.dumps(meta)},
        )
    return p


def _migrate(raw: dict[str, str], p: Path) -> dict[str, Any]:
    """The header of a version-1 file (three separate layouts) in version-2 form."""
    if "sisr" in raw:
        header = json.loads(raw["sisr"])
        if header.get("format") == "sisr-checkpoint-1":
            return {**header, "format": FORMAT, "version": 1, "kind": "weights"}
        return header
    if "sisr_train" in raw:
        return {"format": FORMAT, "version": 1, "kind": "train-state", **json.loads(raw["sisr_train"])}
    if raw.get("format") == "sisr-pyramid-1":
        config = json.loads(raw["config"])
        for key in _REMOVED_ZERO_SHOT_SETTINGS:
            config.pop(key, None)
        return {
            "format": FORMAT,
            "version": 1,
            "kind": "pyramid",
            "config": config,
            "ratio": float(raw["ratio"]),
            "sizes": json.loads(raw["sizes"]),
            "amps": json.loads(raw["amps"]),
            "seconds": float(raw["seconds"]),
        }
    raise SisrError(f"{p}: safetensors file without sisr metadata (not written by sisr)")


# Where a file of another kind, given as weights, is used instead.
_KIND_USE = {
    "pyramid": " (a zero-shot pyramid trained on one image: sisr upscale IMAGE --model PATH enlarges that image again)",
    "train-state": " (a training run's state: --resume continues it; its model.safetensors is the weights)",
}


def _open(
    path: str | os.PathLike, kind: str | None, with_tensors: bool
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        raise SisrError(f"{p}: no such file")
    try:
        with safe_open(str(p), framework="pt") as f:
            raw = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()} if with_tensors else {}  # noqa: SIM118
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        if p.suffix.lower() == ".onnx":  # what sisr export writes, for other runtimes
            raise SisrError(f"{p}: an ONNX graph (what sisr export writes), not sisr weights") from None
        hint = " (pickled .pth/.pt files are not loaded: convert them to safetensors)"
        raise SisrError(f"{p}: not a safetensors file{hint}: {str(e).splitlines()[0]}") from None
    try:
        header = _migrate(raw, p)
        version = header.get("version")
    except (ValueError, KeyError, TypeError, AttributeError):  # AttributeError: JSON, but not an object
        raise SisrError(f"{p}: corrupt sisr metadata") from None
    if header.get("format") != FORMAT or not isinstance(version, int):
        raise SisrError(f"{p}: corrupt sisr metadata (no format version)")
    if version > VERSION:
        raise SisrError(f"{p}: format version {version} is newer than this sisr reads ({VERSION}): upgrade sisr")
    if kind is not None and header.get("kind") != kind:
        hint = _KIND_USE.get(header.get("kind"), "") if kind == "weights" else ""
        raise SisrError(f"{p}: a sisr {header.get('kind')} file, not {kind}{hint}")
    return tensors, header


def load_tensors(path: str | os.PathLike, kind: str) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(tensors, header)`` of a sisr file of ``kind``; older versions are migrated. Never unpickles."""
    return _open(path, kind, with_tensors=True)


def read_header(path: str | os.PathLike, kind: str) -> dict[str, Any]:
    """The (migrated) header of a sisr file of ``kind``, without reading its tensors."""
    return _open(path, kind, with_tensors=False)[1]


def file_kind(path: str | os.PathLike) -> str | None:
    """The kind of a sisr file (one of ``KINDS``); None for anything else, which loading it explains."""
    try:
        return _open(path, None, with_tensors=False)[1].get("kind")
    except SisrError:
        return None


@dataclass
class Checkpoint:
    arch: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)


VAL_SEED = 0  # the degradation seed of a blind model's validation inputs (its card's curve)


def blind_recipe(recipe: dict[str, Any] | None) -> bool:
    """Whether a training recipe made its LR with the degradation model (a blind model for real
    photos) rather than MATLAB bicubic."""
    return (recipe or {}).get("degradation") == "real"


def find_weights(ref: str) -> Path | None:
    """A weights file named by a recipe's ``init``: as given (a training run's folder gives its
    ``model.safetensors``), relative to the repository, or a shipped file of that name or of that
    model name (an installed package has no repository around it); None where there is none."""
    if not ref:
        return None
    here = Path(__file__).resolve().parent
    shipped = here / "weights"
    for p in (Path(ref), here.parents[1] / ref, shipped / Path(ref).name, shipped / f"{Path(ref).name}.safetensors"):
        if p.is_dir():
            p = p / "model.safetensors"
        if p.is_file():
            return p
    return None


def save_checkpoint(path: str | os.PathLike, model: nn.Module, arch: str, config: Any, **meta: Any) -> Path:
    """Write ``model``'s weights, architecture, config and ``meta`` (provenance) atomically."""
    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return save_tensors(path, model.state_dict(), "weights", {"arch": arch, "config": cfg, **meta})


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a sisr weights file (any version)."""
    p = Path(path)
    if not p.is_file():
        raise SisrError(f"{p}: no such weights file")
    tensors, header = load_tensors(p, "weights")
    arch, config = header.pop("arch", None), header.pop("config", None)
    if not isinstance(arch, str) or not isinstance(config, dict):
        raise SisrError(f"{p}: corrupt sisr metadata (no arch or config)")
    return Checkpoint(arch=arch, config=config, state_dict=tensors, meta=header)
