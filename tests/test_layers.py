"""The package's layers read top-down: a module imports only from its own layer or those below.

front ends (cli) -> api -> (bench, compare) -> (infer, export) -> train -> zeroshot -> models
-> core (io, resize, metrics, checkpoint, losses, ...). Imports inside functions count too.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "sisr"

LAYERS = [
    ("core", ["sisr", "sisr.errors", "sisr.atomic", "sisr.config", "sisr.io", "sisr.resize", "sisr.metrics",
              "sisr.checkpoint", "sisr.losses", "sisr.precision", "sisr.transforms", "sisr.data",
              "sisr.published", "sisr.vgg", "sisr.icc", "sisr.netpbm"]),
    ("models", ["sisr.models"]),
    ("zeroshot", ["sisr.zeroshot"]),
    ("train", ["sisr.train"]),
    ("infer", ["sisr.infer", "sisr.export"]),
    ("bench", ["sisr.bench", "sisr.compare"]),
    ("api", ["sisr.api"]),
    ("front", ["sisr.cli", "sisr.serve", "sisr.__main__"]),
]  # fmt: skip


def rank(module: str) -> int:
    best = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and (best is None or len(p) > best[1]):
                best = (i, len(p))
    if best is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS in {Path(__file__).name}")
    return best[0]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            # "from sisr.models import build_model" names sisr.models; "from sisr import models" the subpackage
            target = node.module if node.module != "sisr" else None
            if target is None:
                subs = [
                    n
                    for n in names[1:]
                    if (SRC / n.split(".", 1)[1]).exists() or (SRC / (n.split(".", 1)[1] + ".py")).exists()
                ]
                target = subs[0] if subs else "sisr"
            if target.startswith("sisr"):
                yield node.lineno, target
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("sisr"):
                    yield node.lineno, a.name


FILES = sorted(SRC.rglob("*.py"))


def violations(path: Path, me: str) -> list[str]:
    return [
        f"{path.name}:{line} imports {target} ({LAYERS[rank(target)][0]} is above {LAYERS[rank(me)][0]})"
        for line, target in imports(path)
        if rank(target) > rank(me)
    ]


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_import(path):
    bad = violations(path, module_name(path))
    assert not bad, "; ".join(bad)


def test_the_rule_catches_an_upward_import(tmp_path):
    f = tmp_path / "fake.py"
    f.write_text("from sisr.errors import SisrError\n\ndef g():\n    from sisr.api import upscale\n")
    assert violations(f, "sisr.io") == ["fake.py:4 imports sisr.api (api is above core)"]
    assert violations(f, "sisr.cli") == []
