"""Speed recipes: per-shape settings, fitted to the machine's measured pace, what the user gives wins, digits are never
mirrored, listing, errors."""

from __future__ import annotations

import pytest

import foveal
from foveal.config import TrainConfig
from foveal.data.tensors import DataSplits, ImageSet
from foveal.errors import FovealError
from foveal.recipes import RECIPES, recipe_settings
from foveal.tasks.classify.fit import TRAINER_SHARE, apply_recipe, fit_to_machine


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
    out, applied, _ = apply_recipe(cfg, _splits("fashion-mnist", 1, 28), explicit={"epochs", "lr"})
    assert out.epochs == 1 and out.lr == 0.05 and out.model == "fastnet" and out.flip
    assert "epochs" not in applied and applied["model"] == "fastnet"
    out, _, _ = apply_recipe(cfg, _splits("mnist", 1, 28), explicit=set())
    assert out.flip is False and out.augment


def test_the_colour_long_recipe_is_a_time_budget_unless_epochs_are_given():
    cfg = TrainConfig(recipe="fast-long")
    out, _, _ = apply_recipe(cfg, _splits("cifar10", 3, 32), explicit=set())
    assert out.time_limit == 19.5 and out.val_period > out.epochs  # evaluated after the last epoch only
    out, applied, _ = apply_recipe(cfg.replace(epochs=3), _splits("cifar10", 3, 32), explicit={"epochs"})
    assert out.epochs == 3 and out.time_limit is None and "time_limit" not in applied
    out, _, _ = apply_recipe(cfg, _splits("fashion-mnist", 1, 28), explicit=set())
    assert out.time_limit is None and out.epochs == 20


def _paces(monkeypatch, per_hidden: dict[int, float]) -> list[str]:
    """Stand in for the measured pace: images/s by width; returns the networks asked about."""
    import foveal.engine.pace as pace

    asked = []

    def fake(name, build, shape, batch, num_classes, dtype, channels_last):
        asked.append(name)
        return per_hidden[int(name.rsplit(" ", 1)[1])]

    monkeypatch.setattr(pace, "training_pace", fake)
    return asked


def _fit(name="fast", channels=1, size=28, n=60_000, **kw):
    return fit_to_machine(name, recipe_settings(name, channels, (size, size)), channels=channels, size=(size, size),
                          num_classes=10, train_images=n, val_images=10_000, device="cpu", **kw)


def test_the_recipe_trains_the_most_accurate_choice_that_fits_the_pace_measured_here(monkeypatch):
    asked = _paces(monkeypatch, {32: 5000, 16: 3000})  # a bf16 machine's 28x28 pace for the widest network
    settings, fit = _fit()
    assert (settings["hidden"], settings["epochs"], settings["batch_size"]) == (32, 4, 512) and fit.seconds <= 90
    assert asked == ["fastnet hidden 32"]  # the first fits: nothing else measured
    _paces(monkeypatch, {32: 1000, 16: 3000})  # an AVX2 CPU in fp32: 4 epochs of the widest take 4 minutes
    settings, fit = _fit()
    assert settings["hidden"] == 16 and settings["batch_size"] == 256 and fit.seconds <= 90
    more = ((settings["epochs"] + 1) * 60_000 + 4 * 10_000 / 3) / (3000 * TRAINER_SHARE)  # the final TTA evaluation
    assert more > 90  # one more epoch would not fit
    assert "3,000 images/s" in fit.line() and "90 s budget" in fit.line()
    longer, fit = _fit(budget_s=120)  # --time-limit 2: a longer budget, more epochs
    assert longer["hidden"] == 16 and longer["epochs"] > settings["epochs"] and fit.seconds <= 120
    _paces(monkeypatch, {32: 10, 16: 20})  # nothing fits: the cheapest
    settings, _ = _fit()
    assert (settings["hidden"], settings["epochs"]) == (16, 1)


def test_a_setting_the_user_gives_narrows_the_choices(monkeypatch):
    _paces(monkeypatch, {32: 1000, 16: 3000})
    settings, fit = _fit(fixed={"hidden": 32})
    assert settings["hidden"] == 32 and fit.choice == {"hidden": 32, "epochs": 4}  # the only one with width 32
    settings, _ = _fit(fixed={"epochs": 3})
    assert (settings["hidden"], settings["epochs"]) == (16, 3)
    settings, fit = _fit(fixed={"hidden": 8})  # no choice has it: the recipe's settings, the user's win later
    assert fit.choice == {} and "no choice agrees" in fit.line()


def test_a_time_limited_recipe_keeps_its_limit_and_picks_the_width_whose_epochs_fit(monkeypatch):
    _paces(monkeypatch, {64: 200, 32: 1000, 16: 3000})  # 14 epochs of the widest would take an hour
    settings, fit = _fit("fast-long", channels=3, size=32, n=50_000)
    assert settings["hidden"] == 32 and settings["epochs"] == 30 and settings["time_limit"] == 19.5
    assert "epochs" not in fit.choice  # the time limit decides how many


def test_on_a_gpu_the_first_choice_trains_unmeasured(monkeypatch):
    import torch

    import foveal.engine.device as device

    asked = _paces(monkeypatch, {32: 1, 16: 1})
    monkeypatch.setattr(device, "select_device", lambda spec: torch.device("cuda"))
    monkeypatch.setattr(device, "autocast_dtype", lambda mode, dev, model: torch.bfloat16)
    settings, fit = _fit()
    assert settings["hidden"] == 32 and asked == [] and "GPU" in fit.line()


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


def test_models_lists_the_recipes_and_what_each_picks_here(capsys, monkeypatch):
    from foveal.cli import main

    _paces(monkeypatch, {64: 100, 32: 1000, 16: 3000})
    assert main(["models", "--recipes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in RECIPES) and "fastnet" in out and "--here" in out and "picks here" not in out
    assert main(["models", "--recipes", "--here"]) == 0
    out = capsys.readouterr().out
    assert "picks here" in out and "3,000 images/s" in out


def test_tta_of_a_model_never_shown_mirror_images_does_not_mirror():
    import torch

    from foveal.tasks.classify.tta import tta_views

    x = torch.arange(2 * 1 * 16 * 16, dtype=torch.uint8).view(2, 1, 16, 16)
    views = tta_views(x, augmented=True, flip=False)
    assert len(views) == 3 and torch.equal(views[0], x)
    assert not any(torch.equal(v, x.flip(-1)) for v in views)
    assert len(tta_views(x, augmented=True)) == 4
