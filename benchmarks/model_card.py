"""Write a shipped model's card from its weights metadata and a ``sisr bench --json`` report.

python benchmarks/model_card.py rrgan-x4 --bench benchmarks/results/rrgan-x4.json [--notes FILE] [--log LOG]

``--log`` takes the run's ``log.jsonl`` and appends its validation curve.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from sisr.checkpoint import VAL_SEED, blind_recipe
from sisr.infer import load_model
from sisr.models import PRETRAINED
from sisr.train.supervised import changes_text, validation_curve

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "sisr" / "weights"


def data_note(data: list[str]) -> str:
    return " (the 291 images)" if sorted(data) == ["BSD200", "T91"] else ""


def lr_note(recipe: dict) -> str:
    if blind_recipe(recipe):
        return "the degradation model (`sisr.degrade`: blur, resize, noise, JPEG in two stages)"
    return "MATLAB bicubic"


def val_label(recipe: dict) -> str:
    data = recipe.get("val_data", "Set5")
    return f"{data} degraded, seed {VAL_SEED}" if blind_recipe(recipe) else data


def init_row(recipe: dict) -> list[str]:
    """The weights a run started from (phase 2 from phase 1; a grown model from a smaller one)."""
    if not recipe.get("init"):
        return []
    how = " (grown: the new blocks or stages started as identities; steps and time above are this run's only)"
    return [f"| initialised from | `{recipe['init']}`{how if recipe.get('grow') else ''} |"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--bench", required=True, help="JSON written by sisr bench")
    ap.add_argument("--notes", help="a Markdown file appended to the card")
    ap.add_argument("--log", help="the training run's log.jsonl: its validation curve is appended")
    args = ap.parse_args()
    up = load_model(args.name)
    meta = up.meta
    params = sum(p.numel() for p in up.module.parameters())
    report = json.loads(Path(args.bench).read_text())
    recipe = meta.get("recipe", {})
    data = meta.get("data", [])
    lines = [
        f"# {args.name}",
        "",
        PRETRAINED[args.name][1] + ".",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{meta.get('arch') or recipe.get('arch', '')}` {json.dumps(up.module.config.__dict__)} |",
        f"| parameters | {params:,} |",
        f"| output scales | {', '.join(f'x{s}' for s in up.scales)} |",
        f"| training data | {', '.join(data)}{data_note(data)}, LR by {lr_note(recipe)} |",
        f"| phase | {meta.get('phase')} (pixel loss: {recipe.get('pixel_loss')}) |",
        f"| steps | {meta.get('steps'):,} of batch {recipe.get('batch')} x {recipe.get('patch')} px LR patches |",
        *init_row(recipe),
        *(
            [f"| recipe changed on resume | {changes_text(meta['recipe_changes'])} |"]
            if meta.get("recipe_changes")
            else []
        ),
        f"| training time | {meta.get('train_seconds', 0) / 3600:.2f} h of step time |",
        f"| hardware | {meta.get('hardware')} |",
        f"| validation ({val_label(recipe)}, EMA weights, Y-PSNR) | "
        + ", ".join(f"x{k} {v:.2f} dB" for k, v in (meta.get("metrics") or {}).items())
        + " |",
        f"| sisr version | {meta.get('sisr_version')} |",
        "",
        f"## Benchmark (`sisr bench`, protocol {report.get('protocol', 'y')})",
        "",
        "| dataset | scale | PSNR (dB) | SSIM | bicubic PSNR | bicubic SSIM |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    bic = {(r["dataset"], r["scale"]): r for r in report["results"] if r["model"] == "bicubic"}
    for r in report["results"]:
        if r["model"] == args.name:
            b = bic.get((r["dataset"], r["scale"]))
            ref = f"{b['psnr_y']:.2f} | {b['ssim_y']:.4f}" if b else "- | -"
            lines.append(f"| {r['dataset']} | x{r['scale']} | {r['psnr_y']:.2f} | {r['ssim_y']:.4f} | {ref} |")
    # How the last process ran (threads, batch-drawing workers, state saves), not what it learned.
    skip = {"model", "out", "val_data", "log_every", "threads", "device", "workers", "ckpt_minutes"}
    if recipe.get("phase") == "psnr":
        skip |= {k for k in recipe if k.startswith(("perceptual", "vgg", "adv", "disc", "d_lr"))}
    lines += [
        "",
        f"Reproduce the table: `sisr bench --models {','.join(dict.fromkeys(['bicubic', args.name]))}"
        f" --data Set5,Set14,BSD100 --scale {','.join(str(s) for s in up.scales)}`",
    ]
    lines += ["", "Recipe: " + ", ".join(f"{k}={v}" for k, v in recipe.items() if k not in skip), ""]
    if args.notes:
        lines += [Path(args.notes).read_text().strip(), ""]
    if args.log:
        lines += validation_curve(Path(args.log), val_label(recipe))
    out = WEIGHTS / (Path(PRETRAINED[args.name][0]).stem + ".md")
    out.write_text("\n".join(lines))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
