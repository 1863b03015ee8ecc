"""Losses: pure functions and one small module (VGG features).

Tensors are ``N x C x H x W`` float; images in [0, 1]; discriminator outputs
are logits (a map of patch scores for PatchGAN).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from sisr.vgg import VGG19Features, load_vgg19_weights

__all__ = [
    "VGGLoss",
    "discriminator_loss",
    "feature_matching_loss",
    "generator_adversarial_loss",
    "gradient_penalty",
    "pixel_loss",
    "wgan_critic_loss",
    "wgan_generator_loss",
]


def pixel_loss(sr: torch.Tensor, hr: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Mean squared (``"mse"``) or absolute (``"l1"``) error between images in [0, 1]."""
    if kind == "mse":
        return F.mse_loss(sr, hr)
    if kind == "l1":
        return F.l1_loss(sr, hr)
    raise ValueError(f"pixel loss must be 'mse' or 'l1', got '{kind}'")


def generator_adversarial_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(-log D(G(x)))`` over all patch scores (the non-saturating GAN loss)."""
    return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """``mean(-log D(y)) + mean(-log(1 - D(G(x))))`` over all patch scores."""
    real = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
    fake = F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
    return real + fake


def feature_matching_loss(fake_feats: list[torch.Tensor], real_feats: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the MSE between a discriminator's features of the fake and the real image."""
    return sum(F.mse_loss(a.float(), b.float()) for a, b in zip(fake_feats, real_feats)) / len(fake_feats)


def wgan_critic_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss ``mean D(fake) - mean D(real)`` (SinGAN's, with :func:`gradient_penalty`)."""
    return fake_scores.float().mean() - real_scores.float().mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss ``-mean D(fake)``."""
    return -fake_scores.float().mean()


def gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al., 2017): ``(|grad D(x)| - 1)^2`` at random points between real and fake."""
    a = torch.rand(real.shape[0], 1, 1, 1, device=real.device)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    (g,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


class VGGLoss(nn.Module):
    """MSE between VGG19 feature maps phi_ij of SR and HR (SRGAN's VGG54 by default).

    Needs the ImageNet weights (see :func:`sisr.vgg.load_vgg19_weights`);
    without them it refuses to start rather than use random features.
    """

    def __init__(self, layer: str = "relu5_4", weights: str | None = None) -> None:
        super().__init__()

        self.vgg = VGG19Features(layer)
        load_vgg19_weights(self.vgg, weights)
        self.vgg.eval().requires_grad_(False)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            target = self.vgg(hr)
        return F.mse_loss(self.vgg(sr).float(), target.float())
