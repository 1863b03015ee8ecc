"""The ``sisr`` command: parses arguments, calls the Python API, prints.

Each command imports what it needs inside its function, so that ``sisr --help``,
``sisr models`` and argument errors answer without loading torch.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import sys
import time
from pathlib import Path

from sisr.atomic import check_writable, write_atomic
from sisr.errors import SisrError, closed_pipe


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        sys.exit(2)


def _csv(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


_DEVICE_HELP = "auto (default: a CUDA GPU where there is one, else the CPU; zero-shot: its settings'), cpu, cuda[:N]"


def _weights_summary(up) -> str:
    """What a weights file's header says of it: architecture, size, training and validation."""
    from sisr.bench import budget_cell, training_budget
    from sisr.checkpoint import read_header
    from sisr.infer import weights_path
    from sisr.train.supervised import changes_text

    d, meta = up.descriptor, up.meta
    head = read_header(weights_path(d.name), "weights")
    recipe = meta.get("recipe") or {}
    seen = meta.get("val_seen")
    seen = f"; not held out: {seen[0]} of its {seen[1]} images are training images" if seen else ""
    rows = [
        ("architecture", f"{head['arch']} {json.dumps(head['config'])}"),
        ("parameters", f"{d.params:,}"),
        ("output scales", ", ".join(f"x{s}" for s in d.scales)),
        ("training data", ", ".join(meta.get("data") or []) or "not recorded"),
        ("training budget (steps x batch, step time, hardware)", budget_cell(training_budget(meta), False)),
        (
            f"last validation ({recipe.get('val_data', 'set not recorded')}{seen}, Y-PSNR)",
            ", ".join(f"x{k} {v:.2f} dB" for k, v in (meta.get("metrics") or {}).items()) or "none",
        ),
        ("phase", str(meta.get("phase", "not recorded")) + (f", from {recipe['init']}" if recipe.get("init") else "")),
    ]
    if meta.get("recipe_changes"):  # the recipe above is the last stretch's
        rows.append(("recipe changed on resume", changes_text(meta["recipe_changes"])))
    return "\n".join([f"# {Path(d.name).name}", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def _pyramid_summary(up) -> str:
    """What a saved zero-shot pyramid is: its method, the image it was trained on, its settings."""
    pyr, (h, w) = up.pyramid, up.pyramid.sizes[-1]
    cfg = pyr.cfg
    rows = [
        ("method", f"{cfg.method} (preset {cfg.preset}; {cfg.iters} iterations per scale)"),
        ("trained on", f"{pyr.source or 'one image'}, {w}x{h}, which it enlarges again at any scale"),
        ("pyramid scales", f"{len(pyr.sizes)}, from {pyr.sizes[0][1]}x{pyr.sizes[0][0]}"),
        ("parameters", f"{up.descriptor.params:,}"),
        ("training time", f"{pyr.seconds / 60:.1f} min"),
    ]
    return "\n".join([f"# {Path(up.name).name}", "", "| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows)])


def cmd_models(args: argparse.Namespace) -> int:
    from sisr.models import DEFAULT_MODEL, PRETRAINED, REGISTRY, WEIGHTLESS, ZEROSHOT

    if args.name:  # one model: its card (shipped models), else what its descriptor says
        from sisr.infer import describe, load_model, model_card
        from sisr.models import unknown_model

        if args.json:
            raise SisrError("--json lists every model; give no name with it")
        if (args.name.endswith(".safetensors") or Path(args.name).exists()) and not args.name.endswith(".onnx"):
            up = load_model(args.name)
            if up.meta.get("kind") == "pyramid":  # a zero-shot pyramid that --save-model kept
                print(_pyramid_summary(up))
                return 0
            print(_weights_summary(up))  # one's own trained weights
            log = Path(args.name) / "log.jsonl"
            if log.is_file():  # a training run's folder: how validation went
                from sisr.train.supervised import validation_curve

                val_data = (up.meta.get("recipe") or {}).get("val_data", "set not recorded")
                print("\n" + "\n".join(validation_curve(log, val_data)).rstrip())
            return 0
        if args.name not in [*WEIGHTLESS, *PRETRAINED, *ZEROSHOT] and not args.name.endswith(".onnx"):
            raise SisrError(unknown_model(args.name) + "; or a .safetensors path or a training run's folder)")
        card = model_card(args.name) if args.name in PRETRAINED else None
        if card is None:
            d = describe(args.name) if args.name in ZEROSHOT else load_model(args.name).descriptor
            scales = "any integer" if d.any_scale else ", ".join(f"x{s}" for s in d.scales)
            card = (
                f"# {d.name}\n\n{d.description}.\n\n{d.kind}; scales: {scales}; precisions: {', '.join(d.precisions)}"
            )
        print(card.rstrip())
        return 0
    if args.json:  # what each model can do, for a script: its descriptor, as the web app's /api/models
        import dataclasses

        from sisr.infer import descriptors

        rows = [dataclasses.asdict(d) | {"default": d.name == DEFAULT_MODEL} for d in descriptors()]
        print(json.dumps(rows, indent=1))
        return 0
    rows = [*WEIGHTLESS.items(), *((name, desc) for name, (_, desc) in PRETRAINED.items()), *ZEROSHOT.items()]
    width = max(len(name) for name, _ in rows)
    print("models (use with --model):")
    for name, desc in rows:
        print(f"  {name:<{width}}  {desc}{'  [default]' if name == DEFAULT_MODEL else ''}")
    print("architectures (for training and .safetensors files): " + ", ".join(REGISTRY))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from sisr.bench import output_label, parse_scales, run_bench, to_markdown
    from sisr.config import parse_overrides

    for target in (args.json, args.markdown):  # before a run that can take hours, not after it
        if target:
            check_writable(target)
    if args.from_json:
        if args.save:
            raise SisrError("--save writes the images a run measures; --from-json measures none")
        for opt, given in (("--models", args.models), ("--outputs", args.outputs)):
            if given is not None:  # the tables come from the reports; a list here would be dropped
                raise SisrError(f"{opt} names what to measure; --from-json measures none (its reports name the rows)")
        report = _merge_reports(_csv(args.from_json), _renames(args.rename))
    else:
        if args.rename:
            raise SisrError("--rename names the rows of reports merged with --from-json; give it with them")
        outputs = _csv(args.outputs or "")
        models = _csv(args.models if args.models is not None else "" if outputs else "bicubic")
        rows = models + [output_label(o) for o in outputs]
        if args.against is not None and args.against not in rows:
            given = "--models or --outputs" if outputs else "--models"
            raise SisrError(f"--against {args.against}: not one of {given} ({', '.join(rows)})")
        report = run_bench(
            models,
            _csv(args.data),
            parse_scales(args.scale),
            progress=not args.quiet,
            protocol=args.protocol,
            settings=parse_overrides(args.set),
            degradation=args.degradation,
            seed=args.seed,
            precision=args.precision or "fp32",
            device=args.device,
            denoise=args.denoise,
            ensemble=args.ensemble,
            jobs=args.jobs,
            save=args.save,
            outputs=outputs,
        )
    against = args.against
    if against is not None and not args.from_json:  # its row's label: with @x8 or @denoise=... as run
        against = next(r["model"] for r in report["results"] if r["model"].split("@")[0] == against)
    table = to_markdown(report, per_image=args.per_image, against=against)
    print(table)
    if args.json:
        write_atomic(args.json, json.dumps(report, indent=1) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.markdown:
        write_atomic(args.markdown, table + "\n")
        print(f"wrote {args.markdown}", file=sys.stderr)
    return 0


def _renames(text: str | None) -> dict[str, str]:
    """--rename OLD=NEW,...: a row's model name in the merged tables (a run folder's rows under the
    name its weights ship as)."""
    out = {}
    for item in _csv(text or ""):
        old, _, new = (part.strip() for part in item.partition("="))
        if not old or not new:
            raise SisrError(f"--rename {item}: give OLD=NEW")
        out[old] = new
    return out


def _rename_report(rep: dict, renames: dict[str, str]) -> dict:
    """``rep`` with each model ``OLD`` (and its rows ``OLD@...``) called ``NEW``: rows, budgets,
    weights provenance and zero-shot settings."""

    def named(m: str) -> str:
        base, at, rest = m.partition("@")
        return renames.get(base, base) + at + rest

    rep = {**rep, "results": [{**r, "model": named(r["model"])} for r in rep["results"]]}
    for key in ("budgets", "zero_shot_settings"):
        if key in rep:
            rep[key] = {named(m): v for m, v in rep[key].items()}
    for kind in ("weights", "outputs"):
        if (prov := rep.get("provenance")) and kind in prov:
            rep["provenance"] = {**prov, kind: {named(m): v for m, v in prov[kind].items()}}
    return rep


def _merge_reports(paths: list[str], renames: dict[str, str] | None = None) -> dict:
    """Reports written by ``bench --json``, as one (results in order; zero-shot settings united: a
    setting that differs between reports of one model reads ``"600 at x2, 1000 at x4"``), with
    ``renames`` applied to each before it joins."""
    merged: dict = {"results": []}
    seen: dict[str, dict[str, list]] = {}
    unrecorded: dict = {}
    originals: set[str] = set()
    for path in paths:
        if not Path(path).is_file():
            raise SisrError(f"{path}: no such file")
        try:
            rep = json.loads(Path(path).read_text())
            results = rep["results"]
            originals |= {r["model"].partition("@")[0] for r in results}
            rep = _rename_report(rep, renames or {})
            results = rep["results"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise SisrError(f"{path}: not a bench --json report ({e.__class__.__name__})") from None
        if merged.get("protocol", rep.get("protocol")) != rep.get("protocol"):
            raise SisrError(f"{path}: protocol '{rep.get('protocol')}' differs from '{merged['protocol']}'")
        merged["protocol"] = rep.get("protocol")
        merged["sisr_version"] = rep.get("sisr_version")
        merged["results"] += results
        try:
            _merge_provenance(merged, rep.get("provenance"), path)
        except (KeyError, TypeError, AttributeError) as e:
            raise SisrError(f"{path}: not a bench --json report (provenance: {e.__class__.__name__})") from None
        if "budgets" in rep:  # the tables' budget column
            merged.setdefault("budgets", {}).update(rep["budgets"])
        else:  # a report from before budgets were recorded: its models' cost is unknown, not nil
            unrecorded.update((r.get("model"), None) for r in results)
        for m, cfg in rep.get("zero_shot_settings", {}).items():
            where = ",".join(f"x{r['scale']}" for r in results if r.get("model") == m)
            for k, v in cfg.items():
                seen.setdefault(m, {}).setdefault(k, []).append((where, v))
    united = {}
    for m, keys in seen.items():
        united[m] = {}
        for k, vals in keys.items():
            same = all(v == vals[0][1] for _, v in vals)
            united[m][k] = vals[0][1] if same else ", ".join(f"{v} at {where}" for where, v in vals)
    if united:
        merged["zero_shot_settings"] = united
    if "budgets" in merged:
        for m in unrecorded:
            merged["budgets"].setdefault(m, "not recorded")
    if missing := sorted(set(renames or {}) - originals):
        raise SisrError(f"--rename {', '.join(missing)}: no such model in the reports")
    if clash := sorted(set((renames or {}).values()) & (originals - set(renames or {}))):
        raise SisrError(f"--rename to {', '.join(clash)}: a model of the reports already (its rows would be two)")
    return merged


def _merge_provenance(merged: dict, prov: dict | None, path: str) -> None:
    """One report's weights and datasets into the merged report's; a model or dataset whose files
    differ between reports would make rows of one table measure different things: refused."""
    if not prov:
        return
    into = merged.setdefault("provenance", {"weights": {}, "datasets": {}, "environments": []})
    for kind in ("weights", "datasets"):
        for name, entry in prov.get(kind, {}).items():
            had = into[kind].setdefault(name, entry)
            if had["sha256"] != entry["sha256"]:
                what = "weights" if kind == "weights" else "images"
                raise SisrError(
                    f"{path}: {name}'s {what} differ from an earlier report's (sha256 {entry['sha256'][:12]} "
                    f"against {had['sha256'][:12]}); merge reports of the same files"
                )
    for name, entry in prov.get("outputs", {}).items():  # results made elsewhere: each report's files, kept
        kept = into.setdefault("outputs", {}).setdefault(name, [])
        if entry not in kept:
            kept.append(entry)
    if prov.get("environment") and prov["environment"] not in into["environments"]:
        into["environments"].append(prov["environment"])


def _scale(text: str) -> int | float:
    """--scale: 4, or a fraction such as 2.5; "x4" and "4x" as people write them (argparse's type:
    its error becomes one line)."""
    from sisr.api import check_scale

    try:
        return check_scale(float(text.strip().lower().removeprefix("x").removesuffix("x")))
    except (ValueError, SisrError):
        raise argparse.ArgumentTypeError(f"must be a number, 1 or more (4, 2.5), got {text!r}") from None


def _target_size(args: argparse.Namespace) -> tuple[int | None, int | None] | None:
    if args.width is None and args.height is None:
        return None
    for name in ("width", "height"):
        v = getattr(args, name)
        if v is not None and v < 1:
            raise SisrError(f"--{name} must be a positive number of pixels")
    return args.width, args.height


def cmd_upscale(args: argparse.Namespace) -> int:
    if "-" in args.inputs or args.output == "-":
        return _upscale_pipes(args)
    return _upscale_files(args)


def _upscale_pipes(args: argparse.Namespace) -> int:
    """``-`` as the input reads one image from stdin; ``-`` as the output writes it to stdout.
    Both go through files in a private temporary folder, so the rest is ``sisr upscale`` as usual."""
    import shutil
    import tempfile
    import warnings

    from sisr.api import expand_inputs
    from sisr.io import decoded_format, result_suffix, result_suffix_of

    if "-" in args.inputs and len(args.inputs) > 1:
        raise SisrError("'-' (stdin) must be the only input")
    to_stdout = args.output == "-"
    if to_stdout:
        for flag in ("skip_existing", "overwrite", "suffix", "dry_run"):
            if getattr(args, flag) not in (None, False):
                raise SisrError(f"--{flag.replace('_', '-')} does not apply to output '-' (stdout)")
        if sys.stdout.isatty():
            raise SisrError("refusing to write image data to a terminal: redirect stdout or give -o FILE")
    with tempfile.TemporaryDirectory(prefix="sisr-") as tmp:
        names: dict[str, str] = {}
        if args.inputs == ["-"]:
            if sys.stdin.isatty():
                raise SisrError("'-' reads an image from stdin: pipe one in (sisr upscale - -o OUT < photo.png)")
            piped = Path(tmp) / "stdin"
            with piped.open("wb") as fh:
                shutil.copyfileobj(sys.stdin.buffer, fh)
            if piped.stat().st_size == 0:
                raise SisrError("stdin: empty (no image was piped in)")
            if (fmt := decoded_format(piped)) is None:
                raise SisrError("stdin: not a readable image")
            src = piped.rename(piped.with_suffix(result_suffix(fmt)))  # the suffix its result takes
            names[str(src)] = "stdin"
        else:
            found = expand_inputs(args.inputs)
            if len(found) > 1:
                raise SisrError(f"{len(found)} inputs cannot all be written to '-' (stdout); give -o FOLDER")
            src = found[0][0]
        dst = Path(tmp) / f"stdout{result_suffix_of(src, args.format)}" if to_stdout else Path(args.output)
        if to_stdout:
            names[str(dst)] = "stdout"
        sub = argparse.Namespace(**{**vars(args), "inputs": [str(src)], "output": str(dst)})
        if to_stdout:
            sub.format = None

        def shown(text: str) -> str:  # stdin and stdout, not the temporary files
            for path, name in names.items():
                text = text.replace(path, name)
            return text

        class Report:  # the result lines, through shown()
            def __init__(self, stream) -> None:
                self.stream = stream

            def write(self, text: str) -> None:
                self.stream.write(shown(text))

            def flush(self) -> None:
                self.stream.flush()

        show = warnings.showwarning
        try:
            with warnings.catch_warnings():
                warnings.showwarning = lambda message, *a, **k: show(shown(str(message)), *a, **k)
                rc = _upscale_files(sub, report=Report(sys.stderr if to_stdout else sys.stdout))
        except SisrError as e:
            raise SisrError(shown(str(e))) from None
        if to_stdout and rc == 0:
            with dst.open("rb") as fh:
                shutil.copyfileobj(fh, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        return rc


def _upscale_files(args: argparse.Namespace, report=None) -> int:
    """``sisr upscale`` on files and folders; ``report``: where each result's line goes (stdout)."""
    from tqdm import tqdm

    from sisr.api import load_upscaler, plan_batch, sizing, upscale_batch
    from sisr.config import parse_overrides
    from sisr.infer import ScaleError
    from sisr.io import set_pixel_limit

    if args.max_pixels is not None:
        set_pixel_limit(args.max_pixels)
    try:
        up = load_upscaler(
            args.model,
            args.scale,
            tile=args.tile,
            overlap=args.tile_overlap,
            ensemble=args.ensemble,
            precision=args.precision,
            backend=args.backend,
            settings=parse_overrides(args.set),
            save_model=args.save_model,
            progress=not args.quiet,
            denoise=args.denoise,
            device=args.device,
        )
    except ScaleError as e:
        raise SisrError(f"{e}; or --width enlarges x{e.largest}, then resizes to the width asked") from None
    tag, size, restore = sizing(args.scale, up, _target_size(args))  # before any image of a folder
    resized = isinstance(size, float) and up.descriptor.kind != "interpolation"  # bicubic: one resize
    ran = f"x{up.scale} resized to {tag}" if resized else tag
    batch = plan_batch(
        args.inputs,
        args.output,
        tag,
        fmt=args.format,
        quality=args.quality,
        skip_existing=args.skip_existing,
        suffix=args.suffix,
    )
    if batch.world > 1:
        print(f"sisr: rank {batch.rank} of {batch.world}: {batch.share} of {batch.total} images", file=sys.stderr)
    if batch.skipped:
        print(f"sisr: {batch.skipped} of {batch.share} outputs exist already (skipped)", file=sys.stderr)
    show = not args.quiet and len(batch.jobs) > 1
    bar = tqdm(total=len(batch.jobs), unit="img", disable=not show, file=sys.stderr, leave=False, dynamic_ncols=True)
    tiles: dict[Path, tqdm] = {}  # a tile bar appears only for images cut into several tiles

    def on_tile(src: Path, done: int, total: int) -> None:
        if total > 1 and not args.quiet and up.descriptor.tiling:  # zero-shot shows its own bar
            if src not in tiles:
                tiles[src] = tqdm(total=total, file=sys.stderr, leave=False, **_progress_words(src, total))
            tiles[src].update(done - tiles[src].n)

    if batch.jobs:
        bar.set_postfix_str(batch.jobs[0][0].name, refresh=True)
    failed, started = 0, time.perf_counter()
    kw = dict(
        overwrite=args.overwrite,
        size=size,
        restore=restore,
        quality=args.quality,
        strip_metadata=args.strip_metadata,
        on_tile=on_tile,
        dry_run=args.dry_run,
    )
    try:
        for i, done in enumerate(upscale_batch(batch, up, **kw)):
            if done.src in tiles:
                tiles.pop(done.src).close()
            if done.error:
                bar.write(f"sisr: error: {done.error}", file=sys.stderr)
                failed += 1
            elif done.sizes:
                (w, h), (ow, oh) = done.sizes
                bar.write(f"{done.src} -> {done.dst} ({w} x {h} -> {ow} x {oh}, {up.name})", file=report or sys.stdout)
            else:
                bar.write(f"{done.src} -> {done.dst} ({up.name}, {ran})", file=report or sys.stdout)
            bar.update()
            if i + 1 < len(batch.jobs):
                bar.set_postfix_str(batch.jobs[i + 1][0].name, refresh=True)
    finally:
        for t in tiles.values():
            t.close()
        bar.close()
    if failed:
        print(
            f"sisr: {failed} of {len(batch.jobs)} images {'would fail' if args.dry_run else 'failed'}", file=sys.stderr
        )
    if args.dry_run:
        k = len(batch.jobs) - failed
        print(f"sisr: dry run: {k} result{'' if k == 1 else 's'} would be written; nothing was", file=sys.stderr)
    elif not failed and len(batch.jobs) > 1:  # a folder run's total, once its progress bar has gone
        secs = time.perf_counter() - started
        took = f"{secs:.1f} s" if secs < 60 else f"{int(secs // 60)} min {secs % 60:.0f} s"
        n = len(batch.jobs)
        print(f"sisr: {n} results written in {took} ({secs / n:.2f} s an image)", file=sys.stderr)
    return 1 if failed else 0


def _progress_words(src: Path, total: int) -> dict:
    """The name and unit of an image's progress bar: its tiles, or an animation's frames or a
    scan's pages when each is one tile (the API counts parts in the first part's tiles)."""
    from sisr.io import sequence_of

    kind, n = sequence_of(src)
    part = {"animation": "frame", "pages": "page"}.get(kind)
    if part is None:
        return {"desc": src.name, "unit": "tile"}
    return {"desc": f"{src.name} ({n} {part}s)", "unit": part if total == n else "tile"}


def cmd_compare(args: argparse.Namespace) -> int:
    from sisr.compare import compare_figure, parse_crop
    from sisr.io import write_image

    crop = None if args.crop is None else parse_crop(args.crop)
    outputs = _csv(args.outputs or "")
    fig = compare_figure(
        args.image, _csv(args.models), args.scale, crop, lr_input=args.lr, device=args.device, outputs=outputs
    )
    write_image(args.output, fig, overwrite=args.overwrite)
    print(f"wrote {args.output}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from sisr.export import export_onnx
    from sisr.infer import load_model

    up = load_model(args.model, scale=args.scale)
    path = export_onnx(up, args.output, overwrite=args.overwrite)
    print(f"wrote {path} ({up.name}, x{up.scale}, dynamic height and width)")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from sisr.train.supervised import plan, train

    if args.dry_run:
        print(plan(args.config, args.set, resume=args.resume))
        return 0
    trainer = train(args.config, args.set, resume=args.resume)
    weights = trainer.out / "model.safetensors"
    last = next((h for h in reversed(trainer.history) if "val_psnr" in h), None)
    said = f" (sisr upscale IMAGE --model {trainer.out})"
    if last is not None:
        figures = ", ".join(f"x{k} {v:.2f}" for k, v in last["val_psnr"].items())
        said += f"; at step {last['step']:,}, {figures} dB on {trainer.cfg.val_data}"
    if trainer.rank == 0 and trainer.stopped_by is not None:
        print(f"weights so far in {weights}{said}")
    elif trainer.rank == 0:
        print(f"trained to step {trainer.step:,}; weights in {weights}{said}")
    if trainer.stopped_by == signal.SIGINT:
        return 130  # as a shell's Ctrl-C: a script that goes on after training does not take it as done
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from sisr.serve import serve

    if args.max_upload_mb <= 0:
        raise SisrError("--max-upload-mb must be positive")
    serve(args.host, args.port, args.max_upload_mb, args.open, args.device, args.model)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from sisr import __version__
    from sisr.io import WRITE_FORMATS

    parser = _Parser(prog="sisr", description="Single-image super-resolution.")
    parser.add_argument("--version", action="version", version=f"sisr {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("models", help="list the available models")
    p.add_argument("name", nargs="?", help="one model: its card (training, validation, benchmark)")
    p.add_argument("--json", action="store_true", help="each model's descriptor: kind, scales, precisions, ...")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser("bench", help="PSNR/SSIM of models on benchmark datasets")
    models_help = "comma-separated model names, .safetensors paths or training run folders"
    p.add_argument("--models", default=None, help=models_help + " (default: bicubic, unless --outputs)")
    p.add_argument(
        "--outputs",
        metavar="DIR,...",
        help="folders of images another program made, measured beside the models as they are, a row each "
        "(named by the folder): DIR/DATASET/xS/NAME.png as --save writes, or DIR/NAME.png for one dataset and scale",
    )
    p.add_argument(
        "--data", default="Set5,Set14,BSD100", help="comma-separated dataset names (under $SISR_DATA) or paths"
    )
    p.add_argument("--scale", default="4", help="comma-separated scales, e.g. 2,3,4")
    p.add_argument("--json", help="write the full results (with per-image rows) as JSON")
    p.add_argument("--markdown", help="write the tables as Markdown")
    p.add_argument("--per-image", action="store_true", help="add per-image tables")
    p.add_argument(
        "--against",
        metavar="MODEL",
        help="add each model's PSNR difference from this one, paired by image, with a 95%% interval",
    )
    p.add_argument(
        "--from-json", metavar="A.json,B.json", help="no measuring: tables from reports written by --json (merged)"
    )
    p.add_argument(
        "--rename",
        metavar="OLD=NEW,...",
        help="with --from-json: a model's rows under another name (a run folder's, as its weights ship)",
    )
    p.add_argument(
        "--protocol",
        choices=["rgb", "y"],
        default="y",
        help="LR synthesis: y = bicubic of the 8-bit luma, as in the published SRCNN/VDSR/DRCN/DRRN "
        "tables (default); rgb = bicubic of the 8-bit RGB image, as in EDSR and later",
    )
    p.add_argument(
        "--degradation",
        choices=["bicubic", "real"],
        default="bicubic",
        help="bicubic: MATLAB bicubic LR (default); real: blur, resize, noise and JPEG (sisr.degrade) of the RGB image",
    )
    p.add_argument("--seed", type=int, default=0, help="with --degradation real: the degradations' seed")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="fp32", help="of the trained models")
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.add_argument(
        "--denoise", type=float, default=None, metavar="0..1", help="blend with the clean partner (see upscale)"
    )
    p.add_argument("--ensemble", action="store_true", help="x8 self-ensemble for every model (rows named MODEL@x8)")
    p.add_argument(
        "--jobs",
        type=int,
        default=0,
        metavar="N",
        help="zero-shot image-runs at once, one process each (default: one per core; "
        "each on one thread unless --set threads=N)",
    )
    p.add_argument(
        "--save",
        metavar="DIR",
        help="also write each image measured, as DIR/MODEL/DATASET/xS/NAME.png (8-bit; the luma under protocol y)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="zero-shot setting, e.g. iters=300")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("upscale", help="upscale images")
    p.add_argument("inputs", nargs="+", help="image files, folders or glob patterns; - reads one image from stdin")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="output file (one input) or folder (a trailing / names one); - writes to stdout",
    )
    p.add_argument(
        "--model",
        default=None,
        help="model name, .safetensors path or training run folder (default: the default model)",
    )
    p.add_argument(
        "--scale",
        type=_scale,
        default=None,
        help="output scale (default: the model's largest; 1: restore at input size; 2.5: the model's x3 or x4, "
        "then a high-quality resize)",
    )
    p.add_argument("--width", type=int, default=None, help="output width: model scale, then a high-quality resize")
    p.add_argument("--height", type=int, default=None, help="output height (with --width alone, keeps the aspect)")
    p.add_argument("--skip-existing", action="store_true", help="resume a folder run: keep outputs that exist")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="say what would be written, at what size, and what would be refused; run nothing",
    )
    p.add_argument(
        "--suffix",
        default=None,
        metavar="TEXT",
        help="what follows each input's name in an output folder (default: _x<scale>; '' keeps the name; "
        "--suffix=-big for one that starts with -)",
    )
    p.add_argument(
        "--tile", type=int, default=None, help="LR tile size, 16 or more (default: from free memory; 0: no tiling)"
    )
    p.add_argument("--tile-overlap", type=int, default=None, help="tile context and blend width, LR px (default 16)")
    p.add_argument("--ensemble", action="store_true", help="x8 self-ensemble (8x slower, slightly better)")
    p.add_argument(
        "--denoise",
        type=float,
        default=None,
        metavar="0..1",
        help="models trained on degraded photos (rrgan-real-x4, rrgan-real-gan-x4): 1 removes noise and JPEG "
        "blocks fully (default), 0 is the clean-trained model, between blends their weights",
    )
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default=None,
        help="fp32 (default; zero-shot: its preset's, auto); bf16 is faster on CPUs with AVX512-BF16 or AMX; "
        "auto: bf16 where the CPU has it",
    )
    p.add_argument(
        "--backend", choices=["torch", "onnx"], help="torch (default), or onnx via onnxruntime (an .onnx --model's)"
    )
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.add_argument("--format", choices=WRITE_FORMATS, default=None, help="output format")
    p.add_argument(
        "--quality",
        type=int,
        default=None,
        metavar="1..100",
        help="lossy JPEG, WebP or AVIF at this quality (default: JPEG 95, WebP lossless, AVIF 90)",
    )
    p.add_argument(
        "--strip-metadata",
        action="store_true",
        help="leave out EXIF, XMP, IPTC, PNG text and comments (camera, GPS position, dates, credits); "
        "the colour profile stays",
    )
    p.add_argument("--max-pixels", type=int, default=None, help="raise Pillow's decompression-bomb limit")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="zero-shot setting, e.g. iters=300")
    p.add_argument("--save-model", default=None, metavar="DIR", help="zero-shot: keep each trained pyramid here")
    p.set_defaults(func=cmd_upscale)

    p = sub.add_parser("compare", help="figure: HR with a crop box and each model's zoomed crop with its PSNR")
    p.add_argument("image", help="HR image (the LR input is its MATLAB-bicubic downscale), or with --lr the input")
    p.add_argument("--models", default="bicubic,rrgan-x4", help=models_help)
    p.add_argument("--scale", type=int, default=4)
    p.add_argument(
        "--crop",
        default=None,
        help="X,Y,W,H of the crop in HR (output) pixels (default: the square, a quarter of the shorter side, "
        "with the most detail)",
    )
    p.add_argument("--lr", action="store_true", help="the image is the input itself (a photo without ground truth)")
    p.add_argument(
        "--outputs",
        metavar="DIR,...",
        help="folders of results another program made, a panel each: NAME.png or NAME_xS.png in DIR or DIR/xS",
    )
    p.add_argument("-o", "--output", required=True, help="output PNG")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("export", help="export a model to ONNX (dynamic height and width)")
    p.add_argument("--model", default=None, help="model name, .safetensors path or training run folder")
    p.add_argument("--scale", type=int, default=None, help="output scale (default: the model's largest)")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing file")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("serve", help="a local web app: upload, compare, download")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--max-upload-mb", type=float, default=50.0, help="larger uploads get 413 (default 50)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--device", default=None, help=_DEVICE_HELP)
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="RUN",
        help="also offer these weights (a training run's folder or a .safetensors file), named by it; repeatable",
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("train", help="train a model from a TOML recipe (works under torchrun)")
    p.add_argument("config", help="recipe, e.g. configs/rrgan_x4_psnr.toml")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe value: init=rrgan-x4 (a shipped model, run folder or file), data=my_photos, "
        "model.blocks=6, 'model={}' (the init's model)",
    )
    p.add_argument("--resume", action="store_true", help="continue from the run folder's state.safetensors")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="check the recipe and data, time a few steps, say how long it takes; write nothing",
    )
    p.set_defaults(func=cmd_train)
    return parser


# Where "" means something: --suffix "" keeps the inputs' names.
_MAY_BE_EMPTY = {"suffix"}


def _refuse_empty(args: argparse.Namespace) -> None:
    """An empty argument (a script's unset variable) was taken as the current folder (-o "", an
    input "") or the default (--model ""): refused, naming it."""
    for key, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if key not in _MAY_BE_EMPTY and any(isinstance(v, str) and not v.strip() for v in values):
            flag = key if key in ("inputs", "image", "config", "name") else "--" + key.replace("_", "-")
            raise SisrError(f"{flag}: empty (give {'a file or folder' if key == 'inputs' else 'a value'})")


def _show_once(seen: set[str], message, *_, **__) -> None:
    """A warning as one line, once a command (a model's weights may be looked up more than once)."""
    if (line := f"sisr: warning: {message}") not in seen:
        seen.add(line)
        print(line, file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _refuse_empty(args)
        with warnings.catch_warnings():  # a warning is one line, without the source line Python adds
            warnings.showwarning = functools.partial(_show_once, set())
            return args.func(args)
    except SisrError as e:
        print(f"sisr: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sisr: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return closed_pipe()


if __name__ == "__main__":
    sys.exit(main())
