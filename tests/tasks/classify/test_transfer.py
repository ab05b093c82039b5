"""Transfer learning from efficientnet_lite0's real ImageNet weights: head (cached features), full, gradual."""

from __future__ import annotations

import shutil

import pytest
import torch
from PIL import Image

import foveal
from foveal.config import TrainConfig
from foveal.tasks.classify import transfer
from foveal.tasks.classify.defaults import FINETUNE_DEFAULTS
from foveal.tasks.classify.transfer import param_groups, set_trainable
from foveal.errors import FovealError
from foveal.models.head import backbone_groups, backbone_parameters, find_head
from foveal.models.pretrained import load_pretrained

CLASSES = ("airplane", "frog")


@pytest.fixture(scope="module")
def photos(shared_data, tmp_path_factory):
    """Real CIFAR-10 photos of two classes, some enlarged to other sizes and shapes, in train/ and val/ trees."""
    root = tmp_path_factory.mktemp("photos")
    for split, src, n in (("train", "train", 40), ("val", "test", 20)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for i, f in enumerate(sorted((shared_data / "cifar10-jpg" / src / c).glob("*.jpg"))[:n]):
                if i % 3 == 0:
                    Image.open(f).resize((48 + i, 40)).save(root / split / c / f.name)
                else:
                    shutil.copy(f, root / split / c / f.name)
    return root


def small(**kw):
    return {**dict(pretrained=True, img_size=64, epochs=2, batch_size=16, optimizer="adamw", lr=3e-3, seed=0,
                   progress=False), **kw}


def test_head_trains_on_cached_features_and_keeps_the_backbone(photos, tmp_path, monkeypatch):
    m = foveal.Model("efficientnet_lite0")
    metrics = m.train(data=str(photos), finetune="head", project=str(tmp_path), name="head", **small(epochs=5))
    assert metrics["finetune"] == "head" and metrics["features_time_s"] > 0
    assert metrics["accuracy"] >= 0.8  # ImageNet features separate airplanes from frogs
    ckpt = torch.load(m.checkpoint, weights_only=True)
    pretrained, _ = load_pretrained("efficientnet_lite0")
    for k, v in pretrained.state_dict().items():
        if not k.startswith("classifier"):
            assert torch.equal(ckpt["state_dict"][k], v), k
    assert ckpt["card"]["resize_size"] == 73 and ckpt["card"]["input_size"] == [64, 64]
    again = foveal.Model(m.checkpoint).val(save=False)  # the whole model on the photos, not the cache
    assert again["accuracy"] == pytest.approx(metrics["accuracy"], abs=1 / 40)

    def no_backbone(*args, **kwargs):
        raise AssertionError("the second head run ran the backbone instead of reading its features from the cache")

    monkeypatch.setattr(transfer, "extract_features", no_backbone)
    second = foveal.Model("efficientnet_lite0")  # the same photos and backbone: features come from the disk cache
    second.train(data=str(photos), finetune="head", project=str(tmp_path), **small(epochs=1))
    assert second.run_dir.name == "efficientnet_lite0"  # timm/efficientnet_lite0 makes one folder
    assert second.metrics["features_time_s"] > 0  # reading the cache is counted as feature time


def test_lite1_trains_from_its_packaged_weights_offline(photos, tmp_path, monkeypatch):
    import socket

    import huggingface_hub.constants

    from foveal.cli import main

    def offline(*args, **kwargs):
        raise OSError("no network in this test")

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    monkeypatch.setattr(socket.socket, "connect", offline)
    code = main(["-q", "train", "--model", "efficientnet_lite1", "--pretrained", "--finetune", "head", "--data",
                 str(photos), "--epochs", "3", "--img-size", "64", "--seed", "0", "--project", str(tmp_path)])
    ckpt = torch.load(tmp_path / "efficientnet_lite1" / "best.pt", weights_only=True)
    assert code == 0 and ckpt["card"]["model"] == "timm/efficientnet_lite1"
    assert ckpt["card"]["resize_size"] == 73 and ckpt["card"]["mean"] == pytest.approx([127 / 255] * 3)  # 64 * 272 / 240
    assert foveal.Model(tmp_path / "efficientnet_lite1").val(save=False)["accuracy"] >= 0.8


def test_full_trains_every_layer_with_a_lower_backbone_lr(photos, tmp_path):
    m = foveal.Model("efficientnet_lite0")
    m.train(data=str(photos), finetune="full", project=str(tmp_path), name="full", **small(epochs=1))
    ckpt = torch.load(m.checkpoint, weights_only=True)
    pretrained, _ = load_pretrained("efficientnet_lite0")
    assert not torch.equal(ckpt["state_dict"]["conv_stem.weight"], pretrained.conv_stem.weight)
    groups = ckpt["optimizer"]["param_groups"]
    backbone = FINETUNE_DEFAULTS["backbone_lr"]  # of the head's rate, which small() sets to 3e-3
    assert groups[0]["initial_lr"] == pytest.approx(3e-3 * backbone) and groups[1]["initial_lr"] == pytest.approx(3e-3)


def test_full_fits_the_head_on_cached_features_before_any_layer_moves(photos, tmp_path):
    from foveal.data import load_data
    from foveal.engine.trainer import Trainer
    from foveal.tasks.classify.task import ClassifyTask
    from foveal.tasks.classify.transfer import data_sizes

    cfg = TrainConfig(data=str(photos), model="efficientnet_lite0", pretrained=True, finetune="full", img_size=64,
                      epochs=1, batch_size=16, optimizer="adamw", lr=3e-3, seed=0, project=str(tmp_path))
    trainer = Trainer(cfg, load_data(cfg.data, **data_sizes(cfg)), ClassifyTask, progress=False)
    out = trainer.task.evaluate(trainer.model, trainer.val_loader)
    assert out.metrics["accuracy"] >= 0.8  # a random head would sit near 0.5 on two classes
    pretrained, _ = load_pretrained("efficientnet_lite0")
    assert torch.equal(trainer.model.conv_stem.weight, pretrained.conv_stem.weight)
    assert trainer.task.prep_time_s > 0
    cold = Trainer(cfg.replace(head_epochs=0), load_data(cfg.data, **data_sizes(cfg)), ClassifyTask, progress=False)
    assert cold.task.evaluate(cold.model, cold.val_loader).metrics["accuracy"] < out.metrics["accuracy"]


@pytest.mark.parametrize("head_epochs, head_alone", [(0, 1), (5, 0)])
def test_gradual_unfreezes_from_the_top(head_epochs, head_alone):
    cfg = TrainConfig(model="efficientnet_lite0", pretrained=True, finetune="gradual", epochs=6, head_epochs=head_epochs)
    model, _ = load_pretrained("efficientnet_lite0")
    groups = backbone_groups(model)
    trainable = []
    for epoch in range(1, 7):
        set_trainable(cfg, model, epoch)
        trainable.append(sum(all(p.requires_grad for p in g) for g in groups))
        assert all(p.requires_grad for p in find_head(model)[2].parameters())
        assert groups[-1][0].requires_grad == (epoch > head_alone)
    assert trainable == sorted(trainable) and trainable[2 + head_alone] == len(groups)
    assert (trainable[0] == 0) == (head_alone == 1)
    assert len(param_groups(cfg, model)[0]["params"]) == len(backbone_parameters(model))


def test_transfer_errors(photos, tmp_path):
    with pytest.raises(FovealError, match="needs starting weights"):
        TrainConfig(model="resnet18", finetune="head")
    with pytest.raises(FovealError, match="no separable head"):
        foveal.Model("squeezenet1_0").train(data=str(photos), weights=str(_squeezenet_weights(tmp_path)), finetune="head",
                                            project=str(tmp_path), **{k: v for k, v in small().items() if k != "pretrained"})
    with pytest.raises(FovealError, match="no pretrained card"):
        foveal.Model("tinyvgg").train(data=str(photos), pretrained=True, project=str(tmp_path), progress=False)


def _squeezenet_weights(tmp_path):
    import torchvision

    path = tmp_path / "squeezenet.pt"
    torch.save(torchvision.models.squeezenet1_0().state_dict(), path)
    return path


def test_predict_on_the_files_equals_val_on_the_same_photos(photos, tmp_path):
    """One preprocessing from file to tensor: a photo's probabilities from `predict` on its file are those `val`
    computes from the stored data set (photos of mixed sizes and aspects among them)."""
    from foveal.engine.checkpoint import load_model
    from foveal.tasks.classify.predict import Predictor
    from foveal.tasks.classify.task import ClassifyTask

    m = foveal.Model("efficientnet_lite0")
    m.train(data=str(photos), finetune="head", project=str(tmp_path), name="head", **small(epochs=1))
    model, card, ckpt = load_model(m.checkpoint)
    cfg = TrainConfig.from_dict(ckpt["config"])
    val = ClassifyTask.eval_split(ClassifyTask.load_data(cfg), card)
    task = ClassifyTask(cfg, card, torch.device("cpu"), False)
    from_val = dict(zip(val.paths, task.evaluate(model, task.val_loader(val)).probs))
    predicted = Predictor(model, card, device="cpu").predict(sorted(from_val)).results
    assert len(predicted) == len(from_val) == 40
    assert {tuple(Image.open(p).size) for p in from_val} != {(32, 32)}  # some photos are not square
    for r in predicted:
        assert torch.allclose(torch.as_tensor(r.probs), from_val[r.source], atol=1e-5), r.source
