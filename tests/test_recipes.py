"""Speed recipes: per-shape settings, what the user gives wins, digits are never mirrored, listing, errors."""

from __future__ import annotations

import pytest

import foveal
from foveal.config import TrainConfig
from foveal.data.tensors import DataSplits, ImageSet
from foveal.errors import FovealError
from foveal.recipes import RECIPES, apply_recipe, recipe_settings


def _splits(name: str, channels: int, size: int) -> DataSplits:
    import torch

    images = torch.zeros(4, channels, size, size, dtype=torch.uint8)
    labels = torch.tensor([0, 1, 0, 1])
    return DataSplits(name, ImageSet(images, labels, ("a", "b")), ImageSet(images, labels, ("a", "b")))


def test_each_recipe_has_settings_for_grey_and_colour_images():
    for name in RECIPES:
        grey, colour = recipe_settings(name, 1, (28, 28)), recipe_settings(name, 3, (32, 32))
        assert grey["model"] == "fastnet" and grey["augment"] and grey["tta"]
        assert colour["model"] == ("fastnet_deep" if name == "fast-long" else "fastnet")
        TrainConfig(**grey), TrainConfig(**colour)  # valid settings
    # airbench96's blocks at airbench94's widths, airbench94_muon's optimiser and flips
    long_colour = recipe_settings("fast-long", 3, (32, 32))
    assert (long_colour["model"], long_colour["optimizer"], long_colour["alternate_flip"]) == ("fastnet_deep", "muon", True)
    assert recipe_settings("fast-long", 1, (28, 28))["epochs"] > recipe_settings("fast", 1, (28, 28))["epochs"]


def test_given_settings_win_and_digits_are_not_mirrored():
    cfg = TrainConfig(recipe="fast", epochs=1, lr=0.05)
    out, applied = apply_recipe(cfg, _splits("fashion-mnist", 1, 28), explicit={"epochs", "lr"})
    assert out.epochs == 1 and out.lr == 0.05 and out.model == "fastnet" and out.flip
    assert "epochs" not in applied and applied["model"] == "fastnet"
    out, _ = apply_recipe(cfg, _splits("mnist", 1, 28), explicit=set())
    assert out.flip is False and out.augment


def test_the_colour_long_recipe_is_a_time_budget_unless_epochs_are_given():
    cfg = TrainConfig(recipe="fast-long")
    out, _ = apply_recipe(cfg, _splits("cifar10", 3, 32), explicit=set())
    assert out.time_limit == 19.5 and out.val_period > out.epochs  # evaluated after the last epoch only
    out, applied = apply_recipe(cfg.replace(epochs=3), _splits("cifar10", 3, 32), explicit={"epochs"})
    assert out.epochs == 3 and out.time_limit is None and "time_limit" not in applied
    out, _ = apply_recipe(cfg, _splits("fashion-mnist", 1, 28), explicit=set())
    assert out.time_limit is None and out.epochs == 20


def test_recipes_refuse_big_images_and_unknown_names():
    with pytest.raises(FovealError, match="small images"):
        recipe_settings("fast", 3, (224, 224))
    with pytest.raises(FovealError, match="unknown recipe 'fastest'"):
        TrainConfig(recipe="fastest")


def test_a_recipe_run_trains_fastnet_with_its_whitening(tmp_path):
    m = foveal.Model(task="classify")  # no model named: the recipe picks it
    metrics = m.train(data="digits", recipe="fast", epochs=2, batch_size=64, project=str(tmp_path), progress=False)
    assert metrics["model"] == "fastnet" and metrics["tta"] and metrics["accuracy"] > 0.5
    model = foveal.Model(m.checkpoint)
    assert model.name == "fastnet"
    cfg = TrainConfig.load(m.run_dir / "config.yaml")
    assert cfg.recipe == "fast" and cfg.flip is False and cfg.epochs == 2  # digits: no mirror images
    again = model.val(project=str(tmp_path))
    assert again["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-9)


def test_the_colour_long_recipe_trains_the_deep_network_on_muon(tmp_path, shared_data):
    m = foveal.Model(task="classify")
    metrics = m.train(data="cifar10", data_root=str(shared_data / "cifar10-jpg"), fraction=0.02, recipe="fast-long",
                      epochs=2, hidden=8, project=str(tmp_path), progress=False)
    cfg = TrainConfig.load(m.run_dir / "config.yaml")
    assert (cfg.model, cfg.optimizer, cfg.alternate_flip, cfg.time_limit) == ("fastnet_deep", "muon", True, None)
    assert metrics["accuracy"] > 0.15  # 10 classes, 1,000 images, 2 epochs of a tiny network: above chance
    assert foveal.Model(m.checkpoint).val(project=str(tmp_path))["accuracy"] == pytest.approx(metrics["accuracy"], abs=1e-9)


def test_models_lists_the_recipes(capsys):
    from foveal.cli import main

    assert main(["models", "--recipes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RECIPES) and "fastnet" in out


def test_tta_of_a_model_never_shown_mirror_images_does_not_mirror():
    import torch

    from foveal.tasks.classify.tta import tta_views

    x = torch.arange(2 * 1 * 16 * 16, dtype=torch.uint8).view(2, 1, 16, 16)
    views = tta_views(x, augmented=True, flip=False)
    assert len(views) == 3 and torch.equal(views[0], x)
    assert not any(torch.equal(v, x.flip(-1)) for v in views)
    assert len(tta_views(x, augmented=True)) == 4
