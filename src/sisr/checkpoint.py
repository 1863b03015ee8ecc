"""Checkpoints: safetensors weights with the architecture, config and provenance as JSON metadata.

A file names everything needed to rebuild its model, so loading needs no
guessing and never unpickles.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sisr.errors import SisrError

__all__ = ["Checkpoint", "build_model", "config_from_dict", "load_checkpoint", "save_checkpoint"]

FORMAT = "sisr-checkpoint-1"


@dataclass
class Checkpoint:
    arch: str
    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)


def config_from_dict(cls: type, values: dict[str, Any]) -> Any:
    """Build a config dataclass, rejecting unknown keys and turning lists into tuples."""
    names = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise SisrError(f"unknown {cls.__name__} keys: {', '.join(unknown)} (known: {', '.join(names)})")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for k, v in values.items():
        origin = typing.get_origin(hints.get(k))
        kwargs[k] = tuple(v) if isinstance(v, list) and origin is tuple else v
    return cls(**kwargs)


def build_model(arch: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate a registered architecture from a config dict."""
    from sisr.models import REGISTRY

    if arch not in REGISTRY:
        raise SisrError(f"unknown architecture '{arch}' (known: {', '.join(REGISTRY)})")
    config_cls, module_cls = REGISTRY[arch]
    return module_cls(config_from_dict(config_cls, config or {}))


def save_checkpoint(path: str | os.PathLike, model: nn.Module, arch: str, config: Any, **meta: Any) -> Path:
    """Write ``model``'s weights and metadata atomically to a ``.safetensors`` file."""
    from safetensors.torch import save_file

    from sisr import __version__

    cfg = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    header = {"format": FORMAT, "arch": arch, "config": cfg, "sisr_version": __version__, **meta}
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    from sisr.atomic import atomic_target

    p = Path(path)
    with atomic_target(p) as tmp:
        save_file(tensors, str(tmp), metadata={"sisr": json.dumps(header)})
    return p


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read a sisr ``.safetensors`` checkpoint. Never unpickles."""
    from safetensors import SafetensorError, safe_open

    p = Path(path)
    if not p.is_file():
        raise SisrError(f"{p}: no such weights file")
    try:
        with safe_open(str(p), framework="pt") as f:
            raw = (f.metadata() or {}).get("sisr")
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a dict)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        hint = " (pickled .pth/.pt files are not loaded: convert them to safetensors)"
        raise SisrError(f"{p}: not a safetensors file{hint}: {str(e).splitlines()[0]}") from None
    if raw is None:
        raise SisrError(f"{p}: safetensors file without sisr metadata (arch and config unknown)")
    try:
        header = json.loads(raw)
        arch, config = header.pop("arch"), header.pop("config")
    except (ValueError, KeyError):
        raise SisrError(f"{p}: corrupt sisr metadata") from None
    return Checkpoint(arch=arch, config=config, state_dict=tensors, meta=header)


def model_from_checkpoint(ckpt: Checkpoint, source: str = "") -> nn.Module:
    """Rebuild the module and load its weights strictly (no silent partial loads)."""
    model = build_model(ckpt.arch, ckpt.config)
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise SisrError(f"{source or ckpt.arch}: weights do not match architecture '{ckpt.arch}' ({first})") from None
    return model
