"""The ``sisr`` command: parses arguments, calls the Python API, prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sisr.errors import SisrError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def cmd_models(args: argparse.Namespace) -> int:
    from sisr.models import DEFAULT_MODEL, PRETRAINED, REGISTRY, WEIGHTLESS

    print("models (use with --model):")
    for name, desc in WEIGHTLESS.items():
        print(f"  {name:<16} {desc}{'  [default]' if name == DEFAULT_MODEL else ''}")
    for name, (_, desc) in PRETRAINED.items():
        print(f"  {name:<16} {desc}{'  [default]' if name == DEFAULT_MODEL else ''}")
    print("architectures (for training and .safetensors files): " + ", ".join(REGISTRY))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from sisr.bench import parse_scales, run_bench, to_markdown

    report = run_bench(
        _csv(args.models), _csv(args.data), parse_scales(args.scale), progress=not args.quiet, protocol=args.protocol
    )
    table = to_markdown(report, per_image=args.per_image)
    print(table)
    if args.json:
        _write_text(args.json, json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown:
        _write_text(args.markdown, table + "\n")
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


def _write_text(path: str, text: str) -> None:
    import os
    import tempfile

    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, p)
    except OSError as e:
        raise SisrError(f"{p}: cannot write ({e.strerror or e})") from None


def cmd_upscale(args: argparse.Namespace) -> int:
    from sisr.api import upscale_data
    from sisr.infer import load_model
    from sisr.io import read_image, write_image

    up = load_model(args.model, scale=args.scale)
    inputs = [Path(p) for p in args.inputs]
    out = Path(args.output)
    if len(inputs) > 1 or out.is_dir() or not out.suffix:
        targets = [out / f"{p.stem}_x{up.scale}.png" for p in inputs]
    else:
        targets = [out]
    failed = 0
    for src, dst in zip(inputs, targets):
        try:
            if dst.exists() and not args.overwrite:
                raise SisrError(f"{dst}: exists (use --overwrite to replace it)")
            result = upscale_data(read_image(src), up)
            write_image(dst, result, overwrite=True)
            note = " - bicubic interpolation: no trained model ships yet" if up.name == "bicubic" else ""
            print(f"{src} -> {dst} ({up.name}, x{up.scale}){note}")
        except SisrError as e:
            if len(inputs) == 1:
                raise
            print(f"sisr: error: {e}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


def cmd_train(args: argparse.Namespace) -> int:
    from sisr.train.supervised import train

    trainer = train(args.config, args.set, resume=args.resume)
    if trainer.rank == 0:
        print(f"trained to step {trainer.step}; weights in {trainer.out / 'model.safetensors'}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sisr import __version__

    parser = _Parser(prog="sisr", description="Single-image super-resolution.")
    parser.add_argument("--version", action="version", version=f"sisr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("models", help="list the available models")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("bench", help="PSNR/SSIM of models on benchmark datasets")
    p.add_argument("--models", default="bicubic", help="comma-separated model names or .safetensors paths")
    p.add_argument(
        "--data", default="Set5,Set14,BSD100", help="comma-separated dataset names (under $SISR_DATA) or paths"
    )
    p.add_argument("--scale", default="4", help="comma-separated scales, e.g. 2,3,4")
    p.add_argument("--json", help="write the full results (with per-image rows) as JSON")
    p.add_argument("--markdown", help="write the tables as Markdown")
    p.add_argument("--per-image", action="store_true", help="add per-image tables")
    p.add_argument(
        "--protocol",
        choices=["rgb", "y"],
        default="y",
        help="LR synthesis: y = bicubic of the 8-bit luma, as in the published SRCNN/VDSR/DRCN/DRRN "
        "tables (default); rgb = bicubic of the 8-bit RGB image, as in EDSR and later",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("upscale", help="upscale images")
    p.add_argument("inputs", nargs="+", help="image files")
    p.add_argument("-o", "--output", required=True, help="output file (one input) or folder")
    p.add_argument("--model", default=None, help="model name or .safetensors path (default: the default model)")
    p.add_argument("--scale", type=int, default=None, help="output scale (default: the model's largest)")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.set_defaults(func=cmd_upscale)
    p = sub.add_parser("train", help="train a model from a TOML recipe (works under torchrun)")
    p.add_argument("config", help="recipe, e.g. configs/rrgan_x4_psnr.toml")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe value")
    p.add_argument("--resume", action="store_true", help="continue from the run folder's state.safetensors")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except SisrError as e:
        print(f"sisr: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sisr: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
