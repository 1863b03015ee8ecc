import pytest
import torch

from sisr.errors import SisrError
from sisr.losses import VGGLoss, discriminator_loss, generator_adversarial_loss, pixel_loss
from sisr.vgg import LAYERS, VGG19Features, find_vgg19_weights


def _fake_torchvision_vgg19(path):
    """A file with torchvision's VGG19 key layout (random values): the real one is not on these machines."""
    full = VGG19Features("pool5")
    sd = {k: torch.randn_like(v) for k, v in full.state_dict().items()}
    sd["classifier.0.weight"] = torch.zeros(4, 4)  # extra keys, as in the real file
    torch.save(sd, path)
    return sd


def test_layer_names():
    assert LAYERS[:4] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2"]
    assert LAYERS[-2:] == ["relu5_4", "pool5"]
    assert len(VGG19Features("relu5_4").features) == 36
    assert VGG19Features("relu2_2").features[-1].__class__.__name__ == "ReLU"


def test_torchvision_keys_load_without_pickle(tmp_path, monkeypatch):
    path = tmp_path / "vgg19-dcbb9e9d.pth"
    sd = _fake_torchvision_vgg19(path)
    monkeypatch.setenv("SISR_VGG19", str(path))
    loss = VGGLoss("relu2_2")
    assert torch.equal(loss.vgg.features[0].weight, sd["features.0.weight"])
    sr, hr = torch.rand(1, 3, 32, 32, requires_grad=True), torch.rand(1, 3, 32, 32)
    out = loss(sr, hr)
    out.backward()
    assert out > 0 and sr.grad is not None
    assert loss(hr, hr) == 0


def test_missing_weights_stop_with_a_clear_message(tmp_path, monkeypatch):
    monkeypatch.delenv("SISR_VGG19", raising=False)
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    with pytest.raises(SisrError, match="VGG19 ImageNet weights"):
        find_vgg19_weights(download=False)
    with pytest.raises(SisrError, match="not found"):
        find_vgg19_weights(tmp_path / "nope.pth")


def test_adversarial_losses():
    big = torch.full((2, 1, 4, 4), 20.0)
    assert generator_adversarial_loss(big) < 1e-6
    assert generator_adversarial_loss(-big) > 10
    assert discriminator_loss(big, -big) < 1e-6
    zero = torch.zeros(2, 1, 4, 4)
    assert generator_adversarial_loss(zero) == pytest.approx(0.6931, abs=1e-4)  # -log(1/2)


def test_pixel_losses():
    a, b = torch.zeros(1, 3, 2, 2), torch.full((1, 3, 2, 2), 0.5)
    assert pixel_loss(a, b, "mse") == pytest.approx(0.25)
    assert pixel_loss(a, b, "l1") == pytest.approx(0.5)
    with pytest.raises(ValueError):
        pixel_loss(a, b, "huber")
