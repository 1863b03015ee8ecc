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

__all__ = ["ONNX_KEY", "export_onnx", "exported_head", "onnx_bytes", "onnx_session"]


class _AtScale(nn.Module):
    def __init__(self, module: nn.Module, scale: int) -> None:
        super().__init__()
        self.module, self.scale = module, scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module.forward_scale(x, self.scale)


def onnx_bytes(up) -> bytes:
    """The model of an :class:`~sisr.infer.Upscaler` at its scale as an ONNX graph (opset 17)."""

    if not up.descriptor.export:
        why = "it is an ONNX graph already" if up.descriptor.backends == ("onnx",) else f"a {up.descriptor.kind} model"
        raise SisrError(f"{up.name} cannot be exported to ONNX ({why})")
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
    return _with_metadata(buf.getvalue(), up)


ONNX_KEY = "sisr"  # the graph's metadata entry that lets sisr run an exported file as a model


def _with_metadata(graph: bytes, up) -> bytes:
    """The graph with what sisr needs to run it again (``--model m.onnx``): the architecture, its
    config, the scale and the name it was exported from."""
    import dataclasses
    import json

    try:
        import onnx  # an optional dependency (sisr[onnx]), as onnxruntime
    except ImportError:
        raise SisrError("ONNX export needs the onnx package: pip install 'sisr[onnx]'") from None

    from sisr.models import arch_of

    head = {
        "arch": arch_of(up.module),
        "config": dataclasses.asdict(up.module.config),
        "scale": up.scale,
        "name": str(up.name),
    }
    model = onnx.load_from_string(graph)
    entry = model.metadata_props.add()
    entry.key, entry.value = ONNX_KEY, json.dumps(head)
    return model.SerializeToString()


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


def onnx_session(source):
    """An onnxruntime session of an Upscaler's model, or of an ``.onnx`` file (a path)."""
    try:
        import onnxruntime as ort  # an optional dependency (sisr[onnx])
    except ImportError:
        raise SisrError("the onnx backend needs onnxruntime: pip install 'sisr[onnx]'") from None
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    graph = str(source) if isinstance(source, (str, os.PathLike)) else onnx_bytes(source)
    try:
        return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime's own exception types: a file that is no ONNX graph
        raise SisrError(f"{source}: not an ONNX graph onnxruntime can run ({str(e).splitlines()[0][:200]})") from None


def exported_head(session, path) -> dict:
    """What :func:`_with_metadata` stored in an exported graph."""
    import json

    raw = session.get_modelmeta().custom_metadata_map.get(ONNX_KEY)
    try:
        head = json.loads(raw) if raw else None
    except ValueError:
        head = None
    if not isinstance(head, dict) or not {"arch", "config", "scale", "name"} <= head.keys():
        raise SisrError(f"{path}: an ONNX graph without sisr's metadata (one that sisr export wrote runs as a model)")
    return head
