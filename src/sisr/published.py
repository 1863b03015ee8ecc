"""Published figures that the benchmark tables print beside the measured ones.

Y-channel PSNR (dB) / SSIM on the field's convention (MATLAB bicubic LR, border
of ``scale`` px cropped), keyed by the sisr model name, dataset and scale.
Sources: the bicubic rows ("field convention") are from Kim et al., CVPR 2016
(VDSR), Table 3; the baselines' x4 PSNR and SSIM are from their papers' tables:
SRCNN (Dong et al., TPAMI 2016) and VDSR as reported in Kim et al., CVPR 2016
(VDSR, Table 3); DRCN (Kim et al., CVPR 2016); SRResNet and SRGAN
(Ledig et al., CVPR 2017, Table 2). RR-GAN's row is its paper's claim (Wang et al.
2020, Table 1), measured on a different convention: that paper prints bicubic
x4 Set5 at 30.01 dB where the field's convention gives 28.42 dB.
"""

from __future__ import annotations

# (model, dataset, scale) -> (psnr, ssim or None, source)
PUBLISHED: dict[tuple[str, str, int], tuple[float, float | None, str]] = {}


_ROWS = [
    # model, scale, source, (Set5, Set14, BSD100) as (psnr, ssim)
    ("bicubic", 2, "field convention", ((33.66, 0.9299), (30.24, 0.8688), (29.56, 0.8431))),
    ("bicubic", 3, "field convention", ((30.39, 0.8682), (27.55, 0.7742), (27.21, 0.7385))),
    ("bicubic", 4, "field convention", ((28.42, 0.8104), (26.00, 0.7027), (25.96, 0.6675))),
    ("srcnn", 4, "Dong et al. 2016", ((30.48, 0.8628), (27.50, 0.7513), (26.90, 0.7101))),
    ("vdsr", 4, "Kim et al. 2016 (VDSR)", ((31.35, 0.8838), (28.01, 0.7674), (27.29, 0.7251))),
    ("drcn", 4, "Kim et al. 2016 (DRCN)", ((31.53, 0.8854), (28.02, 0.7670), (27.23, 0.7233))),
    ("srresnet", 4, "Ledig et al. 2017", ((32.05, 0.9019), (28.49, 0.8184), (27.58, 0.7620))),
    ("srgan", 4, "Ledig et al. 2017", ((29.40, 0.8472), (26.02, 0.7397), (25.16, 0.6688))),
    ("rrgan-gan-x4", 4, "Wang et al. 2020 (own convention)", ((32.55, None), (28.88, None), (27.84, None))),
]
for _model, _scale, _source, _figures in _ROWS:
    for _dataset, (_p, _s) in zip(("Set5", "Set14", "BSD100"), _figures):
        PUBLISHED[(_model, _dataset, _scale)] = (_p, _s, _source)

__all__ = ["PUBLISHED"]
