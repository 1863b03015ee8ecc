"""ONNX export (dynamic height and width) and an onnxruntime session for ``--backend onnx``."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from sisr.atomic import write_atomic
from sisr.errors import SisrError

__all__ = ["export_onnx", "onnx_bytes", "onnx_session"]


class _AtScale(nn.Module):
    def __init__(self, module: nn.Module, scale: int) -> None:
        super().__init__()
        self.module, self.scale = module, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.forward_scale(x, self.scale)


def onnx_bytes(up) -> bytes:
    """The model of an :class:`~sisr.infer.Upscaler` at its scale as an ONNX graph (opset 17)."""

    if not up.descriptor.export:
        raise SisrError(f"{up.name} cannot be exported to ONNX ({up.descriptor.kind} model)")
    wrapper = _AtScale(up.module, up.scale).eval().float().to(memory_format=torch.contiguous_format)
    device = next(up.module.parameters()).device  # a model loaded onto a GPU exports from there
    buf = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper,
            (torch.rand(1, 3, 32, 32, device=device),),
            buf,
            dynamo=False,
            input_names=["lr"],
            output_names=["sr"],
            dynamic_axes={"lr": {0: "n", 2: "h", 3: "w"}, "sr": {0: "n", 2: "sh", 3: "sw"}},
            opset_version=17,
        )
    return buf.getvalue()


def export_onnx(up, path: str | os.PathLike, overwrite: bool = False) -> Path:
    p = Path(path)
    if p.is_dir():
        raise SisrError(f"{p}: is a folder; name the .onnx file to write")
    if p.suffix.lower() != ".onnx":
        # A model under another name is a file no ONNX runtime or viewer will recognise as one.
        raise SisrError(f"{p}: an ONNX model is written; name it {p.with_suffix('.onnx').name}")
    if p.exists() and not overwrite:
        raise SisrError(f"{p}: exists (use --overwrite to replace it)")
    return write_atomic(p, onnx_bytes(up))


def onnx_session(up):
    try:
        import onnxruntime as ort  # an optional dependency (sisr[onnx])
    except ImportError:
        raise SisrError("the onnx backend needs onnxruntime: pip install 'sisr[onnx]'") from None
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_bytes(up), opts, providers=["CPUExecutionProvider"])
