"""Tiny generated data and recipes for training tests."""

from pathlib import Path

import numpy as np

from sisr.data import PatchSampler
from sisr.io import write_image
from sisr.train.supervised import TrainConfig, Trainer


def tiny_images(photo: np.ndarray) -> list[np.ndarray]:
    return [photo[:128, :128], photo[128:256, 100:228], photo[300:400, 300:420]]


def tiny_val(tmp: Path, photo: np.ndarray) -> list[Path]:
    d = tmp / "Val" / "HR"
    d.mkdir(parents=True, exist_ok=True)
    write_image(d / "v.png", photo[400:464, 100:164])
    return [d / "v.png"]


def tiny_config(tmp: Path, **kw) -> TrainConfig:
    base = dict(
        model={"channels": 8, "blocks": 1, "recursions": 2},
        patch=12,
        batch=2,
        steps=20,
        val_every=10,
        log_every=5,
        warmup=2,
        out=str(tmp / "run"),
        bf16=False,
        threads=1,
        scale_aug=(1.0, 0.8),
        gray_prob=0.3,
    )
    base.update(kw)
    return TrainConfig(**base)


def tiny_trainer(tmp: Path, photo: np.ndarray, **kw) -> Trainer:
    cfg = tiny_config(tmp, **kw)
    sampler = PatchSampler(tiny_images(photo), cfg.patch * 4, scale_aug=cfg.scale_aug, gray_prob=cfg.gray_prob)
    return Trainer(cfg, sampler=sampler, val_files=tiny_val(tmp, photo))
