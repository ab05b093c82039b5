"""The plain loop foveal is benchmarked against: it must be a fair, working loop (it learns, it uses the recipe's
settings), or the ratios `foveal bench train` prints mean nothing."""

import pytest
import torch
from torch.utils.data import Subset

from foveal.bench import plain
from foveal.bench.train import summarise
from foveal.recipes import recipe_settings


@pytest.fixture(scope="module")
def fmnist_slice(shared_data):
    settings = {**recipe_settings("fast", 1, (28, 28), "fashion-mnist"), "epochs": 2, "hidden": 8, "batch_size": 128}
    train_tf, test_tf = plain.recipe_transforms(settings, 28, (0.286,), (0.353,))
    train, test = plain.datasets("fashion-mnist", shared_data / "fashion-mnist", train_tf, test_tf)
    return settings, Subset(train, range(3000)), Subset(test, range(1000)), test_tf


def test_recipe_loop_learns_with_the_recipes_settings(fmnist_slice):
    settings, train, test, test_tf = fmnist_slice
    whiten = plain.whitening_images(train, test_tf, 500)
    assert whiten.shape == (500, 1, 28, 28) and abs(float(whiten.mean())) < 0.3  # normalised, not augmented
    r = plain.run_recipe(0, settings, train, test, 1, 28, 10, whiten)
    assert r["runner"] == "plain" and r["model"] == "fastnet" and len(r["epochs"]) == 2
    assert r["accuracy_last"] > 0.6  # ten classes: chance is 0.1
    assert r["images_per_s"] > 0 and r["time_s"] >= sum(e["train_s"] for e in r["epochs"])


def test_recipe_optimizer_is_the_trainers():
    """The plain loop trains with the recipe's own optimizer: Muon for the colour fast-long filters, batch norm's
    shifts at norm_lr times the rate, not one plain SGD group."""
    from foveal.engine.muon import Muon
    from foveal.models.registry import create_model

    settings = recipe_settings("fast-long", 3, (32, 32), "cifar10")
    model = create_model(settings["model"], num_classes=10, in_channels=3, img_size=(32, 32), hidden=8)
    opt = plain.recipe_optimizer(settings, model)
    assert isinstance(opt, Muon)
    lrs = sorted({g["lr"] for g in opt.param_groups})
    assert settings["lr"] * settings["norm_lr"] in lrs and any(g.get("muon") for g in opt.param_groups)
    sgd = plain.recipe_optimizer(recipe_settings("fast", 1, (28, 28), "mnist"), create_model(
        "fastnet", num_classes=10, in_channels=1, img_size=(28, 28), hidden=8))
    assert type(sgd) is torch.optim.SGD and all(g["nesterov"] for g in sgd.param_groups)


def test_recipe_transforms_follow_the_recipe():
    grey = recipe_settings("fast", 1, (28, 28), "mnist")  # digits are never mirrored
    train_tf, test_tf = plain.recipe_transforms(grey, 28, (0.1,), (0.3,))
    names = [type(t).__name__ for t in train_tf.transforms]
    assert "RandomHorizontalFlip" not in names and "RandomCrop" in names
    crop = next(t for t in train_tf.transforms if type(t).__name__ == "RandomCrop")
    assert crop.padding == 1 and crop.padding_mode == "reflect"  # foveal's shift: size // 16, at least 1
    colour = recipe_settings("fast", 3, (32, 32), "cifar10")
    names = [type(t).__name__ for t in plain.recipe_transforms(colour, 32, (0.5,) * 3, (0.25,) * 3)[0].transforms]
    assert names[0] == "RandomHorizontalFlip"
    assert [type(t).__name__ for t in test_tf.transforms] == ["ToTensor", "Normalize"]


def test_tutorial_models_fit_the_data_shape():
    for name in ("linear", "mlp", "tinyvgg"):
        assert plain.tutorial_model(name, 3, 32)(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="no plain tutorial model"):
        plain.tutorial_model("resnet")


def test_summary_ratios():
    runs = [{"runner": "plain", "accuracy_last": 0.90, "time_s": 100.0, "images_per_s": 1000.0},
            {"runner": "plain", "accuracy_last": 0.92, "time_s": 120.0, "images_per_s": 900.0},
            {"runner": "foveal", "accuracy_last": 0.93, "time_s": 50.0, "images_per_s": 2500.0},
            {"runner": "foveal", "accuracy_last": 0.93, "time_s": 60.0, "images_per_s": 2000.0}]
    s = summarise("fast", runs)
    assert s["speedup"] == pytest.approx(110 / 55) and s["images_per_s_ratio"] == pytest.approx(2250 / 950)
    assert s["accuracy_diff"] == pytest.approx(0.02) and s["plain"]["accuracy_std"] > 0 == s["foveal"]["accuracy_std"]
