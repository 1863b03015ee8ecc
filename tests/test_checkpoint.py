import json
import pickle
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from sisr.checkpoint import VERSION, load_checkpoint, load_tensors, save_checkpoint, save_tensors
from sisr.config import build_dataclass
from sisr.errors import SisrError
from sisr.infer import load_model
from sisr.models import build_model


@dataclass(frozen=True)
class _Cfg:
    channels: int = 4
    sizes: tuple[int, ...] = (1, 2)


def test_round_trip_keeps_weights_config_and_metadata(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Conv2d(4, 3, 1))
    path = save_checkpoint(tmp_path / "m.safetensors", model, "toy", _Cfg(), steps=12, metrics={"psnr": 30.5})
    ck = load_checkpoint(path)
    assert ck.arch == "toy"
    assert ck.config == {"channels": 4, "sizes": [1, 2]}
    assert ck.meta["steps"] == 12 and ck.meta["metrics"] == {"psnr": 30.5}
    assert "sisr_version" in ck.meta
    for k, v in model.state_dict().items():
        assert torch.equal(ck.state_dict[k], v)
    assert build_dataclass(_Cfg, ck.config, "toy") == _Cfg()
    assert ck.meta["version"] == VERSION and ck.meta["kind"] == "weights"
    assert not list(tmp_path.glob("*.part"))


def test_unknown_config_keys_are_rejected():
    with pytest.raises(SisrError, match="unknown keys colour"):
        build_dataclass(_Cfg, {"colour": 1}, "toy")


def test_a_discriminator_is_not_an_upscaler(tmp_path):
    model = build_model("patchgan", {"channels": 8})
    path = save_checkpoint(tmp_path / "d.safetensors", model, "patchgan", model.config)
    with pytest.raises(SisrError, match="not a super-resolution model"):
        load_model(str(path))


def test_pickle_is_refused(tmp_path):
    evil = tmp_path / "model.pth"
    evil.write_bytes(pickle.dumps({"weight": [1, 2, 3]}))
    with pytest.raises(SisrError, match="not a safetensors file"):
        load_checkpoint(evil)
    torch.save({"w": torch.zeros(2)}, tmp_path / "t.pt")
    with pytest.raises(SisrError, match="not a safetensors file"):
        load_model(str(tmp_path / "t.pt"))


def test_wrong_architecture_is_refused(tmp_path):
    model = nn.Sequential(nn.Conv2d(3, 4, 3))
    path = save_checkpoint(tmp_path / "bad.safetensors", model, "bicubic", {"scale": 4})
    with pytest.raises(SisrError, match="do not match architecture 'bicubic'"):
        load_model(str(path))
    wide = save_checkpoint(tmp_path / "w.safetensors", nn.Conv2d(3, 8, 9), "srcnn", {"n1": 4})
    with pytest.raises(SisrError, match=r"\(Unexpected key\(s\) in state_dict|\(Missing key"):  # not torch's heading
        load_model(str(wide))


def test_safetensors_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(SisrError, match="without sisr metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")


def _v1(tmp_path, name, metadata):
    from safetensors.torch import save_file

    p = tmp_path / name
    save_file({"w": torch.zeros(2)}, str(p), metadata=metadata)
    return p


def test_version_1_files_of_each_kind_are_migrated(tmp_path):
    w = _v1(tmp_path, "w.safetensors", {"sisr": json.dumps({"format": "sisr-checkpoint-1", "arch": "a", "config": {}})})
    assert load_checkpoint(w).meta["version"] == 1
    st = _v1(tmp_path, "s.safetensors", {"sisr_train": json.dumps({"step": 7, "elapsed": 1.0})})
    assert load_tensors(st, "train-state")[1]["step"] == 7
    old = {"method": "drsingan", "ema": 0.0, "betas": [0.5, 0.999]}  # "ema" was removed later
    meta = {"config": json.dumps(old), "ratio": "1.5", "sizes": "[[4, 4]]", "amps": "[1.0]", "seconds": "2.0"}
    py = _v1(tmp_path, "p.safetensors", {"format": "sisr-pyramid-1", **meta})
    header = load_tensors(py, "pyramid")[1]
    assert header["version"] == 1 and "ema" not in header["config"] and header["ratio"] == 1.5


def test_newer_version_and_wrong_kind_fail_with_one_line(tmp_path):
    p = save_tensors(tmp_path / "x.safetensors", {"w": torch.zeros(1)}, "train-state", {"step": 1})
    with pytest.raises(SisrError, match=r"a sisr train-state file, not weights \(a training run's state: --resume"):
        load_checkpoint(p)
    pyr = save_tensors(tmp_path / "p.safetensors", {"w": torch.zeros(1)}, "pyramid", {})
    with pytest.raises(SisrError, match=r"a sisr pyramid file, not weights \(.*--model PATH enlarges that image again"):
        load_checkpoint(pyr)  # where each is used instead
    with pytest.raises(SisrError, match=r"a sisr train-state file, not pyramid$"):
        load_tensors(p, "pyramid")
    newer = _v1(tmp_path, "n.safetensors", {"sisr": json.dumps({"format": "sisr", "version": VERSION + 1})})
    with pytest.raises(SisrError, match=f"format version {VERSION + 1} is newer"):
        load_tensors(newer, "weights")


def test_shipped_weights_load_through_the_migration():
    from sisr.infer import load_model as load

    assert load("rrgan-x4").meta["version"] == 1


@pytest.mark.parametrize(
    "header, said",
    [
        ([1, 2], "corrupt sisr metadata$"),  # JSON, but not an object: an AttributeError traceback before
        (
            {"format": "sisr-checkpoint-1", "arch": "srcnn", "config": "x"},
            r"corrupt sisr metadata \(no arch or config\)",
        ),
        ({"format": "sisr-checkpoint-1", "arch": "nosuch", "config": {}}, "unknown architecture 'nosuch'"),
        ({"format": "sisr-checkpoint-1", "arch": "srcnn", "config": {"n1": 0}}, "srcnn config: n1 must be at least 1"),
    ],
)
def test_a_damaged_weights_file_is_named_in_one_line(tmp_path, header, said):
    p = _v1(tmp_path, "w.safetensors", {"sisr": json.dumps(header)})
    with pytest.raises(SisrError, match=f"^{p}: {said}"):
        load_model(str(p))
