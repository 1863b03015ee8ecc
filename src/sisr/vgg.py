"""VGG19 feature extractor with torchvision-compatible state-dict keys.

torchvision does not import on these machines, so the network is defined here;
its parameter names (``features.0.weight`` ...) match torchvision's, so the
standard ImageNet file ``vgg19-dcbb9e9d.pth`` loads as is (without pickle:
``torch.load(weights_only=True)``).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from sisr.errors import SisrError

VGG19_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
VGG19_FILE = "vgg19-dcbb9e9d.pth"
_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _layer_names() -> list[str]:
    names, block, conv = [], 1, 1
    for v in _CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 1
        else:
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
            conv += 1
    return names


LAYERS = _layer_names()


class VGG19Features(nn.Module):
    """``features`` of torchvision's VGG19 up to ``layer`` (e.g. ``relu5_4``, ``relu2_2``).

    Input: ``N x 3 x H x W`` RGB in [0, 1]; ImageNet normalisation is applied inside.
    """

    def __init__(self, layer: str = "relu5_4") -> None:
        super().__init__()
        if layer not in LAYERS:
            raise SisrError(f"unknown VGG19 layer '{layer}' (choose from {', '.join(LAYERS)})")
        end = LAYERS.index(layer) + 1
        mods: list[nn.Module] = []
        cin = 3
        for v in _CFG:
            if v == "M":
                mods.append(nn.MaxPool2d(2, 2))
            else:
                mods += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
                cin = v
        self.features = nn.Sequential(*mods[:end])
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features((x - self.mean) / self.std)


def find_vgg19_weights(path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """Locate the ImageNet VGG19 file: ``path``, ``$SISR_VGG19``, the torch hub cache, or a download."""
    for cand in (path, os.environ.get("SISR_VGG19")):
        if cand:
            p = Path(cand)
            if not p.is_file():
                raise SisrError(f"{p}: VGG19 weights file not found")
            return p
    hub = Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE
    if hub.is_file():
        return hub
    if download:
        try:
            hub.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(VGG19_URL, str(hub), hash_prefix="dcbb9e9d", progress=False)
            return hub
        except Exception as e:  # no network, refused, or hash mismatch
            hub.unlink(missing_ok=True)
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
    else:
        reason = "download disabled"
    raise SisrError(
        f"VGG19 ImageNet weights ({VGG19_FILE}) not found and could not be downloaded ({reason}); "
        'give vgg_weights=PATH or set SISR_VGG19, or choose perceptual = "disc_features" explicitly'
    )


def load_vgg19_weights(model: VGG19Features, path: str | os.PathLike | None = None) -> None:
    """Load torchvision's VGG19 weights into ``model`` (only the layers it has; all of them required)."""
    p = find_vgg19_weights(path)
    try:
        sd = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:
        raise SisrError(f"{p}: cannot read VGG19 weights ({str(e).splitlines()[0]})") from None
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    if missing:
        raise SisrError(f"{p}: not a torchvision VGG19 file (missing {missing[0]})")
    bad = [k for k in own if sd[k].shape != own[k].shape]
    if bad:
        raise SisrError(f"{p}: shape mismatch for {bad[0]}: not VGG19")
    model.load_state_dict({k: sd[k] for k in own}, strict=True)
