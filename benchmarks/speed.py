"""Inference speed of a model on a 256 x 256 input: seconds per output megapixel, and efficiency.

    python benchmarks/speed.py [--model rrgan-x4] [--size 256] [--repeat 5] [--json FILE]

Measures, in one run: torch fp32 (channels-last), torch bf16 autocast, and
onnxruntime; the conv GFLOP/s each achieves (conv FLOPs counted from the
model's layers), and the machine's peak as a large fp32 and bf16 matmul
measured in the same run, so the efficiency is a ratio, not a guess.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sisr.infer import load_model
from sisr.precision import autocast, native_bf16


class CompactReference(nn.Module):
    """Real-ESRGAN's compact model layout (SRVGGNetCompact, as ``realesr-general-x4v3``: 64 features,
    32 body convs, PReLU, pixel shuffle, nearest-upsampled input added), random weights: the CPU
    peer a blind model is timed against. Written here from its published description."""

    def __init__(self, scale: int = 4, feats: int = 64, convs: int = 32) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, feats, 3, padding=1), nn.PReLU(feats)]
        for _ in range(convs):
            layers += [nn.Conv2d(feats, feats, 3, padding=1), nn.PReLU(feats)]
        layers += [nn.Conv2d(feats, 3 * scale * scale, 3, padding=1), nn.PixelShuffle(scale)]
        self.body, self.scale = nn.Sequential(*layers), scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + nn.functional.interpolate(x, scale_factor=self.scale, mode="nearest")


def conv_flops(module: nn.Module, x: torch.Tensor, scale: int) -> int:
    total = 0

    def hook(m, inp, out):
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        total += 2 * (m.in_channels // m.groups) * k * out.shape[1] * out.shape[2] * out.shape[3] * out.shape[0]

    hs = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module(x) if scale is None else module.forward_scale(x, scale)
    for h in hs:
        h.remove()
    return total


def timed(fn, repeat: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def matmul_peak(dtype: torch.dtype, n: int = 2048, repeat: int = 5) -> float:
    a, b = torch.rand(n, n).to(dtype), torch.rand(n, n).to(dtype)
    return 2 * n**3 / timed(lambda: a @ b, repeat) / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="model name (default: the default model)")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json")
    ap.add_argument("--bf16", action="store_true", help="measure bf16 even where the CPU only emulates it")
    args = ap.parse_args()
    img = np.random.default_rng(0).random((args.size, args.size, 3)).astype(np.float32)
    base = load_model(args.model, tile=0)
    x = torch.from_numpy(img.transpose(2, 0, 1).copy())[None]
    flops = conv_flops(base.module, x, base.scale)
    out_mp = (args.size * base.scale) ** 2 / 1e6
    # Emulated bf16 (no AVX512-BF16/AMX) is many times slower and not what anyone would run: skipped.
    with_bf16 = args.bf16 or native_bf16("cpu")
    precisions = ("fp32", "bf16") if with_bf16 else ("fp32",)
    peak = {"fp32": matmul_peak(torch.float32)}
    if with_bf16:
        peak["bf16"] = matmul_peak(torch.bfloat16)
    rows = {}
    for name, opts in (
        ("torch fp32", {"precision": "fp32"}),
        *((("torch bf16", {"precision": "bf16"}),) if with_bf16 else ()),
        ("onnxruntime fp32", {"backend": "onnx"}),
    ):
        up = load_model(args.model, tile=0, **opts)
        sec = timed(lambda up=up: up(img), args.repeat)
        gflops = flops / sec / 1e9
        ref = peak["bf16" if "bf16" in name else "fp32"]
        rows[name] = {
            "seconds": sec,
            "s_per_output_mp": sec / out_mp,
            "conv_gflops": gflops,
            "fraction_of_peak": gflops / ref,
        }
    ref = CompactReference(base.scale).eval().to(memory_format=torch.channels_last)
    print(f"reference: compact layout, {sum(p.numel() for p in ref.parameters()) / 1e6:.2f}M parameters")
    xr = x.contiguous(memory_format=torch.channels_last)
    for precision in precisions:

        def run_ref(precision=precision):
            with torch.no_grad(), autocast(precision):
                return ref(xr)

        sec = timed(run_ref, args.repeat)
        rows[f"reference compact {precision}"] = {
            "seconds": sec,
            "s_per_output_mp": sec / out_mp,
            "conv_gflops": conv_flops(ref, x, None) / sec / 1e9,
            "fraction_of_peak": conv_flops(ref, x, None) / sec / 1e9 / peak[precision],
        }
    print(
        f"model {base.name} x{base.scale}, {args.size}x{args.size} -> {args.size * base.scale}px, "
        f"{flops / 1e9:.1f} conv GFLOP per image, torch {torch.__version__}, {torch.get_num_threads()} threads"
    )
    bf16_peak = f"{peak['bf16']:.0f} GFLOP/s" if with_bf16 else "not measured (no native bf16 on this CPU)"
    print(f"matmul peak: fp32 {peak['fp32']:.0f} GFLOP/s, bf16 {bf16_peak}\n")
    print("| backend | s/image | s per output MP | conv GFLOP/s | of matmul peak |\n|---|---:|---:|---:|---:|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['seconds']:.3f} | {r['s_per_output_mp']:.3f} | {r['conv_gflops']:.0f} | "
            f"{r['fraction_of_peak']:.0%} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"model": base.name, "peak_gflops": peak, "results": rows}, indent=1))


if __name__ == "__main__":
    main()
