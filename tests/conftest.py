import os
from pathlib import Path

import numpy as np
import pytest


def _data_root() -> Path | None:
    root = os.environ.get("SISR_DATA")
    if root and Path(root).is_dir():
        return Path(root)
    guess = Path(__file__).resolve().parents[2] / "shared" / "datasets"
    return guess if guess.is_dir() else None


@pytest.fixture(scope="session")
def data_root() -> Path:
    root = _data_root()
    if root is None:
        pytest.skip("benchmark datasets absent: set SISR_DATA to a folder of NAME/HR/ images")
    os.environ["SISR_DATA"] = str(root)
    return root


def need_dataset(root: Path, name: str) -> Path:
    p = root / name / "HR"
    if not p.is_dir():
        pytest.skip(f"dataset {name} absent under SISR_DATA={root}")
    return root / name


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A real photo (CC0, shipped with scikit-image), uint8 RGB."""
    skdata = pytest.importorskip("skimage.data")
    return skdata.astronaut()
