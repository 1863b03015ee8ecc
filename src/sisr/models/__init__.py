"""Model registry: architecture name -> (config dataclass, module class).

A literal dict, so that nothing is scanned or imported as a side effect.
``PRETRAINED`` names the shipped trained models (files in ``sisr/weights``).
"""

from __future__ import annotations

from sisr.models.bicubic import Bicubic, BicubicConfig
from sisr.models.drcn import DRCN, DRCNConfig
from sisr.models.patchgan import PatchGAN, PatchGANConfig
from sisr.models.rrgan import RRGAN, RRGANConfig
from sisr.models.srcnn import SRCNN, SRCNNConfig
from sisr.models.srresnet import SRGANDiscriminator, SRGANDiscriminatorConfig, SRResNet, SRResNetConfig
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
    "srcnn": ("srcnn.safetensors", "SRCNN 9-5-5 baseline (Dong et al.), x4, trained on the 291 images"),
    "vdsr": ("vdsr.safetensors", "VDSR 20-layer baseline (Kim et al.), x4, trained on the 291 images"),
    "drcn": ("drcn.safetensors", "DRCN baseline (Kim et al.), 64 filters x 8 recursions, x4, on the 291 images"),
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

__all__ = ["DEFAULT_MODEL", "DISCRIMINATORS", "PRETRAINED", "REGISTRY", "WEIGHTLESS", "ZEROSHOT"]
