"""The supervised training loop: PSNR phase and GAN phase, resumable, DDP-ready.

One loop for every supervised model. Each step draws its batch from a
generator seeded by (seed, rank, step), so a resumed run continues exactly.
GAN steps are split into ``d_step`` and ``g_step``, and the fake is
regenerated for each (no retained graphs). Under ``torchrun`` the model is
wrapped in DistributedDataParallel (gloo on CPU, nccl on GPU); each rank draws
different patches; rank 0 alone validates, logs and writes checkpoints.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import platform
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from sisr.atomic import check_writable
from sisr.checkpoint import VAL_SEED, load_checkpoint, load_tensors, read_header, save_checkpoint, save_tensors
from sisr.config import check_bounds, load_config
from sisr.data import TEST_SETS, PatchSampler, check_measurable, dataset_images, sr_pair, test_set_of
from sisr.degrade import degrade_batch
from sisr.errors import SisrError
from sisr.io import read_image
from sisr.losses import VGGLoss, discriminator_loss, generator_adversarial_loss, pixel_loss
from sisr.metrics import gray_of, psnr, quantize
from sisr.models import PRETRAINED, build_model, load_mismatch, model_from_checkpoint, weights_dir, weights_path
from sisr.models.base import SRModel
from sisr.precision import autocast, cores, cpu_bf16_units, device_here, native_bf16
from sisr.resize import imresize, imresize_torch

__all__ = [
    "TrainConfig",
    "Trainer",
    "changes_text",
    "lr_at",
    "plan",
    "recipe_changes",
    "train",
    "val_figures",
    "validation_curve",
]


# Field bounds (sisr.config checks them as a recipe loads).
_SHARE, _POSITIVE, _NOT_NEGATIVE = {"min": 0, "max": 1}, {"above": 0}, {"min": 0}
_BETAS = {"min": 0, "below": 1, "length": 2}


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "rrgan"
    model: dict = field(default_factory=dict)
    # "psnr": pixel loss only; "gan": + perceptual + adversarial
    phase: str = field(default="psnr", metadata={"choices": ("psnr", "gan")})
    # generator weights to start from (phase 2 starts from phase 1): a shipped model, a run folder or a file
    init: str = ""
    grow: bool = False  # init may have fewer blocks per stage or fewer scales; new blocks start as identities
    # data
    data: tuple[str, ...] = ("T91", "BSD200:train")  # the 291 images less val_data's ten
    patch: int = field(default=48, metadata={"min": 1})  # LR patch size
    batch: int = field(default=16, metadata={"min": 1})  # per rank
    scale_aug: tuple[float, ...] = field(default=(1.0, 0.9, 0.8, 0.7, 0.6), metadata={"above": 0, "max": 1})
    gray_prob: float = field(default=0.3, metadata=_SHARE)
    # LR synthesis: "bicubic" (MATLAB) or "real" (sisr.degrade, Real-ESRGAN's model)
    degradation: str = field(default="bicubic", metadata={"choices": ("bicubic", "real")})
    # with "real": the share of patches whose LR is plain MATLAB bicubic instead
    clean_prob: float = field(default=0.0, metadata=_SHARE)
    # optimisation
    steps: int = field(default=100_000, metadata={"min": 1})
    lr: float = field(default=2e-4, metadata=_POSITIVE)
    lr_min: float = field(default=1e-6, metadata=_NOT_NEGATIVE)
    warmup: int = field(default=200, metadata={"min": 0})
    schedule: str = field(default="cosine", metadata={"choices": ("cosine", "constant")})
    betas: tuple[float, ...] = field(default=(0.9, 0.999), metadata=_BETAS)
    grad_clip: float = field(default=0.0, metadata=_NOT_NEGATIVE)  # 0: none
    ema: float = field(default=0.999, metadata={"min": 0, "below": 1})  # a decay: 0.999 averages ~1000 steps
    # losses
    pixel_loss: str = field(default="l1", metadata={"choices": ("l1", "mse")})
    pixel_weight: float = field(default=1.0, metadata=_NOT_NEGATIVE)
    perceptual: str = field(default="vgg", metadata={"choices": ("vgg", "disc_features", "none")})  # GAN phase
    vgg_layer: str = "relu5_4"
    vgg_weights: str = ""  # path; else $SISR_VGG19, then the torch hub cache
    perceptual_weight: float = field(default=1.0, metadata=_NOT_NEGATIVE)
    adv_weight: float = field(default=1e-3, metadata=_NOT_NEGATIVE)
    discriminator: str = "patchgan"
    disc_model: dict = field(default_factory=dict)
    d_lr: float = field(default=1e-4, metadata=_POSITIVE)
    # bookkeeping
    val_data: str = "BSD200:val"  # held out: checkpoints are chosen here, never on a test set
    val_every: int = field(default=500, metadata={"min": 0})  # 0: never
    log_every: int = field(default=25, metadata={"min": 1})
    ckpt_minutes: float = field(default=5.0, metadata=_POSITIVE)
    out: str = "runs/rrgan_x4_psnr"
    seed: int = 0
    bf16: bool = True
    channels_last: bool = True
    threads: int = field(default=0, metadata={"min": 0})
    # processes that draw batches ahead of the step (a GPU outruns one CPU's degradation)
    workers: int = field(default=0, metadata={"min": 0})
    device: str = "auto"

    def __post_init__(self) -> None:
        # What field bounds cannot say (each field's own bounds are checked as a recipe loads).
        if self.clean_prob and self.degradation != "real":
            raise SisrError(f"clean_prob needs degradation = 'real', got {self.clean_prob} with 'bicubic'")
        if not self.data or not self.scale_aug:
            raise SisrError(f"{'data' if not self.data else 'scale_aug'} must have at least one entry")
        if not str(self.out).strip():  # "" would put the run's state and weights in the current folder
            raise SisrError("out must name the run's folder, got ''")


def lr_at(step: int, cfg: TrainConfig, base: float | None = None) -> float:
    """Learning rate at ``step``: linear warm-up, then cosine to ``lr_min`` or constant."""
    base = cfg.lr if base is None else base
    if cfg.warmup and step < cfg.warmup:
        return base * (step + 1) / cfg.warmup
    if cfg.schedule == "constant":
        return base
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr_min + 0.5 * (base - cfg.lr_min) * (1 + math.cos(math.pi * t))


def val_figures(rec: dict[str, Any]) -> dict[str, float]:
    """The validation figures of one log record by scale: ``"4"`` (the run's own inputs) and, for a
    blind run, ``"4 clean"`` (MATLAB-bicubic inputs)."""
    return rec["val_psnr"] | {f"{k} clean": v for k, v in rec.get("val_clean_psnr", {}).items()}


def _init_weights(name: str, arch: str) -> Path:
    """The weights file ``init`` names: a shipped model's name, a training run's folder or a path."""
    try:
        path = weights_path(name)
    except SisrError as e:
        raise SisrError(f"init: {e}") from None
    if path is None:
        raise SisrError(f"init: '{name}' has no weights to start from; name a trained model or a weights file")
    if not path.is_file():  # a recipe's phase 1 run (SRGAN's SRResNet) not trained here yet
        same = [n for n, (f, _) in PRETRAINED.items() if read_header(weights_dir() / f, "weights")["arch"] == arch]
        hint = f", or start from a shipped '{arch}' model (--set init={same[0]})" if same else ""
        raise SisrError(f"init: {path}: no such weights file; train the run that writes it first{hint}")
    return path


def _init_mismatch(init: str, want: Any, have: Any, grow: bool, grows: bool) -> str:
    """One line on how the recipe's model table differs from its init's, and the overrides that
    keep the init's model."""
    a, b = asdict(want), asdict(have)
    keys = [k for k in a if a[k] != b.get(k)]
    said = ", ".join(f"{k} = {_toml(a[k])} (the init's: {_toml(b[k])})" for k in keys)
    keep = " ".join(f"--set model.{k}={_toml(b[k])}" for k in keys)
    how = "; it cannot grow into the recipe's" if grow else "; or grow = true, to grow it" if grows else ""
    return f"init weights {init} do not match the recipe's model table: {said}; {keep} keeps the init's{how}"


def _toml(value: Any) -> str:
    """A config value as ``--set`` takes it (TOML), without spaces, to paste into a shell."""
    return json.dumps(list(value) if isinstance(value, tuple) else value, separators=(",", ":"))


def validation_curve(log: Path, val_data: str = "Set5") -> list[str]:
    """The validation rows of a training log as a Markdown table (last value per step wins)."""
    rows: dict[int, dict[str, float]] = {}
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        if "val_psnr" in rec:
            rows[rec["step"]] = val_figures(rec)  # a blind run's clean columns are named "xS clean"
    if not rows:
        return []
    cols = sorted({c for v in rows.values() for c in v}, key=lambda c: (c.endswith("clean"), int(c.split()[0])))
    out = [
        f"## Validation curve ({val_data}, EMA weights, Y-PSNR)",
        "",
        "| step | " + " | ".join(f"x{c}" for c in cols) + " |",
        "|---:|" + "---:|" * len(cols),
    ]
    for step in sorted(rows):
        cells = (f"{rows[step][c]:.2f}" if c in rows[step] else "-" for c in cols)
        out.append(f"| {step:,} | " + " | ".join(cells) + " |")
    if any(c.endswith("clean") for c in cols):
        out += ["", '"clean": the same images as MATLAB-bicubic LR (the tables\' protocol y).']
    return out + [""]


def _dist_info() -> tuple[int, int]:
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


class SupervisedView(nn.Module):
    """Training-time view of an SR model, ``{scale: [(weight, prediction), ...]}``, as one module so
    that DDP all-reduces the gradients of every supervised output (each cascade stage, DRCN's
    recursions), not only the final image."""

    def __init__(self, net: SRModel) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> dict[int, list[tuple[float, torch.Tensor]]]:
        return self.net.forward_supervised(x)


class Trainer:
    def __init__(self, cfg: TrainConfig, sampler=None, val_files=None) -> None:
        check_bounds(cfg, "training config")
        self.cfg = cfg
        self.rank, self.world = _dist_info()
        if self.world > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if torch.cuda.is_available() and cfg.device != "cpu" else "gloo"
            torch.distributed.init_process_group(backend)
        if cfg.device == "auto":
            dev = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if torch.cuda.is_available() else "cpu"
        else:
            dev = cfg.device
        self.device = device_here(dev)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # training batches keep one shape: tune the convolutions once
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        elif self.world > 1 and self.device.type == "cpu":
            torch.set_num_threads(max(1, cores() // self.world))
        self.out = Path(cfg.out)
        self.mf = torch.channels_last if cfg.channels_last else torch.contiguous_format
        torch.manual_seed(cfg.seed)  # same initial weights on every rank and every rerun

        if cfg.init:
            init = load_checkpoint(_init_weights(cfg.init, cfg.arch))
            if init.arch != cfg.arch:
                raise SisrError(
                    f"init weights {cfg.init} are a '{init.arch}' model, but the recipe's arch is '{cfg.arch}'"
                )
            self.net = model_from_checkpoint(init, cfg.init)
            want = build_model(cfg.arch, cfg.model).config if cfg.model else self.net.config
            try:  # the same model, its exact Y-only form, or (with grow) a grown copy
                self.net = self.net.start_as(want, grow=cfg.grow)
            except ValueError:
                grows = type(self.net).grow is not SRModel.grow
                raise SisrError(_init_mismatch(cfg.init, want, self.net.config, cfg.grow, grows)) from None
        else:
            self.net = build_model(cfg.arch, cfg.model)
        self.arch = cfg.arch
        self.net.to(self.device, memory_format=self.mf)
        self.ema = copy.deepcopy(self.net).eval().requires_grad_(False)
        self.scale = max(self.net.scales)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
        # DDP wraps the supervised view, so every supervised output (each cascade stage, DRCN's
        # recursions) takes part in the gradient all-reduce, not only the final image.
        if not isinstance(self.net, SRModel):
            raise SisrError(f"arch '{cfg.arch}' is not a super-resolution model")
        self.model = SupervisedView(self.net)
        if self.world > 1:
            self.model = nn.parallel.DistributedDataParallel(self.model)

        self.disc = self.dopt = self.perc = None
        if cfg.phase == "gan":
            self.disc = build_model(cfg.discriminator, cfg.disc_model).to(self.device, memory_format=self.mf)
            self.dopt = torch.optim.Adam(self.disc.parameters(), lr=cfg.d_lr, betas=tuple(cfg.betas))
            if self.world > 1:
                self.disc = nn.parallel.DistributedDataParallel(self.disc)
            if cfg.perceptual == "vgg":
                self.perc = VGGLoss(cfg.vgg_layer, cfg.vgg_weights or None).to(self.device, memory_format=self.mf)

        self.sampler = sampler
        self.val_files = val_files
        self.step = 0
        self.elapsed = 0.0
        self.devices: list[list] = []  # [label, first step, last step] per stretch of training on one device
        self.history: list[dict[str, Any]] = []
        # [step, {key: [before, after]}] each time a run resumed with a recipe that trains differently
        self.changes: list[list] = []
        self.val_seen = [0, 0]  # [validation images that are training images too, validation images]
        self._ahead: _Ahead | None = None

    # ---- data -----------------------------------------------------------------------------------
    def _ensure_sampler(self) -> PatchSampler:
        if self.sampler is None:
            self.sampler = PatchSampler.from_datasets(
                self.cfg.data,
                self.cfg.patch * self.scale,
                scale_aug=tuple(self.cfg.scale_aug),
                gray_prob=self.cfg.gray_prob,
            )
        return self.sampler

    def draw(self, step: int) -> tuple[np.ndarray, np.ndarray | None]:
        """The numpy half of a batch: HR patches and, for degraded training, their LR; no torch."""

        rng = np.random.default_rng([self.cfg.seed, self.rank, step])
        patches = self._ensure_sampler().sample(rng, self.cfg.batch)
        if self.cfg.degradation != "real":
            return patches, None
        if self.cfg.clean_prob <= 0:  # drawn separately so that older runs resume with the same batches
            return patches, degrade_batch(patches, self.scale, rng)
        # A blind model that never sees a clean LR learns to undo blur that clean inputs lack.
        clean = rng.random(len(patches)) < self.cfg.clean_prob
        lr = np.empty((len(patches), patches.shape[1] // self.scale, patches.shape[2] // self.scale, 3), np.float32)
        if (~clean).any():
            lr[~clean] = degrade_batch(patches[~clean], self.scale, rng)
        for i in np.flatnonzero(clean):  # uint8 in, uint8 out: 8-bit like the degraded LR and real inputs
            lr[i] = imresize(patches[i], 1.0 / self.scale).astype(np.float32) / 255.0
        return patches, lr

    def batch(self, step: int) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """(LR, {scale: target}) for ``step``; a pure function of (seed, rank, step)."""

        drawn = self._ahead.get(step) if self._ahead is not None else None
        patches, lr_np = drawn if drawn is not None else self.draw(step)
        # uint8 crosses to the device (a quarter of float32's bytes); the bicubic LR and the other
        # scales' targets are made there, where a GPU does it in a few kernels instead of this process.
        hr = self._to_device(patches).permute(0, 3, 1, 2).float().div_(255)
        if lr_np is not None:
            lr = self._to_device(lr_np).permute(0, 3, 1, 2)
        else:
            lr = imresize_torch(hr, 1.0 / self.scale)
        targets = {s: hr if s == self.scale else imresize_torch(hr, s / self.scale) for s in self.net.scales}
        return lr.contiguous(memory_format=self.mf), {
            s: t.contiguous(memory_format=self.mf) for s, t in targets.items()
        }

    def _to_device(self, a: np.ndarray) -> torch.Tensor:
        if self.device.type != "cuda":
            return torch.from_numpy(a)
        # From pinned memory the copy is queued behind the GPU's work instead of waiting for it.
        return torch.from_numpy(a).pin_memory().to(self.device, non_blocking=True)

    # ---- steps ----------------------------------------------------------------------------------
    def _autocast(self):
        return autocast("bf16" if self.cfg.bf16 else "fp32", self.device)

    def _outputs(self, lr: torch.Tensor) -> dict[int, list[tuple[float, torch.Tensor]]]:
        """Weighted predictions per scale; the first of each list is the model's output at that scale."""
        return self.model(lr)

    def content_loss(self, outs: dict[int, list[tuple[float, torch.Tensor]]], targets) -> torch.Tensor:
        kind = self.cfg.pixel_loss
        per_scale = [sum(w * pixel_loss(o.float(), targets[s], kind) for w, o in preds) for s, preds in outs.items()]
        return sum(per_scale) / len(per_scale)

    def d_step(self, lr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:

        with torch.no_grad(), self._autocast():
            fake = self._outputs(lr)[self.scale][0][1]
        with self._autocast():
            loss = discriminator_loss(self.disc(hr).float(), self.disc(fake.detach()).float())
        self.dopt.zero_grad(set_to_none=True)
        loss.backward()
        self.dopt.step()
        return loss.detach()

    def g_step(self, lr: torch.Tensor, targets: dict[int, torch.Tensor]) -> dict[str, torch.Tensor]:

        cfg = self.cfg
        with self._autocast():
            outs = self._outputs(lr)
            loss = cfg.pixel_weight * self.content_loss(outs, targets)
            parts = {"pixel": loss.detach()}
            if self.disc is not None:
                fake, hr = outs[self.scale][0][1], targets[self.scale]
                disc = getattr(self.disc, "module", self.disc)
                self.disc.requires_grad_(False)
                if cfg.perceptual == "disc_features":
                    logits, f_fake = disc(fake, features=True)
                    with torch.no_grad():
                        _, f_real = disc(hr, features=True)
                    perc = sum(F.mse_loss(a.float(), b.float()) for a, b in zip(f_fake, f_real)) / len(f_fake)
                else:
                    logits = self.disc(fake)
                    perc = self.perc(fake, hr) if self.perc is not None else torch.zeros((), device=lr.device)
                adv = generator_adversarial_loss(logits.float())
                self.disc.requires_grad_(True)
                loss = loss + cfg.perceptual_weight * perc + cfg.adv_weight * adv
                parts.update(perceptual=perc.detach(), adversarial=adv.detach())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), cfg.grad_clip)
        self.opt.step()
        parts["loss"] = loss.detach()
        return parts

    @torch.no_grad()
    def _update_ema(self) -> None:
        d = self.cfg.ema
        # Early on the average would lag far behind: ramp the decay up as in TF's ExponentialMovingAverage.
        d = min(d, (1 + self.step) / (10 + self.step))
        ema_p = list(self.ema.parameters())
        net_p = list(self.net.parameters())
        torch._foreach_lerp_(ema_p, net_p, 1 - d)
        for eb, nb in zip(self.ema.buffers(), self.net.buffers()):
            eb.copy_(nb)

    def train_step(self) -> dict[str, torch.Tensor | float]:
        """One step; the losses stay on the device (reading one waits for the GPU), the log reads them."""
        lr_img, targets = self.batch(self.step)
        lr_now = lr_at(self.step, self.cfg)
        for g in self.opt.param_groups:
            g["lr"] = lr_now
        parts = {}
        if self.disc is not None:
            for g in self.dopt.param_groups:
                g["lr"] = lr_at(self.step, self.cfg, self.cfg.d_lr)
            parts["d_loss"] = self.d_step(lr_img, targets[self.scale])
        parts.update(self.g_step(lr_img, targets))
        self._update_ema()
        self.step += 1
        parts["lr"] = lr_now
        return parts

    # ---- validation, checkpoints ------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, clean: bool = False) -> dict[int, float]:
        """Mean Y-PSNR of the EMA weights on ``val_data`` at each scale (the benchmark's rules): a blind
        model on its degraded inputs, unless ``clean`` (MATLAB-bicubic inputs, as the tables measure)."""

        if self.val_files is None:
            self.val_files = dataset_images(self.cfg.val_data)
        # On the training device (a GPU validates a big model in seconds, a CPU in minutes), in plain fp32.
        module = copy.deepcopy(self.ema).float().to(self.device, memory_format=torch.contiguous_format).eval()
        res = {}
        # A blind model validates on degraded inputs, a bicubic one as the tables measure.
        blind = self.cfg.degradation == "real" and not clean
        for s in module.scales:
            scores = []
            for f in self.val_files:
                hr, lr = sr_pair(f, s, "rgb", "real", VAL_SEED) if blind else sr_pair(f, s, "y")
                rgb = np.repeat(lr, 3, axis=2) if lr.shape[2] == 1 else lr
                x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1))).float()[None].to(self.device)
                with autocast("fp32", self.device):
                    sr = module.forward_scale(x, s).clamp_(0, 1)[0].permute(1, 2, 0).cpu().numpy()
                sr = gray_of(sr) if lr.shape[2] == 1 else sr
                scores.append(psnr(quantize(sr), hr, crop=s))
            res[s] = float(np.mean(scores))
        return res

    def state_tensors(self) -> dict[str, torch.Tensor]:
        t: dict[str, torch.Tensor] = {}
        for prefix, mod in (("net", self.net), ("ema", self.ema), ("disc", self.disc)):
            if mod is not None:
                mod = getattr(mod, "module", mod)
                t.update({f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in mod.state_dict().items()})
        for prefix, opt in (("opt", self.opt), ("dopt", self.dopt)):
            if opt is not None:
                for i, st in opt.state_dict()["state"].items():
                    for k, v in st.items():
                        t[f"{prefix}.{i}.{k}"] = torch.as_tensor(v).detach().cpu().contiguous()
        return t

    def save_state(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        label = _hardware(self.device, self.cfg.bf16)
        if self.devices and self.devices[-1][0] == label:
            self.devices[-1][2] = self.step
        else:
            # A new stretch starts where the state this process resumed from ended.
            self.devices.append([label, self.devices[-1][2] if self.devices else 0, self.step])
        meta = {"step": self.step, "elapsed": self.elapsed, "config": asdict(self.cfg), "history": self.history[-50:]}
        meta["devices"] = self.devices
        meta["recipe_changes"] = self.changes
        path = save_tensors(self.out / "state.safetensors", self.state_tensors(), "train-state", meta)
        self.save_weights()
        return path

    def save_weights(self) -> Path:
        """The EMA weights, with the run's card facts, as ``model.safetensors`` beside the state."""
        last_val = next((h for h in reversed(self.history) if "val_psnr" in h), None)
        return save_checkpoint(
            self.out / "model.safetensors",
            self.ema,
            self.arch,
            self.net.config,
            steps=self.step,
            train_seconds=round(self.elapsed),
            phase=self.cfg.phase,
            data=list(self.cfg.data),
            recipe=asdict(self.cfg),
            metrics=last_val["val_psnr"] if last_val else {},
            hardware=hardware_label(self.devices),
            **({"recipe_changes": self.changes} if self.changes else {}),
            **({"val_seen": self.val_seen} if self.val_seen[0] else {}),
        )

    def _weights_current(self) -> bool:
        path = self.out / "model.safetensors"
        try:
            return path.is_file() and read_header(path, "weights").get("steps") == self.step
        except SisrError:
            return False

    def load_state(self, path: str | Path | None = None) -> None:
        path = Path(path or self.out / "state.safetensors")
        if not path.is_file():
            raise SisrError(f"{path}: no training state to resume from")
        t, meta = load_tensors(path, "train-state")
        other = "; resume with the recipe that started it, or --set out=DIR to start another run"
        saved_arch = (meta.get("config") or {}).get("arch", self.cfg.arch)
        if saved_arch != self.cfg.arch:
            raise SisrError(f"{path}: a '{saved_arch}' run, and this recipe trains '{self.cfg.arch}'{other}")
        for prefix, mod in (("net", self.net), ("ema", self.ema), ("disc", self.disc)):
            if mod is not None:
                mod = getattr(mod, "module", mod)
                sd = {k[len(prefix) + 1 :]: v for k, v in t.items() if k.startswith(prefix + ".")}
                try:
                    mod.load_state_dict(sd, strict=True)
                except RuntimeError as e:  # another model table (channels, blocks), or a phase's discriminator
                    raise SisrError(
                        f"{path}: its '{prefix}' does not fit this recipe's model ({load_mismatch(e)}){other}"
                    ) from None
        for prefix, opt in (("opt", self.opt), ("dopt", self.dopt)):
            if opt is None:
                continue
            state: dict[int, dict[str, torch.Tensor]] = {}
            for k, v in t.items():
                if k.startswith(prefix + "."):
                    _, i, name = k.split(".", 2)
                    state.setdefault(int(i), {})[name] = v
            sd = opt.state_dict()
            sd["state"] = state
            opt.load_state_dict(sd)
        self.step, self.elapsed = int(meta["step"]), float(meta["elapsed"])
        self.history = list(meta.get("history", []))
        # States saved before devices were recorded: the steps until now ran on devices unknown.
        self.devices = meta.get("devices") or ([["unrecorded", 0, self.step]] if self.step else [])
        self.changes = list(meta.get("recipe_changes", []))
        changed = recipe_changes(meta.get("config") or {}, asdict(self.cfg))
        if changed:
            self.changes.append([self.step, changed])
            if self.rank == 0:
                said = changes_text([[self.step, changed]]).replace(f"at step {self.step}: ", "")
                print(f"sisr train: resuming at step {self.step} with a changed recipe: {said}", file=sys.stderr)

    def _halt(self, stop: list) -> bool:
        """Whether to stop before the next step: this process was signalled or, under DDP, any rank
        was. The ranks must stop at the same step: one that went on would wait forever in the
        gradient all-reduce for the others."""
        if self.world == 1:
            return bool(stop)
        # Reading the flag waits for the GPU: there, ask every 8 steps (well within torchrun's 30 s
        # between its SIGTERM and a SIGKILL), so that the host keeps queueing work ahead.
        if self.device.type == "cuda" and self.step % 8:
            return False
        flag = torch.tensor([float(bool(stop))], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def prepare(self) -> None:
        """Find and check the data before anything is written (:meth:`run` does this first)."""
        # Both datasets are found before anything is written: a misnamed val_data stopped a run at
        # its first validation (step 2,000 of the recipes), with the steps since its last state lost.
        cfg, main = self.cfg, self.rank == 0
        own_data = self.sampler is None  # drawn from cfg.data (a test may hand the trainer its own)
        self._ensure_sampler()
        if main and cfg.val_every and self.val_files is None:
            self.val_files = dataset_images(cfg.val_data)
        if main and cfg.val_every:  # an image that does not read, or is too small, would stop the run there
            for f in self.val_files:
                h, w = read_image(f).pixels.shape[:2]
                for s in self.net.scales:
                    check_measurable(f, s, w, h)
        tested = [t for t in (test_set_of(d) for d in cfg.data) if t]
        if main and tested:
            print(
                f"sisr train: data holds the test set {tested[0]}: its figures will measure nothing held out",
                file=sys.stderr,
            )
        if main and cfg.val_every and test_set_of(cfg.val_data):
            print(
                f"sisr train: val_data {cfg.val_data} is a test set ({', '.join(TEST_SETS)}), measured once at the "
                "end: a checkpoint chosen on it scores it too well; validate on held-out images (BSD200:val)",
                file=sys.stderr,
            )
        if main and cfg.val_every and own_data:
            trained = {_content_key(f) for d in cfg.data for f in dataset_images(d)}
            self.val_seen = [sum(_content_key(f) in trained for f in self.val_files), len(self.val_files)]
            if self.val_seen[0]:
                print(
                    f"sisr train: {self.val_seen[0]} of the {self.val_seen[1]} images of val_data {cfg.val_data} are "
                    "training images too: its figures will not be held out",
                    file=sys.stderr,
                )

    # ---- the loop -------------------------------------------------------------------------------------
    def run(self, steps: int | None = None, progress: bool = True) -> None:

        cfg = self.cfg
        self.stopped_by = None  # the signal that ended the run before its end, if one did
        end = min(cfg.steps, self.step + steps) if steps is not None else cfg.steps
        main = self.rank == 0
        self.prepare()
        log = None
        if main:
            self.out.mkdir(parents=True, exist_ok=True)
            _trim_log(self.out / "log.jsonl", self.step)
            log = (self.out / "log.jsonl").open("a")
        if main and cfg.bf16 and self.device.type == "cpu" and not native_bf16(self.device):
            # Honoured, not dropped: but a recipe's bf16 on such a CPU costs about 10x its fp32 step time.
            print(
                "sisr train: bf16 = true, but this CPU has no native bf16 (AVX512-BF16 or AMX), so it is emulated "
                "and many times slower than fp32; add --set bf16=false",
                file=sys.stderr,
            )
        bar = tqdm(
            total=end,
            initial=self.step,
            disable=not (main and progress),
            file=sys.stderr,
            unit="step",
            dynamic_ncols=True,
        )
        last_ckpt = time.monotonic()
        t_log, n_log = time.perf_counter(), 0
        self.net.train()
        stop = []
        previous = {}
        if threading.current_thread() is threading.main_thread():
            # SIGTERM (a relay's stop, a time limit, torchrun's agent) and a first Ctrl-C end the run
            # after the current step, with its state saved; a second Ctrl-C stops at once, losing the
            # steps since the last. Under DDP the ranks agree on the step (_halt).
            def first_interrupt(*_) -> None:
                stop.append(signal.SIGINT)
                signal.signal(signal.SIGINT, signal.default_int_handler)
                if main:
                    msg = "stopping after this step, with the state saved (Ctrl-C again: at once, unsaved)"
                    bar.write(msg, file=sys.stderr)

            previous = {
                signal.SIGTERM: signal.signal(signal.SIGTERM, lambda *_: stop.append(signal.SIGTERM)),
                signal.SIGINT: signal.signal(signal.SIGINT, first_interrupt),
            }
        if main and self.step >= end and not self._weights_current():
            # A state that reached its end without its weights beside it (a GPU chunk brings back
            # only the state): the resume that has no step left to train writes them.
            self.save_weights()
        if cfg.workers > 0:  # the sampler, loaded above before the fork, is shared by the workers
            self._ahead = _Ahead(self, self.step, end, cfg.workers)
        try:
            while self.step < end:
                if self._halt(stop):
                    self.stopped_by = stop[0] if stop else signal.SIGTERM  # another rank's
                    if main:
                        self.save_state()
                        bar.write(
                            f"stopped at step {self.step} of {end}; state saved in {self.out} (--resume continues)"
                        )
                    break
                t0 = time.perf_counter()
                parts = self.train_step()
                self.elapsed += time.perf_counter() - t0
                n_log += 1
                bar.update()
                if main and (self.step % cfg.log_every == 0 or self.step == end):
                    rate = n_log / (time.perf_counter() - t_log)
                    rec = {
                        "step": self.step,
                        "steps_per_s": round(rate, 4),
                        **{k: round(float(v), 6) for k, v in parts.items()},
                    }
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.set_postfix(loss=f"{rec['loss']:.4f}")
                    t_log, n_log = time.perf_counter(), 0
                if main and cfg.val_every and (self.step % cfg.val_every == 0 or self.step == end):
                    val = self.validate()
                    rec = {"step": self.step, "val_psnr": {str(k): round(v, 4) for k, v in val.items()}}
                    msg = f"step {self.step}: {cfg.val_data} PSNR " + ", ".join(f"x{k} {v:.2f}" for k, v in val.items())
                    if cfg.degradation == "real":
                        # A blind model must stay usable on clean inputs too: the curve shows both.
                        clean = self.validate(clean=True)
                        rec["val_clean_psnr"] = {str(k): round(v, 4) for k, v in clean.items()}
                        msg += "; clean " + ", ".join(f"x{k} {v:.2f}" for k, v in clean.items())
                    self.history.append(rec)
                    log.write(json.dumps(rec) + "\n")
                    log.flush()
                    bar.write(msg)
                if main and (time.monotonic() - last_ckpt > cfg.ckpt_minutes * 60 or self.step == end):
                    self.save_state()
                    last_ckpt = time.monotonic()
        finally:
            if self._ahead is not None:
                self._ahead.close()
                self._ahead = None
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            bar.close()
            if log:
                log.close()


# Recipe keys that say where and how fast a run goes, not what it learns (bf16 is in the hardware
# label): resuming with others is no change.
_RUN_KEYS = ("out", "threads", "device", "workers", "ckpt_minutes", "log_every", "val_every", "bf16", "channels_last")


def recipe_changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list]:
    """The recipe values ``{key: [before, after]}`` a resumed run trains with that differ from the
    ones its state was saved with (a state saved before a key existed holds that key's default)."""
    defaults = asdict(TrainConfig())
    out = {}
    for k, new in after.items():
        old = before.get(k, defaults.get(k))
        if k not in _RUN_KEYS and json.dumps(old, sort_keys=True) != json.dumps(new, sort_keys=True):
            out[k] = [old, new]
    return out


def _content_key(path: Path) -> tuple[int, str]:
    """A file's size and the hash of its first 64 KiB: the same image under two names or folders
    gives the same key, without reading whole photos."""
    with open(path, "rb") as fh:
        return path.stat().st_size, hashlib.sha1(fh.read(1 << 16)).hexdigest()


def changes_text(changes: list[list]) -> str:
    """``recipe_changes`` of a weights file or state as one line: "at step 600: lr 0.001 (was 0.0005)"."""
    return "; ".join(
        f"at step {step}: " + ", ".join(f"{k} {json.dumps(b)} (was {json.dumps(a)})" for k, (a, b) in changed.items())
        for step, changed in changes
    )


def _trim_log(path: Path, step: int) -> None:
    """Drop the records past ``step``: a run killed after its last state wrote steps that its resume redoes."""

    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = [ln for ln in lines if json.loads(ln).get("step", 0) <= step]
    if len(kept) < len(lines):
        path.write_text("".join(kept))


_DRAWER: Trainer | None = None  # the trainer a forked worker inherited


def _worker_init() -> None:
    torch.set_num_threads(1)
    # A fork inherits the run's SIGTERM handler (stop after the step), which in a worker would only ignore it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A terminal's Ctrl-C reaches the workers too: the run stops them when it stops after its step.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _draw_in_worker(step: int) -> tuple[np.ndarray, np.ndarray | None]:
    assert _DRAWER is not None
    return _DRAWER.draw(step)


class _Ahead:
    """Batches for steps ``start..end-1`` drawn by forked worker processes, at most ``2 * workers`` ahead.

    Each batch is still the pure function of its step, so a run with workers draws the same data as one without.
    """

    def __init__(self, trainer: Trainer, start: int, end: int, workers: int) -> None:
        global _DRAWER
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        _DRAWER = trainer
        ctx = multiprocessing.get_context("fork")
        self.pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)
        self.next, self.end, self.depth = start, end, 2 * workers
        self.pending: dict[int, Any] = {}
        self._fill()

    def _fill(self) -> None:
        while self.next < self.end and len(self.pending) < self.depth:
            self.pending[self.next] = self.pool.submit(_draw_in_worker, self.next)
            self.next += 1

    def get(self, step: int) -> tuple[np.ndarray, np.ndarray | None] | None:
        fut = self.pending.pop(step, None)
        self._fill()
        return fut.result() if fut is not None else None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


def hardware_label(devices: list[list]) -> str:
    """One device: its label; several: each with the steps it trained, e.g. ``"NVIDIA H100 (steps
    4,316-11,000); x86_64 CPU, 1 thread (steps 0-4,149)"``, the device with most steps first."""

    spans: dict[str, list[tuple[int, int]]] = {}
    for label, first, last in devices:
        if last > first:
            spans.setdefault(label, []).append((first, last))
    if len(spans) <= 1:
        return next(iter(spans), devices[-1][0] if devices else "")
    order = sorted(spans, key=lambda k: -sum(b - a for a, b in spans[k]))
    return "; ".join(f"{k} (steps {' and '.join(f'{a:,}-{b:,}' for a, b in spans[k])})" for k in order)


def _hardware(device: torch.device, bf16: bool = False) -> str:
    """The device as a budget names it. A CPU's bf16 says how it ran: its step time is several
    times fp32's with AMX or AVX512-BF16 and a tenth of it emulated, so hours compare only so."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    n = torch.get_num_threads()
    label = f"{platform.processor() or platform.machine()} CPU, {n} thread{'s' if n > 1 else ''}"
    if not bf16:
        return label
    units = cpu_bf16_units()
    return f"{label}, bf16 ({'AMX' if 'amx_bf16' in units else 'AVX512-BF16' if units else 'emulated'})"


def _checked_start(config_path: str | None, overrides: list[str] | None, resume: bool) -> TrainConfig:
    cfg = load_config(config_path, TrainConfig, overrides)
    state = Path(cfg.out) / "state.safetensors"
    check_writable(state)  # now, not at the first checkpoint
    if not resume and state.is_file():  # a forgotten --resume would start over and overwrite it
        step = read_header(state, "train-state").get("step", "?")
        raise SisrError(f"{cfg.out}: holds a run at step {step}; --resume continues it, --set out=DIR starts another")
    return cfg


def plan(config_path: str | None, overrides: list[str] | None = None, resume: bool = False, timed: int = 3) -> str:
    """What ``sisr train`` would do with this recipe, and about how long it would take on this
    machine: the model, the data, the schedule, and ``timed`` steps and one validation timed after
    a warm-up step. Nothing is written."""
    if _dist_info()[1] > 1:
        raise SisrError("--dry-run runs in one process; run it without torchrun")
    cfg = _checked_start(config_path, overrides, resume)
    trainer = Trainer(cfg)
    if resume:
        trainer.load_state()
    trainer.prepare()
    net, start = trainer.net, trainer.step
    left = max(0, cfg.steps - start)
    files = sum(len(dataset_images(d)) for d in cfg.data)
    params = sum(p.numel() for p in net.parameters())
    lines = [
        f"model: {cfg.arch} {json.dumps(asdict(net.config))}, {params:,} parameters, "
        + ", ".join(f"x{s}" for s in net.scales)
        + (f"; from {cfg.init}" if cfg.init else ""),
        f"data: {files} file{'s' * (files != 1)} in {', '.join(cfg.data)} ({len(trainer.sampler.images)} images with "
        f"their scale_aug copies); batch {cfg.batch} of {cfg.patch * trainer.scale} px HR patches, phase {cfg.phase}",
        f"schedule: steps {start:,} to {cfg.steps:,}, lr {cfg.lr:g} ({cfg.schedule}"
        + (f" to {cfg.lr_min:g}" if cfg.schedule == "cosine" else "")
        + f", {cfg.warmup} warm-up steps)",
    ]
    if cfg.val_every:
        n = len(trainer.val_files)
        lines.append(f"validation: {n} image{'s' * (n != 1)} of {cfg.val_data}, every {cfg.val_every:,} steps")
    trainer.net.train()
    trainer.train_step()  # the first step allocates and picks kernels
    t0 = time.perf_counter()
    for _ in range(timed):
        trainer.train_step()
    step_s = (time.perf_counter() - t0) / timed
    vals = (left // cfg.val_every + (left % cfg.val_every > 0)) if cfg.val_every and left else 0
    val_s = 0.0
    if vals:
        t0 = time.perf_counter()
        trainer.validate()
        if cfg.degradation == "real":  # a blind run validates on clean inputs too
            trainer.validate(clean=True)
        val_s = time.perf_counter() - t0
    here = f"here ({_hardware(trainer.device, cfg.bf16)}): {step_s:.3g} s a step"
    lines.append(here + (f", {val_s:.3g} s a validation" if vals else ""))
    total = left * step_s + vals * val_s
    lines.append(f"about {_hours(total)} for the {left:,} steps left" + (f" and {vals} validations" if vals else ""))
    lines.append(f"writes {cfg.out}/ (state every {cfg.ckpt_minutes:g} min); nothing was written now")
    return "\n".join(lines)


def _hours(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def train(config_path: str | None, overrides: list[str] | None = None, resume: bool = False) -> Trainer:

    cfg = _checked_start(config_path, overrides, resume)
    trainer = Trainer(cfg)
    if resume:
        trainer.load_state()
    trainer.run()
    if torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()
    return trainer
