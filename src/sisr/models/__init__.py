"""Model registry: architecture name -> (config dataclass, module class).

A literal dict, so that nothing is scanned or imported as a side effect.
``PRETRAINED`` names the shipped trained models (files in ``sisr/weights``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from sisr.checkpoint import Checkpoint, read_header
from sisr.config import build_dataclass
from sisr.errors import SisrError, closest, warn
from sisr.models.bicubic import Bicubic, BicubicConfig
from sisr.models.drcn import DRCN, DRCNConfig
from sisr.models.patchgan import PatchGAN, PatchGANConfig
from sisr.models.rrgan import RRGAN, RRGANConfig
from sisr.models.srcnn import SRCNN, SRCNNConfig
from sisr.models.srgan_disc import SRGANDiscriminator, SRGANDiscriminatorConfig
from sisr.models.srresnet import SRResNet, SRResNetConfig
from sisr.models.vdsr import VDSR, VDSRConfig

REGISTRY: dict[str, tuple[type, type]] = {
    "bicubic": (BicubicConfig, Bicubic),
    "rrgan": (RRGANConfig, RRGAN),
    "patchgan": (PatchGANConfig, PatchGAN),
    "srcnn": (SRCNNConfig, SRCNN),
    "vdsr": (VDSRConfig, VDSR),
    "drcn": (DRCNConfig, DRCN),
    "srresnet": (SRResNetConfig, SRResNet),
    "srgan_disc": (SRGANDiscriminatorConfig, SRGANDiscriminator),
}

# Registered modules that are not image-to-image SR models.
DISCRIMINATORS = ("patchgan", "srgan_disc")

# name -> (weights file in sisr/weights, one-line description)
PRETRAINED: dict[str, tuple[str, str]] = {
    "rrgan-x4": ("rrgan-x4.safetensors", "RR-GAN x4 and x2, PSNR-oriented (phase 1), trained on the 291 images"),
    "rrgan-gan-x4": (
        "rrgan-gan-x4.safetensors",
        "RR-GAN x4 and x2 after the GAN phase (sharper, lower PSNR), trained on the 291 images",
    ),
    "rrgan-real-x4": (
        "rrgan-real-x4.safetensors",
        "RR-GAN x4 and x2 for real photos (JPEG, noise, blur), PSNR phase, on degraded and 20% clean LR; --denoise",
    ),
    "rrgan-real-gan-x4": (
        "rrgan-real-gan-x4.safetensors",
        "RR-GAN x4 and x2 for real photos, after the GAN phase on degraded LR (sharper, lower PSNR); --denoise",
    ),
    "rrgan-x234": (
        "rrgan-x234.safetensors",
        "RR-GAN x2, x3 and x4 from one model (the paper's three cascades), PSNR phase, grown from rrgan-x4",
    ),
    "srcnn": ("srcnn.safetensors", "SRCNN 9-5-5 baseline (Dong et al.), x4, trained on the 291 images"),
    "srcnn-y": (
        "srcnn-y.safetensors",
        "SRCNN 9-5-5 as the paper's Y-only network (chroma bicubic), x4, fine-tuned from srcnn on luma patches",
    ),
    "vdsr": ("vdsr.safetensors", "VDSR 20-layer baseline (Kim et al.), x4, trained on the 291 images"),
    "vdsr-y": (
        "vdsr-y.safetensors",
        "VDSR 20-layer as the paper's Y-only network (chroma bicubic), x4, on the 291 images' luma patches",
    ),
    "drcn": ("drcn.safetensors", "DRCN baseline (Kim et al.), 64 filters x 8 recursions, x4, on the 291 images"),
    "drcn-y": (
        "drcn-y.safetensors",
        "DRCN 64x8 as the paper's Y-only network (chroma bicubic), x4, fine-tuned from drcn on luma patches",
    ),
    "srresnet": ("srresnet.safetensors", "SRResNet baseline (Ledig et al.), MSE-trained, x4, on the 291 images"),
    "srgan": ("srgan.safetensors", "SRGAN baseline (Ledig et al.): SRResNet after its GAN phase, x4, 291 images"),
}

# Architectures usable by name with no weights.
WEIGHTLESS: dict[str, str] = {
    "bicubic": "MATLAB-compatible bicubic interpolation (no learning)",
}

# Zero-shot methods: trained on each input image (sisr.train.zeroshot), no shipped weights.
ZEROSHOT: dict[str, str] = {
    "singan": "SinGAN SR mode, zero-shot: a pyramid trained on the input itself (slow)",
    "drsingan": "DR-SinGAN, zero-shot: SinGAN with dense residual blocks, trained on the input (slow)",
}

DEFAULT_MODEL = "rrgan-x4"


def build_model(arch: str, config: dict[str, Any] | None = None) -> nn.Module:
    """Instantiate a registered architecture from a config dict."""
    if arch not in REGISTRY:
        raise SisrError(f"unknown architecture '{arch}' (known: {', '.join(REGISTRY)})")
    config_cls, module_cls = REGISTRY[arch]
    cfg = build_dataclass(config_cls, config or {}, f"{arch} config")
    try:
        return module_cls(cfg)
    except ValueError as e:  # an architecture's own check of its config (RR-GAN's scales)
        raise SisrError(f"{arch} config: {e}") from None


def arch_of(module: nn.Module) -> str:
    """The registry name of a module's architecture."""
    return next(name for name, (_, cls) in REGISTRY.items() if type(module) is cls)


def model_from_checkpoint(ckpt: Checkpoint, source: str = "") -> nn.Module:
    """Rebuild the module of a weights file and load its weights strictly (no silent partial loads)."""
    try:
        model = build_model(ckpt.arch, ckpt.config)
    except SisrError as e:  # a config no architecture takes: say which file holds it
        raise SisrError(f"{source}: {e}" if source else str(e)) from None
    try:
        model.load_state_dict(ckpt.state_dict, strict=True)
    except RuntimeError as e:
        said = load_mismatch(e)
        raise SisrError(f"{source or ckpt.arch}: weights do not match architecture '{ckpt.arch}' ({said})") from None
    return model


def load_mismatch(e: RuntimeError) -> str:
    """The first mismatch a strict ``load_state_dict`` error lists (its first line is a heading)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return lines[1] if len(lines) > 1 else lines[0]


def list_models() -> list[str]:
    """Names accepted by :func:`load_model`: weightless baselines, shipped trained models, zero-shot methods."""
    return [*WEIGHTLESS, *PRETRAINED, *ZEROSHOT]


def unknown_model(name: str) -> str:
    """ "unknown model 'X' (did you mean 'Y'? known: ..." for a name that is no model (the caller
    closes the parenthesis)."""
    close = closest(name, list_models())
    hint = f"did you mean '{close}'? " if close else ""
    return f"unknown model '{name[:60]}' ({hint}known: {', '.join(list_models())}"


def weights_dir() -> Path:
    """The folder of the shipped weights and their model cards."""
    return Path(__file__).resolve().parent.parent / "weights"


def weights_path(name: str) -> Path | None:
    """The weights file a model name or path loads; None for bicubic and the zero-shot methods."""
    if name in WEIGHTLESS or name in ZEROSHOT:
        return None
    if name in PRETRAINED:
        return weights_dir() / PRETRAINED[name][0]
    if Path(name).is_dir():  # a training run's folder: the weights it writes (its EMA's)
        state, weights = Path(name) / "state.safetensors", Path(name) / "model.safetensors"
        at = _state_step(state)
        if not weights.is_file():
            if state.is_file():
                # A GPU chunk brings back a run's state without its weights.
                at = f" at step {at:,}" if at is not None else ""
                raise SisrError(
                    f"{name}: a training run{at} without its weights (model.safetensors); resuming it "
                    "(sisr train RECIPE --set out=... --resume) writes them with its next state (Ctrl-C saves one)"
                )
            kept = sorted(p.parent.name for p in Path(name).glob("*/pyramid.safetensors"))
            if kept:  # what --save-model writes: a folder per image
                more = f" and {len(kept) - 1} more" if len(kept) > 1 else ""
                one = Path(name) / kept[0]
                raise SisrError(f"{name}: a folder of saved zero-shot pyramids, one per image; name one ({one}{more})")
            raise SisrError(
                f"{name}: a folder without model.safetensors (a training run's weights); name a weights file"
            )
        try:
            steps = read_header(weights, "weights").get("steps")
        except SisrError:
            steps = None  # a damaged file: loading it says so
        if at is not None and isinstance(steps, int) and steps < at:
            # A GPU chunk brought back a newer state alone: these weights lag behind it.
            warn(
                f"{name}: its weights are from step {steps:,}, its state is at step {at:,}; resuming it "
                "(sisr train RECIPE --set out=... --resume) writes current ones"
            )
        return weights
    if name.endswith(".safetensors") or Path(name).exists():
        return Path(name)
    raise SisrError(unknown_model(name) + "; or a .safetensors path or a training run's folder)")


def _state_step(state: Path) -> int | None:
    """The step of a run's training state; None without one (or for one that cannot be read)."""
    if not state.is_file():
        return None
    try:
        step = read_header(state, "train-state")["step"]
    except (SisrError, KeyError, TypeError):
        return None
    return step if isinstance(step, int) else None


__all__ = [
    "DEFAULT_MODEL",
    "DISCRIMINATORS",
    "PRETRAINED",
    "REGISTRY",
    "WEIGHTLESS",
    "ZEROSHOT",
    "arch_of",
    "build_model",
    "list_models",
    "load_mismatch",
    "model_from_checkpoint",
    "unknown_model",
    "weights_dir",
    "weights_path",
]
