import pickle
from dataclasses import dataclass

import pytest
import torch
from torch import nn

from sisr.checkpoint import build_model, config_from_dict, load_checkpoint, save_checkpoint
from sisr.errors import SisrError
from sisr.infer import load_model


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
    assert config_from_dict(_Cfg, ck.config) == _Cfg()
    assert not list(tmp_path.glob("*.part"))


def test_unknown_config_keys_are_rejected():
    with pytest.raises(SisrError, match="unknown _Cfg keys: colour"):
        config_from_dict(_Cfg, {"colour": 1})


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


def test_safetensors_without_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "plain.safetensors"))
    with pytest.raises(SisrError, match="without sisr metadata"):
        load_checkpoint(tmp_path / "plain.safetensors")
