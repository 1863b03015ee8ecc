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

import copy
import math
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from sisr.config import check_bounds
from sisr.errors import SisrError
from sisr.losses import VGGLoss, gradient_penalty, pixel_loss, wgan_critic_loss, wgan_generator_loss
from sisr.precision import autocast, device_here
from sisr.transforms import dihedral
from sisr.zeroshot import (
    Pyramid,
    ZeroShotConfig,
    build_scale,
    generator_macs,
    pyramid_sizes,
    resize,
    sr_cost,
    sr_settings,
    sr_steps,
    to_tensor,
)

__all__ = ["check_config", "train_cost", "train_pyramid", "upscale_zero_shot", "work_units"]


def _copy_matching(dst: nn.Module, src: nn.Module) -> None:
    """Start a scale from the coarser scale's weights where shapes agree (SinGAN's warm start)."""
    s = src.state_dict()
    d = dst.state_dict()
    dst.load_state_dict({k: (s[k] if k in s and s[k].shape == v.shape else v) for k, v in d.items()})


class _PyramidTrainer:
    """Training state shared by the scales of one pyramid; one method per named step."""

    def __init__(self, img: np.ndarray, scale: int, cfg: ZeroShotConfig) -> None:
        self.cfg = cfg
        _, self.ratio = sr_steps(scale, cfg.steps_per_octave)
        self.sizes = pyramid_sizes(img.shape[0], img.shape[1], self.ratio, cfg.min_size)
        self.dev = torch.device(cfg.device)
        self.perc = None
        if cfg.vgg_weight > 0:
            self.perc = VGGLoss("relu5_4", cfg.vgg_weights or None).to(self.dev)
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        full = to_tensor(img.astype(np.float32)).to(self.dev)
        self.reals = [full if s == self.sizes[-1] else resize(full, s) for s in self.sizes]
        self.gens: list[nn.Module] = []
        self.amps: list[float] = []
        self.z_opt0 = self.randn(self.reals[0].shape)
        self.log: list[dict[str, Any]] = []

    def randn(self, shape: torch.Size) -> torch.Tensor:
        """Noise drawn on the CPU, then moved: the same draws, so the same run, whatever the device."""
        return torch.randn(shape).to(self.dev)

    def chain(self, n: int, noise: bool) -> torch.Tensor:
        """The image at scale ``n`` made by generators 0..n: random (``noise``) or the reconstruction."""
        x = torch.zeros_like(self.reals[0])
        for i in range(n + 1):
            prev = x if i == 0 else resize(x, self.sizes[i])
            if noise:
                z = self.randn(prev.shape) * self.amps[i]
            else:
                z = self.z_opt0 if i == 0 else torch.zeros_like(prev)
            x = self.gens[i](z + prev, prev)
        return x

    def iters(self, n: int) -> int:
        return scale_iters(self.cfg, n, len(self.sizes))

    def setup_scale(self, n: int) -> SimpleNamespace:
        """Networks, optimizers, noise amplitude, reconstruction input and pair bank of scale ``n``."""
        cfg, real = self.cfg, self.reals[n]
        g, d = build_scale(cfg, n)
        if n and self.gens and type(g) is type(self.gens[-1]):
            _copy_matching(g, self.gens[-1])
        # Channels-last convs are faster on CPU (1.3x fp32, 1.5x under bf16 for the finest DR-SinGAN G).
        g.to(self.dev, memory_format=torch.channels_last).train()
        d.to(self.dev, memory_format=torch.channels_last).train()
        with torch.no_grad():
            if n == 0:
                prev_rec = torch.zeros_like(real)
            elif cfg.rec_input == "real":
                # The enlarged real coarser image is what the generator sees at SR time (a son/father pair).
                prev_rec = resize(self.reals[n - 1], self.sizes[n])
            else:
                prev_rec = resize(self.chain(n - 1, False), self.sizes[n])
        amp = 1.0 if n == 0 else cfg.noise_amp * float(torch.sqrt(F.mse_loss(prev_rec, real)))
        self.amps.append(amp)
        self.gens.append(g)  # chain() at scale n uses it only after training
        # The coarser generators are frozen, so a pool of their random outputs is a sample of the same
        # distribution; drawing it once saves the full-image chain that otherwise dominates a step.
        with torch.no_grad():
            pool = [resize(self.chain(n - 1, True), self.sizes[n]) for _ in range(cfg.pool)] if n and cfg.pool else []
        side = _pair_side(real.shape[-2:], cfg, self.ratio)
        return SimpleNamespace(
            n=n,
            g=g,
            d=d,
            opt_g=torch.optim.Adam(g.parameters(), lr=cfg.lr, betas=tuple(cfg.betas)),
            opt_d=torch.optim.Adam(d.parameters(), lr=cfg.lr, betas=tuple(cfg.betas)),
            amp=amp,
            prev_rec=prev_rec,
            z_rec=self.z_opt0 if n == 0 else torch.zeros_like(real),
            pool=pool,
            side=side,
            bank=_pair_bank(real, side) if cfg.pairs and n > 0 else [],
        )

    def random_prev(self, sc: SimpleNamespace) -> torch.Tensor:
        """A random coarser image, enlarged to scale ``sc.n`` (from the pool when there is one)."""
        if sc.pool:
            return sc.pool[int(self.rng.integers(0, len(sc.pool)))]
        if sc.n == 0:
            return torch.zeros_like(self.reals[0])
        with torch.no_grad():
            return resize(self.chain(sc.n - 1, True), self.sizes[sc.n])

    def crop_window(self, n: int) -> tuple[slice, ...]:
        """A random ``crop`` x ``crop`` window at large scales (bounded step cost); all of it otherwise."""
        crop, (h, w) = self.cfg.crop, self.sizes[n]
        if not crop or min(h, w) <= crop:
            return (slice(None),) * 4
        y0 = int(self.rng.integers(0, h - crop + 1))
        x0 = int(self.rng.integers(0, w - crop + 1))
        return (slice(None), slice(None), slice(y0, y0 + crop), slice(x0, x0 + crop))

    def d_step(self, sc: SimpleNamespace, real: torch.Tensor, prev: torch.Tensor, noise: torch.Tensor) -> None:
        cfg = self.cfg
        with torch.no_grad(), autocast(cfg.precision, self.dev):
            fake = sc.g(noise + prev, prev).float()
        with autocast(cfg.precision, self.dev):
            loss = wgan_critic_loss(sc.d(real), sc.d(fake)) + cfg.gp_weight * gradient_penalty(sc.d, real, fake)
        sc.opt_d.zero_grad(set_to_none=True)
        loss.backward()
        sc.opt_d.step()

    def g_step(self, sc: SimpleNamespace, real, prev, noise, prev_rec, z_rec) -> torch.Tensor:
        """One generator update; returns its reconstruction MSE (detached, for the divergence guard)."""
        cfg = self.cfg
        sc.d.requires_grad_(False)
        with autocast(cfg.precision, self.dev):
            adv = wgan_generator_loss(sc.d(sc.g(noise + prev, prev)))
            rec = sc.g(z_rec + prev_rec, prev_rec).float()
            rec_mse = F.mse_loss(rec, real)
            loss = cfg.adv_weight * adv + cfg.mse_weight * rec_mse
            if self.perc is not None:
                vgg = self.perc.vgg
                loss = loss + cfg.vgg_weight * F.l1_loss(vgg((rec + 1) / 2), vgg((real + 1) / 2))
            if sc.bank:
                loss = loss + cfg.pair_weight * _pair_loss(sc.g, sc.bank, sc.side, self.ratio, cfg, self.rng)
        sc.d.requires_grad_(True)
        sc.opt_g.zero_grad(set_to_none=True)
        loss.backward()
        sc.opt_g.step()
        return rec_mse.detach()

    def train_scale(self, n: int, tick: Callable[[], None]) -> None:
        cfg, real = self.cfg, self.reals[n]
        sc = self.setup_scale(n)
        iters = self.iters(n)
        decay = max(1, int(cfg.decay_at * iters))
        good: list[list[dict[str, Any]]] = []
        rollbacks = 0
        for it in range(iters):
            if it == decay:
                _set_lr(sc, cfg.lr * 0.1)
            prev_rand = self.random_prev(sc)
            noise = self.randn(real.shape) * sc.amp
            win = self.crop_window(n)  # the same window for every tensor of the step
            for _ in range(cfg.d_steps):
                self.d_step(sc, real[win], prev_rand[win], noise[win])
            for _ in range(cfg.g_steps):
                rec_mse = self.g_step(sc, real[win], prev_rand[win], noise[win], sc.prev_rec[win], sc.z_rec[win])
            if cfg.diverge_mse > 0 and self.guard(sc, it, rec_mse.item(), good):
                rollbacks += 1
                _set_lr(sc, cfg.lr * (0.1 if it >= decay else 1.0))  # the kept state may predate the drop
            tick()
        sc.g.eval()
        sc.g.requires_grad_(False)
        with torch.no_grad():
            rec_psnr = -10 * math.log10(max(F.mse_loss(self.chain(n, False), real).item() / 4, 1e-12))
        entry = {"scale": n, "size": self.sizes[n], "amp": round(sc.amp, 5), "rec_psnr": round(rec_psnr, 2)}
        self.log.append(entry | ({"rollbacks": rollbacks} if rollbacks else {}))

    GUARD_EVERY = 25

    def guard(self, sc: SimpleNamespace, it: int, rec_mse: float, good: list[list[dict[str, Any]]]) -> bool:
        """Divergence guard: a generator whose tanh tail saturates reconstructs nothing (MSE about 1)
        and, its gradient gone, never recovers (BSD200:val 12074 x2, seed 2: from 36.7 to 35.2 dB).
        Every ``GUARD_EVERY`` healthy iterations the scale's state is kept (the last two); a step whose
        reconstruction MSE passes ``diverge_mse`` restores the older one (the newer may already be on
        its way up) and training goes on. Draws no random numbers, so a run that never diverges is
        the run without the guard. True on a rollback."""
        nets = (sc.g, sc.d, sc.opt_g, sc.opt_d)
        if rec_mse > self.cfg.diverge_mse:
            if not good:
                return False  # not yet reconstructing (the start of a scale): nothing good to go back to
            for net, state in zip(nets, good[0]):
                net.load_state_dict(copy.deepcopy(state))
            del good[1:]
            return True
        if it % self.GUARD_EVERY == 0:
            good.append([copy.deepcopy(net.state_dict()) for net in nets])
            del good[:-2]
        return False


def _set_lr(sc: SimpleNamespace, lr: float) -> None:
    for o in (sc.opt_g, sc.opt_d):
        for grp in o.param_groups:
            grp["lr"] = lr


def check_config(cfg: ZeroShotConfig) -> None:
    """Refuse settings that cannot run here, before any work starts."""
    check_bounds(cfg, "zero-shot settings")
    device_here(cfg.device)


def scale_iters(cfg: ZeroShotConfig, n: int, count: int) -> int:
    """Training iterations of scale ``n`` of a ``count``-scale pyramid (``finest_iters`` at the finest)."""
    return (cfg.finest_iters or cfg.iters) if n == count - 1 else cfg.iters


def train_cost(cfg: ZeroShotConfig, sizes: list[tuple[int, int]], ratio: float) -> list[int]:
    """Per scale, the work of one training iteration in forward-pass pixels of the finest generator
    (a critic step is about 10 passes over its window, a generator step 9, each son/father pixel 3,
    and without a ``pool`` the random coarser image is a pass through every coarser scale, whole),
    each scale's pixels weighed by its generator's multiply-adds against the finest one's (channels
    double every 4 scales, DR-SinGAN's blocks deepen by one conv per scale), so that progress and its
    time estimate are right from the first iterations, coarse scales being cheap and the finest dear."""
    macs = [generator_macs(cfg, n) for n in range(len(sizes))]
    weight = [m / macs[-1] for m in macs]
    out = []
    for n, (h, w) in enumerate(sizes):
        win = min(h, cfg.crop or h) * min(w, cfg.crop or w)
        cost = win * (10 * cfg.d_steps + 9 * cfg.g_steps) * weight[n]
        if not cfg.pool:
            cost += sum(a * b * weight[i] for i, (a, b) in enumerate(sizes[:n]))
        if cfg.pairs and n > 0:
            side = _pair_side((h, w), cfg, ratio)
            cost += 3 * cfg.pair_batch * side * side * cfg.g_steps * weight[n]
        out.append(max(1, round(cost)))
    return out


def work_units(h: int, w: int, scale: int, cfg: ZeroShotConfig) -> int:
    """The work of enlarging an ``h`` x ``w`` input by ``scale`` (training, then SR), in the units of
    the ``on_progress`` callbacks: lets a caller weigh several runs before any starts."""
    _, ratio = sr_steps(scale, cfg.steps_per_octave)
    sizes = pyramid_sizes(h, w, ratio, cfg.min_size)
    train = sum(scale_iters(cfg, n, len(sizes)) * c for n, c in enumerate(train_cost(cfg, sizes, ratio)))
    return train + sr_cost(h, w, scale, sr_settings(h, w, scale, cfg))


class _Meter:
    """One progress bar (and ``on_progress(done, total)`` callback) over weighted work units."""

    def __init__(self, total: int, progress: bool, desc: str, on_progress: Callable[[int, int], None] | None):
        self.total, self.done, self.on_progress = total, 0, on_progress
        fmt = "{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]"
        self.bar = tqdm(total=total, desc=desc, disable=not progress, leave=False, bar_format=fmt)

    def add(self, units: int) -> None:
        units = min(units, self.total - self.done)
        self.done += units
        self.bar.update(units)
        if self.on_progress is not None:
            self.on_progress(self.done, self.total)

    def close(self) -> None:
        self.bar.close()


def train_pyramid(
    img: np.ndarray,
    scale: int,
    cfg: ZeroShotConfig | None = None,
    progress: bool = False,
    desc: str = "",
    on_progress: Callable[[int, int], None] | None = None,
) -> Pyramid:
    """Train a pyramid on ``img`` (H x W x 3 float in [0, 1]) for enlargement by ``scale``.

    ``on_progress(done, total)`` is called after each iteration (for a progress bar or a web job),
    in work units (see :func:`train_cost`).
    """
    pyr, meter = _train(img, scale, cfg or ZeroShotConfig(), progress, desc, on_progress)
    meter.close()
    return pyr


def _train(img, scale, cfg, progress, desc, on_progress, extra: int = 0) -> tuple[Pyramid, _Meter]:
    """Train, with an open meter whose total also counts ``extra`` units of work to come after."""
    if img.ndim != 3 or img.shape[2] != 3:
        raise SisrError(f"zero-shot training needs an H x W x 3 image, got shape {img.shape}")
    check_config(cfg)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    t_start = time.perf_counter()
    run = _PyramidTrainer(img, scale, cfg)
    costs = train_cost(cfg, run.sizes, run.ratio)
    total = sum(run.iters(n) * c for n, c in enumerate(costs)) + extra
    meter = _Meter(total, progress, desc or f"{cfg.method} x{scale}", on_progress)
    for n in range(len(run.sizes)):
        run.train_scale(n, lambda c=costs[n]: meter.add(c))
    return Pyramid(cfg, run.ratio, run.sizes, run.gens, run.amps, time.perf_counter() - t_start, run.log), meter


def _pair_side(shape: tuple[int, int], cfg: ZeroShotConfig, ratio: float) -> int:
    """Side of the son/father crops at a scale: ``crop`` (48 when 0), at most the image's, made up to
    8 px smaller where that lets the son (side / ratio) be a whole number of pixels, so that pairs
    are shrunk by the SR step's ratio and not by a rounded one (48 / 1.587 = 30.2; 46 / 1.587 = 29.0)."""
    top = min(cfg.crop or 48, *shape)
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
                bank.append(resize(real, size))
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
        fathers.append(dihedral(img[..., y0 : y0 + side, x0 : x0 + side], int(rng.integers(0, 8))))
    father = torch.cat(fathers)
    small = (max(1, round(side / ratio)), max(1, round(side / ratio)))
    with torch.no_grad():
        son = resize(resize(father, small), (side, side))
    out = g(son, son).float()
    return pixel_loss(out, father, cfg.pair_loss)


def upscale_zero_shot(
    img: np.ndarray,
    scale: int,
    cfg: ZeroShotConfig,
    progress: bool = False,
    save_dir: str | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    source: str | None = None,
) -> tuple[np.ndarray, Pyramid]:
    """Train on ``img`` (H x W x 3 float in [0, 1]) and enlarge it by ``scale``; ``on_progress(done,
    total)`` follows the work of both (training iterations, then the SR passes); ``source``: the
    file ``img`` came from, whose name a saved pyramid records."""
    rgb = img.astype(np.float32)
    h, w = rgb.shape[:2]
    extra = sr_cost(h, w, scale, sr_settings(h, w, scale, cfg))
    pyr, meter = _train(rgb, scale, cfg, progress, "", on_progress, extra=extra)
    pyr.source = Path(source).name if source else None
    try:
        if save_dir:
            pyr.save(save_dir)
        return pyr.enlarge(rgb, scale, tick=meter.add), pyr
    finally:
        meter.close()
