"""Zero-shot SR: a SinGAN pyramid trained on the one image to be enlarged (SinGAN and DR-SinGAN).

The pyramid holds the input image at scales ``ratio**-k`` down to ``min_size``
pixels. Scale by scale, coarse to fine, a generator learns to add detail to the
upsampled coarser image, against a patch discriminator (WGAN-GP), with a
content term that reconstructs the image from the coarser one. To enlarge by
``s``, the finest generator is applied ``k`` times, each time after a bicubic
upscale by the pyramid ratio ``s**(1/k)``, where ``k = round(steps_per_octave
log2 s)``: SinGAN's SR mode takes 3 steps per octave (about 1.26 per step);
fewer, larger steps (1.5 per octave: x2 in 2 steps, x4 in 3) measured better on
Set5 with son/father pairs.

Losses per scale: SinGAN: ``adv + 10 MSE(rec, I)``; DR-SinGAN:
``c adv + b MSE(rec, I) + a L1(VGG(rec), VGG(I))`` (``a > 0`` needs the VGG19
ImageNet weights). Ours on top, off in the paper presets: ``pairs`` adds
son/father pairs taken from the image (random crops of the image at random
sizes and in 8 orientations, the son being the father shrunk by the ratio and
enlarged again), which is what the SR steps ask of the finest generator; ``pair_loss`` measures
that term with MSE or L1 (the paper's own terms keep their form).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from sisr.errors import SisrError
from sisr.resize import imresize_torch

__all__ = ["PRESETS", "Pyramid", "ZeroShotConfig", "load_pyramid", "sr_steps", "train_pyramid", "upscale_zero_shot"]


@dataclass(frozen=True)
class ZeroShotConfig:
    method: str = "drsingan"  # "singan" or "drsingan"
    iters: int = 2000  # per scale (SinGAN's reference); CPU budgets use fewer
    finest_iters: int = 0  # iterations at the finest scale; 0: ``iters``
    min_size: int = 25  # coarsest pyramid side
    steps_per_octave: float = 3.0  # SR steps (and pyramid scales) per doubling: SinGAN's 3 (ratio ~1.26)
    channels: int = 32  # doubled every 4 scales, capped at max_channels
    max_channels: int = 128
    base_layers: int = 2  # DR-SinGAN: base_layers + n convs in the dense block at scale n
    growth: int = 16
    lr: float = 5e-4
    betas: tuple[float, ...] = (0.5, 0.999)
    decay_at: float = 0.8  # learning rate x0.1 after this fraction of a scale's iterations
    d_steps: int = 3
    g_steps: int = 3
    gp_weight: float = 0.1
    adv_weight: float = 1.0  # c
    mse_weight: float = 10.0  # b (SinGAN's alpha)
    vgg_weight: float = 0.0  # a
    vgg_weights: str = ""
    noise_amp: float = 0.1
    crop: int = 0  # train on random crops of this side at scales larger than it (0: whole image)
    pairs: bool = False
    pair_batch: int = 8
    pair_weight: float = 10.0
    pair_loss: str = "mse"  # "mse" or "l1" for the son/father term
    sr_noise: float = 0.0  # noise at SR time, in units of the finest scale's amplitude
    rec_input: str = "chain"  # reconstruction input: coarser reconstruction ("chain", SinGAN) or real image ("real")
    pool: int = 0  # >0: draw this many random coarser images per scale once and reuse them (0: fresh each step)
    precision: str = "fp32"  # "bf16": bfloat16 autocast for training and SR (about 1.3-2x faster where supported)
    ensemble: bool = False  # SR: average the 8 flips/rotations at every SR step
    back_projection: int = 0  # SR: iterations of back-projection onto the input at the end
    bp_each_step: bool = False  # back-project after every SR step, not only the last
    step_ensemble: bool = False  # SR: average the results of k - 1, k and k + 1 SR steps (same generator)
    seed: int = 0
    threads: int = 0


PRESETS: dict[str, dict[str, Any]] = {
    # The papers' settings (2000 iterations per scale).
    "singan": {"method": "singan"},
    "drsingan": {"method": "drsingan", "vgg_weight": 0.0},
}


def sr_steps(scale: float, per_octave: float = 3.0) -> tuple[int, float]:
    """(number of SR steps k, ratio) for an enlargement by ``scale``: ``round(per_octave log2 s)``,
    at least one; SinGAN's is 3 per octave (ratio about 1.26)."""
    if scale <= 1:
        raise SisrError(f"scale must be above 1, got {scale}")
    if per_octave <= 0:
        raise SisrError(f"steps_per_octave must be positive, got {per_octave}")
    k = max(1, round(per_octave * math.log2(scale)))
    return k, scale ** (1.0 / k)


def pyramid_sizes(h: int, w: int, ratio: float, min_size: int) -> list[tuple[int, int]]:
    """Sizes from coarsest to finest (the image itself); the coarsest has min side >= ``min_size``."""
    if min(h, w) < min_size:
        raise SisrError(f"image is {w}x{h}: zero-shot SR needs at least {min_size} px on each side")
    n = int(math.floor(math.log(min(h, w) / min_size) / math.log(ratio))) + 1
    return [(max(1, round(h / ratio**k)), max(1, round(w / ratio**k))) for k in range(n - 1, -1, -1)]


def _to_t(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))[None].float() * 2 - 1


def _to_img(x: torch.Tensor) -> np.ndarray:
    """The inverse of :func:`_to_t`, clipped to [0, 1]."""
    return ((x[0].permute(1, 2, 0).numpy() + 1) / 2).clip(0, 1)


def _resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return imresize_torch(x, size=size)


def _build(cfg: ZeroShotConfig, n: int) -> tuple[nn.Module, nn.Module]:
    c = min(cfg.channels * 2 ** (n // 4), cfg.max_channels)
    if cfg.method == "singan":
        from sisr.models.singan import SinGANDiscriminator, SinGANGenerator, SinGANScaleConfig

        sc = SinGANScaleConfig(channels=c)
        return SinGANGenerator(sc), SinGANDiscriminator(sc)
    if cfg.method == "drsingan":
        from sisr.models.drsingan import DRSinGANDiscriminator, DRSinGANGenerator, DRSinGANScaleConfig

        sc = DRSinGANScaleConfig(channels=c, growth=cfg.growth, layers=cfg.base_layers + n)
        return DRSinGANGenerator(sc), DRSinGANDiscriminator(sc)
    raise SisrError(f"method must be 'singan' or 'drsingan', got '{cfg.method}'")


def _copy_matching(dst: nn.Module, src: nn.Module) -> None:
    """Start a scale from the coarser scale's weights where shapes agree (SinGAN's warm start)."""
    s = src.state_dict()
    d = dst.state_dict()
    dst.load_state_dict({k: (s[k] if k in s and s[k].shape == v.shape else v) for k, v in d.items()})


def _gradient_penalty(d: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    a = torch.rand(real.shape[0], 1, 1, 1)
    x = (a * real + (1 - a) * fake).requires_grad_(True)
    out = d(x)
    (g,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return ((g.flatten(1).norm(dim=1) - 1) ** 2).mean()


def _dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    x = torch.rot90(x, k % 4, dims=(-2, -1))
    return x.flip(-1) if k >= 4 else x


def _undihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """The inverse of :func:`_dihedral`."""
    x = x.flip(-1) if k >= 4 else x
    return torch.rot90(x, -(k % 4), dims=(-2, -1))


def _autocast(cfg: ZeroShotConfig):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.precision == "bf16")


@torch.no_grad()
def _sr_chain(
    g: nn.Module,
    lr: torch.Tensor,
    scale: int,
    cfg: ZeroShotConfig,
    amp: float,
    generator: torch.Generator | None = None,
    steps: int = 0,
) -> torch.Tensor:
    """SinGAN's SR: ``k`` times (bicubic x ratio, ``g``), from ``lr`` (1 x 3 x H x W in [-1, 1]),
    with the SR-time options: x8 self-ensemble, back-projection. ``steps``: ``k`` (0: from the settings)."""
    k, ratio = (steps, scale ** (1.0 / steps)) if steps else sr_steps(scale, cfg.steps_per_octave)
    h, w = lr.shape[-2:]
    x = lr
    for j in range(1, k + 1):
        size = (h * scale, w * scale) if j == k else (round(h * ratio**j), round(w * ratio**j))
        up = _resize(x, size)
        noise = torch.randn(up.shape, generator=generator) * amp * cfg.sr_noise
        views = range(8) if cfg.ensemble else (0,)
        acc = torch.zeros_like(up)
        for v in views:
            with _autocast(cfg):
                y = g(_dihedral(up + noise, v), _dihedral(up, v)).float()
            acc += _undihedral(y, v)
        x = acc / len(views)
        if j == k or cfg.bp_each_step:
            for _ in range(cfg.back_projection):
                # Back-projection: the result shrunk to the input's size should be the input.
                x = x + _resize(lr - _resize(x, (h, w)), size)
    return x


@dataclass
class Pyramid:
    """A trained pyramid: generators coarse to fine, noise amplitudes, and the settings."""

    cfg: ZeroShotConfig
    ratio: float
    sizes: list[tuple[int, int]]
    gens: list[nn.Module]
    amps: list[float]
    seconds: float = 0.0
    log: list[dict[str, Any]] = field(default_factory=list)

    @torch.no_grad()
    def enlarge(self, img: np.ndarray, scale: int, generator: torch.Generator | None = None) -> np.ndarray:
        """Enlarge ``img`` (H x W x 3 float in [0, 1]) by ``scale`` with the finest generator."""
        g = self.gens[-1].eval().to(memory_format=torch.channels_last)
        k, _ = sr_steps(scale, self.cfg.steps_per_octave)
        paths = [j for j in (k - 1, k, k + 1) if j >= 1] if self.cfg.step_ensemble else [k]
        lr = _to_t(img)
        x = sum(_sr_chain(g, lr, scale, self.cfg, self.amps[-1], generator, j) for j in paths) / len(paths)
        return _to_img(x)

    def save(self, folder: str | Path) -> Path:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"g{n}.{k}": v.contiguous() for n, g in enumerate(self.gens) for k, v in g.state_dict().items()}
        import json

        meta = {
            "format": "sisr-pyramid-1",
            "config": json.dumps(self.cfg.__dict__),
            "ratio": repr(self.ratio),
            "sizes": json.dumps(self.sizes),
            "amps": json.dumps(self.amps),
            "seconds": repr(self.seconds),
        }
        from sisr.atomic import atomic_target

        out = folder / "pyramid.safetensors"
        with atomic_target(out) as tmp:
            save_file(tensors, str(tmp), metadata=meta)
        return out


def load_pyramid(path: str | Path) -> Pyramid:
    """Load a pyramid written by :meth:`Pyramid.save` (a folder or its ``pyramid.safetensors``)."""
    import json

    from safetensors import safe_open

    p = Path(path)
    if p.is_dir():
        p = p / "pyramid.safetensors"
    try:
        with safe_open(str(p), "pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
    except Exception as e:  # safetensors raises several types for bad files
        raise SisrError(f"{p}: not a saved pyramid ({e})") from None
    if meta.get("format") != "sisr-pyramid-1":
        raise SisrError(f"{p}: not a saved pyramid")
    raw = json.loads(meta["config"])
    raw["betas"] = tuple(raw["betas"])
    cfg = ZeroShotConfig(**raw)
    sizes = [tuple(s) for s in json.loads(meta["sizes"])]
    gens = []
    for n in range(len(sizes)):
        g, _ = _build(cfg, n)
        prefix = f"g{n}."
        g.load_state_dict({k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)})
        gens.append(g.eval())
    return Pyramid(cfg, float(meta["ratio"]), sizes, gens, json.loads(meta["amps"]), float(meta["seconds"]))


def train_pyramid(
    img: np.ndarray,
    scale: int,
    cfg: ZeroShotConfig | None = None,
    progress: bool = False,
    desc: str = "",
) -> Pyramid:
    """Train a pyramid on ``img`` (H x W x 3 float in [0, 1]) for enlargement by ``scale``."""
    cfg = cfg or ZeroShotConfig()
    if img.ndim != 3 or img.shape[2] != 3:
        raise SisrError(f"zero-shot training needs an H x W x 3 image, got shape {img.shape}")
    if cfg.precision not in ("fp32", "bf16"):
        raise SisrError(f"precision must be 'fp32' or 'bf16', got '{cfg.precision}'")
    if cfg.rec_input not in ("chain", "real"):
        raise SisrError(f"rec_input must be 'chain' or 'real', got '{cfg.rec_input}'")
    if cfg.pair_loss not in ("mse", "l1"):
        raise SisrError(f"pair_loss must be 'mse' or 'l1', got '{cfg.pair_loss}'")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    _, ratio = sr_steps(scale, cfg.steps_per_octave)
    sizes = pyramid_sizes(img.shape[0], img.shape[1], ratio, cfg.min_size)
    perc = None
    if cfg.vgg_weight > 0:
        from sisr.losses import VGGLoss

        perc = VGGLoss("relu5_4", cfg.vgg_weights or None)
    torch.manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    full = _to_t(img.astype(np.float32))
    reals = [full if s == sizes[-1] else _resize(full, s) for s in sizes]
    gens: list[nn.Module] = []
    amps: list[float] = []
    z_opt0 = torch.randn(reals[0].shape)
    t_start = time.perf_counter()
    log: list[dict[str, Any]] = []

    def chain(n: int, noise: bool) -> torch.Tensor:
        """The image at scale ``n`` made by generators 0..n: random (``noise``) or the reconstruction."""
        x = torch.zeros_like(reals[0])
        for i in range(n + 1):
            prev = x if i == 0 else _resize(x, sizes[i])
            if noise:
                z = torch.randn(prev.shape) * amps[i]
            else:
                z = z_opt0 if i == 0 else torch.zeros_like(prev)
            x = gens[i](z + prev, prev)
        return x

    from tqdm import tqdm

    total = sum(cfg.finest_iters or cfg.iters if n == len(sizes) - 1 else cfg.iters for n in range(len(sizes)))
    bar = tqdm(total=total, desc=desc or f"{cfg.method} x{scale}", disable=not progress, unit="it", leave=False)
    for n, real in enumerate(reals):
        g, d = _build(cfg, n)
        if n and gens and type(g) is type(gens[-1]):
            _copy_matching(g, gens[-1])
        # Channels-last convs are faster on CPU (1.3x fp32, 1.5x under bf16 for the finest DR-SinGAN G).
        g.to(memory_format=torch.channels_last)
        d.to(memory_format=torch.channels_last)
        g.train()
        d.train()
        with torch.no_grad():
            if n == 0:
                prev_rec = torch.zeros_like(real)
            elif cfg.rec_input == "real":
                # The enlarged real coarser image is what the generator sees at SR time (a son/father pair).
                prev_rec = _resize(reals[n - 1], sizes[n])
            else:
                prev_rec = _resize(chain(n - 1, False), sizes[n])
        amp = 1.0 if n == 0 else cfg.noise_amp * float(torch.sqrt(F.mse_loss(prev_rec, real)))
        amps.append(amp)
        gens.append(g)  # chain() at scale n uses it only after training
        iters = (cfg.finest_iters or cfg.iters) if n == len(sizes) - 1 else cfg.iters
        opt_g = torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        opt_d = torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        decay = max(1, int(cfg.decay_at * iters))
        z_rec = z_opt0 if n == 0 else torch.zeros_like(real)
        # The coarser generators are frozen, so a pool of their random outputs is a sample of the same
        # distribution; drawing it once saves the full-image chain that otherwise dominates a step.
        with torch.no_grad():
            pool = [_resize(chain(n - 1, True), sizes[n]) for _ in range(cfg.pool)] if n and cfg.pool else []
        side = _pair_side(real, cfg, ratio)
        bank = _pair_bank(real, side) if cfg.pairs and n > 0 else []
        for it in range(iters):
            if it == decay:
                for o in (opt_g, opt_d):
                    for grp in o.param_groups:
                        grp["lr"] = cfg.lr * 0.1
            if pool:
                prev_rand = pool[int(rng.integers(0, len(pool)))]
            elif n == 0:
                prev_rand = torch.zeros_like(real)
            else:
                with torch.no_grad():
                    prev_rand = _resize(chain(n - 1, True), sizes[n])
            noise = torch.randn(real.shape) * amp
            # Crops keep a step's cost bounded at large scales; the same window for every tensor.
            if cfg.crop and min(sizes[n]) > cfg.crop:
                y0 = int(rng.integers(0, sizes[n][0] - cfg.crop + 1))
                x0 = int(rng.integers(0, sizes[n][1] - cfg.crop + 1))
                win = (slice(None), slice(None), slice(y0, y0 + cfg.crop), slice(x0, x0 + cfg.crop))
            else:
                win = (slice(None),) * 4
            r_real, r_prev, r_noise = real[win], prev_rand[win], noise[win]
            r_prec, r_zrec = prev_rec[win], z_rec[win]
            for _ in range(cfg.d_steps):
                with torch.no_grad(), _autocast(cfg):
                    fake = g(r_noise + r_prev, r_prev).float()
                with _autocast(cfg):
                    loss_d = -d(r_real).float().mean() + d(fake).float().mean()
                    loss_d = loss_d + cfg.gp_weight * _gradient_penalty(d, r_real, fake)
                opt_d.zero_grad(set_to_none=True)
                loss_d.backward()
                opt_d.step()
            for _ in range(cfg.g_steps):
                d.requires_grad_(False)
                with _autocast(cfg):
                    fake = g(r_noise + r_prev, r_prev)
                    adv = -d(fake).float().mean()
                    rec = g(r_zrec + r_prec, r_prec).float()
                    loss = cfg.adv_weight * adv + cfg.mse_weight * F.mse_loss(rec, r_real)
                    if perc is not None:
                        loss = loss + cfg.vgg_weight * F.l1_loss(perc.vgg((rec + 1) / 2), perc.vgg((r_real + 1) / 2))
                    if bank:
                        loss = loss + cfg.pair_weight * _pair_loss(g, bank, side, ratio, cfg, rng)
                d.requires_grad_(True)
                opt_g.zero_grad(set_to_none=True)
                loss.backward()
                opt_g.step()
            bar.update()
        g.eval()
        g.requires_grad_(False)
        with torch.no_grad():
            rec_psnr = -10 * math.log10(max(F.mse_loss(chain(n, False), real).item() / 4, 1e-12))
        log.append({"scale": n, "size": sizes[n], "amp": round(amp, 5), "rec_psnr": round(rec_psnr, 2)})
    bar.close()
    return Pyramid(cfg, ratio, sizes, gens, amps, time.perf_counter() - t_start, log)


def _pair_side(real: torch.Tensor, cfg: ZeroShotConfig, ratio: float) -> int:
    """Side of the son/father crops at a scale: ``crop`` (48 when 0), at most the image's, made up to
    8 px smaller where that lets the son (side / ratio) be a whole number of pixels, so that pairs
    are shrunk by the SR step's ratio and not by a rounded one (48 / 1.587 = 30.2; 46 / 1.587 = 29.0)."""
    top = min(cfg.crop or 48, *real.shape[-2:])
    for side in range(top, max(top - 8, 8), -1):
        if abs(side / ratio - round(side / ratio)) <= 0.1:
            return side
    return top


def _pair_bank(real: torch.Tensor, side: int) -> list[torch.Tensor]:
    """The image and downscaled copies of it (down to half, none under ``side``), made once per scale,
    to cut fathers from."""
    h, w = real.shape[-2:]
    bank = [real]
    with torch.no_grad():
        for f in (0.9, 0.8, 0.7, 0.6, 0.5):
            size = (round(h * f), round(w * f))
            if min(size) >= side:
                bank.append(_resize(real, size))
    return bank


def _pair_loss(
    g: nn.Module, bank: list[torch.Tensor], side: int, ratio: float, cfg: ZeroShotConfig, rng
) -> torch.Tensor:
    """Son/father pairs from the image: the father shrunk by ``ratio`` and enlarged again is the input."""
    fathers = []
    for _ in range(cfg.pair_batch):
        img = bank[int(rng.integers(0, len(bank)))]
        y0 = int(rng.integers(0, img.shape[-2] - side + 1))
        x0 = int(rng.integers(0, img.shape[-1] - side + 1))
        fathers.append(_dihedral(img[..., y0 : y0 + side, x0 : x0 + side], int(rng.integers(0, 8))))
    father = torch.cat(fathers)
    small = (max(1, round(side / ratio)), max(1, round(side / ratio)))
    with torch.no_grad():
        son = _resize(_resize(father, small), (side, side))
    out = g(son, son).float()
    return F.l1_loss(out, father) if cfg.pair_loss == "l1" else F.mse_loss(out, father)


def upscale_zero_shot(
    img: np.ndarray, scale: int, cfg: ZeroShotConfig, progress: bool = False, save_dir: str | None = None
) -> tuple[np.ndarray, Pyramid]:
    """Train on ``img`` and enlarge it by ``scale``; gray images are trained and enlarged as RGB."""
    gray = img.ndim == 2 or img.shape[2] == 1
    rgb = np.repeat(img.reshape(img.shape[0], img.shape[1], 1), 3, axis=2) if gray else img[..., :3]
    pyr = train_pyramid(rgb.astype(np.float32), scale, cfg, progress=progress)
    if save_dir:
        pyr.save(save_dir)
    out = pyr.enlarge(rgb.astype(np.float32), scale)
    if gray:
        out = out.mean(axis=2, keepdims=img.ndim == 3)
    return out, pyr
