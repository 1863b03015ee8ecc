"""sisr: single-image super-resolution with GANs.

``import sisr`` stays light: the public functions load their modules (and
torch) on first use.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "SisrError",
    "__version__",
    "list_models",
    "load_model",
    "psnr",
    "ssim",
    "upscale",
    "upscale_file",
    "upscale_folder",
]

_LAZY = {
    "SisrError": "sisr.errors",  # what every bad input raises, with a one-line message
    "upscale": "sisr.api",
    "upscale_file": "sisr.api",
    "upscale_folder": "sisr.api",
    "load_model": "sisr.infer",
    "list_models": "sisr.infer",
    "psnr": "sisr.metrics",
    "ssim": "sisr.metrics",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sisr' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
