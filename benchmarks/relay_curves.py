"""Where each run of the training queue stands: its held-out validation curves, as one PNG.

    python benchmarks/relay_curves.py -o assets/relay_curves.png \
        --log vdsr-y=benchmarks/cards/logs/vdsr-y.jsonl

One panel per open run with two validations or more in its committed log
(``checkpoints/<name>/log.jsonl``), in the queue's order, and per ``--log NAME=PATH`` (a finished
run's log, kept beside its card): the validation Y-PSNR against the step, one line per scale, on
the set the run validates on (held out from its training; a run's several scales as each one's
gain since its first validation); an open run's axis runs to its target, so the empty part is
what is left.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tools"))
import relay  # noqa: E402  (the queue helpers; they also put the checkout's sisr on the path)

COLOURS = {"2": (31, 119, 180), "3": (44, 160, 44), "4": (214, 39, 40)}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 460, 290, 62, 14, 52, 38


def curve(log: Path) -> dict[str, list[tuple[int, float]]]:
    """``{scale: [(step, dB), ...]}`` of a training log's validations."""
    out: dict[str, list[tuple[int, float]]] = {}
    for line in log.read_text().splitlines():
        if '"val_psnr"' in line:
            rec = json.loads(line)
            for s, v in rec["val_psnr"].items():
                out.setdefault(s, []).append((rec["step"], v))
    return out


def panels(extra: list[tuple[str, Path]]) -> list[dict]:
    """The queue's open runs with a committed log, then ``extra``: name, curve, x range, set."""
    out = []
    for run in relay.open_runs(relay.read_queue()):
        log = relay.folders(run)[1] / "log.jsonl"
        c = curve(log) if log.is_file() else {}
        if max(map(len, c.values()), default=0) < 2:
            continue  # no curve yet
        title = f"{run['name']} (on {relay.recipe(run).get('val_data', 'BSD200:val')}; target {run['target']:,})"
        out.append({"title": title, "curve": c, "end": run["target"]})
    for name, log in extra:
        if not (c := curve(log)):
            raise SystemExit(f"relay_curves: {log}: no validation in it")
        out.append({"title": f"{name} (finished)", "curve": c, "end": max(s for pts in c.values() for s, _ in pts)})
    return out


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    step = (hi - lo) / n
    return [lo + k * step for k in range(n + 1)]


def draw_panel(p: dict, font, small) -> Image.Image:
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    curves = p["curve"]
    if len(curves) > 1:  # scales dB apart on one axis would be flat lines: each as its gain since its first
        curves = {s: [(t, v - pts[0][1]) for t, v in pts] for s, pts in curves.items()}
    values = [v for pts in curves.values() for _, v in pts]
    lo, hi = min(values), max(values)
    span = max(hi - lo, 0.02)
    lo, hi = lo - 0.08 * span, hi + 0.08 * span
    x0, x1, y0, y1 = PAD_L, W - PAD_R, H - PAD_B, PAD_T

    def xy(step: int, v: float) -> tuple[float, float]:
        return x0 + (x1 - x0) * step / p["end"], y0 - (y0 - y1) * (v - lo) / (hi - lo)

    d.text((8, 8), p["title"], fill="black", font=font)
    for v in _ticks(lo, hi):
        y = xy(0, v)[1]
        d.line([(x0, y), (x1, y)], fill=(230, 230, 230))
        d.text(
            (x0 - 6, y), f"{v:+.2f}" if curves is not p["curve"] else f"{v:.2f}", fill="black", font=small, anchor="rm"
        )
    for s in _ticks(0, p["end"]):
        x = xy(int(s), lo)[0]
        d.line([(x, y0), (x, y0 + 4)], fill="black")
        d.text((x, y0 + 6), f"{s / 1000:,.0f}k", fill="black", font=small, anchor="ma")
    d.rectangle([x0, y1, x1, y0], outline="black")
    legend = 8
    for scale, pts in sorted(curves.items()):
        colour = COLOURS.get(scale.split()[0], (90, 90, 90))
        line = [xy(s, v) for s, v in pts]
        if len(line) > 1:
            d.line(line, fill=colour, width=2)
        for x, y in line[-1:]:
            d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=colour)
        last = p["curve"][scale][-1]
        label = f"x{scale} {last[1]:.2f} dB at {last[0]:,}"
        d.text((legend, 28), label, fill=colour, font=small)
        legend += d.textlength(label, font=small) + 14
    if curves is not p["curve"]:
        d.text((x1 - 6, y0 - 4), "dB gained since the first validation", fill=(90, 90, 90), font=small, anchor="rd")
    d.text((x1, H - 4), "step", fill="black", font=small, anchor="rd")
    return img


def figure(items: list[dict], columns: int = 2) -> Image.Image:
    font, small = ImageFont.load_default(size=14), ImageFont.load_default(size=12)
    rows = (len(items) + columns - 1) // columns
    fig = Image.new("RGB", (W * min(columns, len(items)), H * rows), "white")
    for k, p in enumerate(items):
        fig.paste(draw_panel(p, font, small), ((k % columns) * W, (k // columns) * H))
    return fig


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", "--out", type=Path, required=True)
    ap.add_argument("--log", action="append", default=[], metavar="NAME=PATH", help="a finished run's log")
    args = ap.parse_args()
    extra = []
    for item in args.log:
        name, _, path = item.partition("=")
        if not path or not Path(path).is_file():
            raise SystemExit(f"relay_curves: --log {item}: give NAME=PATH of a log file")
        extra.append((name, Path(path)))
    items = panels(extra)
    if not items:
        raise SystemExit("relay_curves: no run with a validation log")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    figure(items).save(args.out)
    print(f"relay_curves: {len(items)} panels -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
