"""Pretrained weights: the offline efficientnet_lite0/1/2 packages, the download caches, local weight files, cards."""

from __future__ import annotations

import socket
import urllib.error

import pytest
import torch

from foveal.errors import FovealError
from foveal.tasks.classify.predict import Predictor
from foveal.models.pretrained import (PACKAGED, imagenet_classes, load_pretrained, load_weights_file, packaged_file,
                                      pretrained_card, ships_offline)
from foveal.models.registry import create_model

CATS = {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"}
TF_MEAN, TF_STD = 127 / 255, 128 / 255  # TensorFlow EfficientNet-Lite's (x - 127) / 128
LARGER = {"efficientnet_lite1": (240, 272), "efficientnet_lite2": (260, 292)}  # input size, resize size


@pytest.fixture(scope="module")
def lite0():
    return load_pretrained("efficientnet_lite0")


@pytest.fixture(scope="module")
def larger():
    """efficientnet_lite1 and lite2 with their weights, loaded with every way to the network shut."""
    import huggingface_hub.constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
        mp.setattr(torch.hub, "download_url_to_file", _offline)
        mp.setattr(socket.socket, "connect", _offline)
        return {name: load_pretrained(name) for name in LARGER}


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    from PIL import Image
    from skimage import data

    folder = tmp_path_factory.mktemp("photos")
    for name in ("chelsea", "coffee"):
        Image.fromarray(getattr(data, name)()).save(folder / f"{name}.jpg", quality=95)
    return folder


def test_imagenet_card(lite0):
    _, card = lite0
    assert len(card.classes) == 1000 and len(imagenet_classes()) == 1000
    assert card.classes[281] == "tabby" and card.classes[967] == "espresso"
    assert card.input_size == (224, 224) and card.resize_size == 256 and card.interpolation == "bicubic"
    assert card.mean == pytest.approx((TF_MEAN,) * 3) and card.std == pytest.approx((TF_STD,) * 3)


@pytest.mark.parametrize("name", list(LARGER))
def test_lite1_and_lite2_cards(larger, name):
    _, card = larger[name]
    size, resize = LARGER[name]
    assert card.model == f"timm/{name}" and card.classes == imagenet_classes()
    assert card.input_size == (size, size) and card.resize_size == resize and card.interpolation == "bicubic"
    assert card.mean == pytest.approx((TF_MEAN,) * 3) and card.std == pytest.approx((TF_STD,) * 3)
    assert pretrained_card(name) == card and pretrained_card(f"timm/{name}") == card  # the card before the weights


def test_the_packaged_models_ship_offline():
    assert set(PACKAGED) == {"efficientnet_lite0", *LARGER}
    assert all(ships_offline(name) and ships_offline(f"timm/{name}") for name in PACKAGED)
    assert not ships_offline("resnet18") and not ships_offline("tf_efficientnet_lite1")


@pytest.mark.parametrize("name", list(LARGER))
def test_lite1_and_lite2_offline_weights_name_real_photos(larger, name, photos):
    model, card = larger[name]
    out = Predictor(model, card).predict([photos])
    by_name = {r.source.rsplit("/", 1)[-1]: r for r in out.results}
    assert by_name["chelsea.jpg"].label in {"tabby", "tiger cat", "Egyptian cat"}, by_name["chelsea.jpg"].top(5)
    assert by_name["coffee.jpg"].label in {"espresso", "cup"}, by_name["coffee.jpg"].top(5)


@pytest.mark.parametrize("name", list(LARGER))
def test_lite1_and_lite2_weights_are_the_packages_with_tensorflows_batch_norm(larger, name):
    model, _ = larger[name]
    source = [v for k, v in torch.load(packaged_file(name), weights_only=True).items()
              if not k.endswith("num_batches_tracked")]
    loaded = [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]
    assert len(source) == len(loaded)
    for want, (key, got) in zip(source, loaded):
        if key.endswith("running_var"):  # TensorFlow's eps 1e-3 where timm adds 1e-5
            assert torch.allclose(got, want + (1e-3 - 1e-5)), key
        else:
            assert torch.equal(got, want), key


def test_lite0_offline_weights_name_real_photos(lite0, photos):
    model, card = lite0
    out = Predictor(model, card).predict([photos])
    by_name = {r.source.rsplit("/", 1)[-1]: r for r in out.results}
    assert by_name["chelsea.jpg"].label in CATS, by_name["chelsea.jpg"].top(5)
    assert by_name["coffee.jpg"].label in {"espresso", "cup", "coffee mug"}, by_name["coffee.jpg"].top(5)
    assert by_name["chelsea.jpg"].confidence > 0.3


def test_lite0_package_weights_are_loaded_not_random(lite0):
    model, _ = lite0
    fresh = create_model("timm/efficientnet_lite0", num_classes=1000)
    assert not torch.equal(model.conv_stem.weight, fresh.conv_stem.weight)
    assert model.bn2.running_var.mean() != 1.0  # real BatchNorm statistics


def test_torchvision_weights_from_the_cache_offline(tmp_path, monkeypatch):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    weights = torchvision.models.ResNet18_Weights.DEFAULT
    target = tmp_path / "hub" / "checkpoints" / weights.url.rsplit("/", 1)[-1]
    with pytest.raises(FovealError, match=f"put the file {target.name} .* at {target}"):
        load_pretrained("resnet18")
    target.parent.mkdir(parents=True, exist_ok=True)
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, target)
    model, card = load_pretrained("resnet18")
    assert torch.equal(model.fc.weight, saved["fc.weight"])
    assert card.classes[0] == "tench" and card.resize_size == 256 and card.input_size == (224, 224)


def test_timm_offline_message(monkeypatch, tmp_path):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    with pytest.raises(FovealError, match="cannot download the pretrained weights of 'resnet10t'.*--weights FILE"):
        load_pretrained("timm/resnet10t")


def test_models_without_weights():
    assert pretrained_card("tinyvgg") is None
    with pytest.raises(FovealError, match="no pretrained weights"):
        load_pretrained("tinyvgg")
    with pytest.raises(FovealError, match="unknown model"):
        load_pretrained("resnet_eighteen")


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_weights_file_keeps_what_fits(tmp_path, suffix):
    source = create_model("resnet18", num_classes=1000)
    path = tmp_path / f"w{suffix}"
    if suffix == ".pt":
        torch.save(source.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in source.state_dict().items()}, str(path))
    target = create_model("resnet18", num_classes=3)
    skipped = load_weights_file(target, path)
    assert sorted(skipped) == ["fc.bias", "fc.weight"]
    assert torch.equal(target.layer4[1].conv2.weight, source.layer4[1].conv2.weight)


def test_weights_file_errors(tmp_path):
    model = create_model("resnet18", num_classes=3)
    with pytest.raises(FovealError, match="weights file not found"):
        load_weights_file(model, tmp_path / "nope.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(FovealError, match="cannot read weights"):
        load_weights_file(model, bad)
    other = tmp_path / "other.pt"
    torch.save(create_model("mobilenet_v3_small", num_classes=3).state_dict(), other)
    with pytest.raises(FovealError, match="does not fit this model"):
        load_weights_file(model, other)


def _offline(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_cli_predict_pretrained_defaults_to_the_offline_model(photos, tmp_path, capsys):
    import json

    from foveal.cli import main

    code = main(["-q", "predict", "--pretrained", str(photos / "chelsea.jpg"), "--format", "json", "--top-k", "5",
                 "--save", "--project", str(tmp_path)])
    out = json.loads(capsys.readouterr().out.split("results in")[0])
    assert code == 0 and out[0]["label"] in CATS and len(out[0]["top"]) == 5
    assert (tmp_path / "predict" / "chelsea.png").is_file()
    assert main(["-q", "predict", str(photos / "chelsea.jpg")]) == 2  # no model, no --pretrained: which model?


def test_cli_predict_pretrained_lite2_offline(photos, capsys, monkeypatch):
    import json

    import huggingface_hub.constants

    from foveal.cli import main

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(socket.socket, "connect", _offline)
    code = main(["-q", "predict", "--model", "efficientnet_lite2", "--pretrained", str(photos / "coffee.jpg"),
                 "--format", "json"])
    out = json.loads(capsys.readouterr().out.split("results in")[0])
    assert code == 0 and out[0]["label"] in {"espresso", "cup"}
