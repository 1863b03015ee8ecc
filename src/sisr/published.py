"""Published figures that the benchmark tables print beside the measured ones.

Y-channel PSNR (dB) / SSIM on the field's convention (MATLAB bicubic LR, border
of ``scale`` px cropped), keyed by the sisr model name, dataset and scale.
Sources: the bicubic rows and the baselines' x4 PSNR are those of the project's
DESIGN.md (the field's convention); the baselines' SSIM are from the same
papers' tables: SRCNN (Dong et al., TPAMI 2016) and VDSR as reported in Kim et al.,
CVPR 2016 (VDSR, Table 3); DRCN (Kim et al., CVPR 2016); SRResNet and SRGAN
(Ledig et al., CVPR 2017, Table 2). RR-GAN's row is its paper's claim (Wang et al.
2020, Table 1), measured on a different convention: that paper prints bicubic
x4 Set5 at 30.01 dB where the field's convention gives 28.42 dB.
"""

from __future__ import annotations

# (model, dataset, scale) -> (psnr, ssim or None, source)
PUBLISHED: dict[tuple[str, str, int], tuple[float, float | None, str]] = {}


def _add(model: str, scale: int, source: str, rows: dict[str, tuple[float, float | None]]) -> None:
    for dataset, (p, s) in rows.items():
        PUBLISHED[(model, dataset, scale)] = (p, s, source)


_add("bicubic", 2, "field convention", {"Set5": (33.66, 0.9299), "Set14": (30.24, 0.8688), "BSD100": (29.56, 0.8431)})
_add("bicubic", 3, "field convention", {"Set5": (30.39, 0.8682), "Set14": (27.55, 0.7742), "BSD100": (27.21, 0.7385)})
_add("bicubic", 4, "field convention", {"Set5": (28.42, 0.8104), "Set14": (26.00, 0.7027), "BSD100": (25.96, 0.6675)})
_add("srcnn", 4, "Dong et al. 2016", {"Set5": (30.48, 0.8628), "Set14": (27.50, 0.7513), "BSD100": (26.90, 0.7101)})
_add("vdsr", 4, "Kim et al. 2016 (VDSR)", {"Set5": (31.35, 0.8838), "Set14": (28.01, 0.7674), "BSD100": (27.29, 0.7251)})
_add("drcn", 4, "Kim et al. 2016 (DRCN)", {"Set5": (31.53, 0.8854), "Set14": (28.02, 0.7670), "BSD100": (27.23, 0.7233)})
_add("srresnet", 4, "Ledig et al. 2017", {"Set5": (32.05, 0.9019), "Set14": (28.49, 0.8184), "BSD100": (27.58, 0.7620)})
_add("srgan", 4, "Ledig et al. 2017", {"Set5": (29.40, 0.8472), "Set14": (26.02, 0.7397), "BSD100": (25.16, 0.6688)})
_add("rrgan-gan-x4", 4, "Wang et al. 2020 (own convention)", {"Set5": (32.55, None), "Set14": (28.88, None), "BSD100": (27.84, None)})

__all__ = ["PUBLISHED"]
