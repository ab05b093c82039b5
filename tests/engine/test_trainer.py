import csv
import json
import math

import pytest
import torch

from foveal.api import Model
from foveal.config import TrainConfig
from foveal.data import load_data
from foveal.engine.checkpoint import load_checkpoint
from foveal.engine.optim import lr_factor, make_optimizer
from foveal.engine.trainer import NonFiniteLoss, Trainer, epochs_that_fit
from foveal.errors import FovealError
from foveal.tasks.classify.task import ClassifyTask


def fit(tmp_path, digits, **kw):
    cfg = TrainConfig(**{"model": "linear", "data": "digits", "epochs": 2, "lr": 0.05, "project": str(tmp_path), **kw})
    return Trainer(cfg, digits, ClassifyTask, progress=False).fit()


def test_run_folder_holds_everything(tmp_path, digits):
    r = fit(tmp_path, digits, name="a")
    names = {p.name for p in r.run_dir.iterdir()}
    assert {"config.yaml", "metrics.json", "results.csv", "last.pt", "best.pt", "confusion_matrix.csv", "confusion_matrix.png",
            "confusion_matrix_normalized.png", "curves.png", "samples.png"} <= names
    m = json.loads((r.run_dir / "metrics.json").read_text())
    for key in ("accuracy", "loss", "top5_accuracy", "log_loss", "train_time_s", "per_class"):
        assert key in m
    assert m["train_time_s"] > 0 and len(m["per_class"]) == 10
    assert TrainConfig.load(r.run_dir / "config.yaml").model == "linear"


def test_a_new_run_never_overwrites(tmp_path, digits):
    first = fit(tmp_path, digits, name="same", epochs=1).run_dir
    second = fit(tmp_path, digits, name="same", epochs=1).run_dir
    assert first != second and first.exists() and second.name == "same2"


def test_same_seed_same_result_and_learning_happens(tmp_path, digits):
    a = fit(tmp_path, digits, name="a", model="tinyvgg", epochs=3, momentum=0.9, deterministic=True)
    assert torch.are_deterministic_algorithms_enabled()
    b = fit(tmp_path, digits, name="b", model="tinyvgg", epochs=3, momentum=0.9)
    assert not torch.are_deterministic_algorithms_enabled()
    assert a.metrics["accuracy"] == b.metrics["accuracy"] and a.metrics["accuracy"] > 0.7
    c = fit(tmp_path, digits, name="c", model="tinyvgg", epochs=3, momentum=0.9, seed=7)
    assert c.metrics["log_loss"] != a.metrics["log_loss"]


def test_resume_ends_where_an_uninterrupted_run_does(tmp_path, digits, killed_in_epoch):
    settings = dict(epochs=3, model="mlp", augment=True, schedule="cosine", momentum=0.9)
    full = fit(tmp_path, digits, name="full", **settings)

    with killed_in_epoch(2):
        fit(tmp_path, digits, name="killed", **settings)
    assert load_checkpoint(tmp_path / "killed" / "last.pt")["epoch"] == 1

    torch.manual_seed(1234)  # the resumed run must not depend on the process's RNG state
    metrics = Model(tmp_path / "killed").train(resume=tmp_path / "killed", progress=False)
    a, b = load_checkpoint(full.last), load_checkpoint(tmp_path / "killed" / "last.pt")
    assert b["epoch"] == 3 and all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    assert metrics["accuracy"] == full.metrics["accuracy"]
    assert [r["val_loss"] for r in a["history"]] == [r["val_loss"] for r in b["history"]]


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path, digits, monkeypatch):
    steps_per_epoch = math.ceil(len(digits.train) / 32)
    calls = {"n": 0}
    real_loss = ClassifyTask.loss

    def poisoned(self, model, batch):
        calls["n"] += 1
        loss, correct = real_loss(self, model, batch)
        return (loss * float("nan") if calls["n"] > steps_per_epoch + 3 else loss), correct

    monkeypatch.setattr(ClassifyTask, "loss", poisoned)
    with pytest.raises(NonFiniteLoss) as err:
        fit(tmp_path, digits, name="nan", epochs=3)
    msg = str(err.value)
    assert "became nan in epoch 2" in msg and "last.pt (epoch 1)" in msg and "\n" not in msg
    kept = load_checkpoint(tmp_path / "nan" / "last.pt")
    assert kept["epoch"] == 1 and all(torch.isfinite(v).all() for v in kept["state_dict"].values())


def test_early_stopping(tmp_path, digits):
    r = fit(tmp_path, digits, name="es", epochs=30, lr=1e-6, patience=2)
    assert r.metrics["epochs"] < 30
    assert r.metrics["epochs"] - r.metrics["best_epoch"] == 2


@pytest.mark.parametrize("schedule", ["constant", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw"])
def test_schedules_and_optimizers_train(tmp_path, digits, schedule, optimizer):
    lr, momentum = (0.05, 0.9) if optimizer == "sgd" else (0.003, 0.0)
    r = fit(tmp_path, digits, name=f"{schedule}-{optimizer}", epochs=2, schedule=schedule, optimizer=optimizer, lr=lr,
            momentum=momentum, label_smoothing=0.1)
    assert r.metrics["accuracy"] > 0.5


def test_lr_schedule_shapes():
    cfg = TrainConfig(epochs=10, schedule="cosine", warmup_epochs=1)
    f = lr_factor(cfg, 100)
    assert f(0) == pytest.approx(0.01) and f(99) == pytest.approx(1.0)
    assert f(100) == pytest.approx(1.0) and f(999) < 0.01
    one = lr_factor(TrainConfig(epochs=10, schedule="onecycle"), 100)
    assert one(0) == pytest.approx(1 / 25 + (1 - 1 / 25) / 300) and max(one(s) for s in range(1000)) == pytest.approx(1.0)
    assert lr_factor(TrainConfig(epochs=10), 100)(500) == 1.0


def test_norm_lr_scales_batch_norm_and_keeps_its_decay_per_step():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.Flatten(),
                                torch.nn.LazyLinear(2))
    model(torch.zeros(2, 3, 6, 6))
    cfg = TrainConfig(optimizer="sgd", lr=0.1, momentum=0.9, weight_decay=5e-4, norm_lr=64)
    groups = make_optimizer(cfg, model, [{"params": list(model.parameters())}]).param_groups
    norm = {id(p) for p in model[1].parameters()}
    by_kind = {all(id(p) in norm for p in g["params"]): g for g in groups}
    assert len(groups) == 2 and set(by_kind) == {True, False}
    assert by_kind[True]["lr"] == pytest.approx(6.4) and by_kind[False]["lr"] == pytest.approx(0.1)
    assert by_kind[True]["lr"] * by_kind[True]["weight_decay"] == pytest.approx(0.1 * 5e-4)
    assert len(make_optimizer(cfg.replace(norm_lr=1), model, [{"params": list(model.parameters())}]).param_groups) == 1
    with pytest.raises(FovealError, match="norm_lr"):
        TrainConfig(norm_lr=0)


def test_time_limit_fits_epochs_to_what_is_left():
    assert epochs_that_fit(1, 30, 30, 600) == 20  # 30 s epochs in 10 minutes
    assert epochs_that_fit(10, 400, 40, 600) == 15  # the epochs grew slower: 200 s left fit 5 more, not 10
    assert epochs_that_fit(10, 590, 40, 600) == 10  # under half an epoch left: stop on this evaluated epoch
    assert epochs_that_fit(10, 590, 40, 600, evaluated=False) == 11  # ... unless it was not evaluated
    assert epochs_that_fit(3, 700, 40, 600) == 3  # over budget: stop
    assert epochs_that_fit(10, 400, 40, 600, final_eval_s=30) == 14  # whole epochs only, the last evaluation kept


def test_time_limit_stops_a_run_on_an_evaluated_epoch(tmp_path, digits):
    r = fit(tmp_path, digits, name="t", epochs=50, time_limit=1e-6, val_period=5)  # 60 µs: any epoch is over it
    with (r.run_dir / "results.csv").open() as f:
        history = list(csv.DictReader(f))
    # the first epoch times an evaluation of a tenth of the validation data instead of evaluating all of it, so the
    # run takes one more epoch to end on an evaluated one
    assert len(history) == r.metrics["epochs"] == 2 and TrainConfig.load(r.run_dir / "config.yaml").epochs == 2
    assert history[0]["val_accuracy"] == "" and float(history[0]["eval_estimate_s"]) > 0
    assert float(history[1]["val_accuracy"]) == pytest.approx(r.metrics["accuracy"]) and history[1]["eval_estimate_s"] == ""
    untimed = fit(tmp_path, digits, name="u", epochs=3, val_period=2)  # no time limit: the first epoch is evaluated
    with (untimed.run_dir / "results.csv").open() as f:
        assert [row["val_accuracy"] != "" for row in csv.DictReader(f)] == [True, True, True]



def test_time_limit_counts_the_work_before_the_first_epoch(tmp_path, digits):
    """A fine-tune's cached features and head fitted first are part of the budget: when they used it up, the run
    ends on the first evaluated epoch."""
    cfg = TrainConfig(model="linear", data="digits", epochs=5, lr=0.05, project=str(tmp_path), time_limit=0.05)
    trainer = Trainer(cfg, digits, ClassifyTask, progress=False)
    trainer.task.prep_time_s = 2.99  # of the 3 s allowed
    prepped = trainer.fit().metrics["epochs"]
    assert prepped <= 2  # the first evaluated epoch (the first may time a sample of the evaluation instead)
    free = Trainer(cfg.replace(name="free"), digits, ClassifyTask, progress=False).fit()
    assert free.metrics["epochs"] > prepped  # the same 3 s, nothing spent before: more epochs fit

def test_a_period_longer_than_the_run_evaluates_the_last_epoch_only(tmp_path, digits):
    r = fit(tmp_path, digits, name="p", epochs=2, val_period=5)  # the 28x28 fast recipe's setting: 4 epochs, period 5
    with (r.run_dir / "results.csv").open() as f:
        assert [row["val_accuracy"] != "" for row in csv.DictReader(f)] == [False, True]
    assert r.metrics["accuracy"] > 0.5


def test_resume_refuses_another_task_or_class_count(tmp_path, digits):
    r = fit(tmp_path, digits, name="r", epochs=1)
    shapes = load_data("shapes")
    ckpt = load_checkpoint(r.last)
    with pytest.raises(FovealError, match="checkpoint has 10 classes, the data 'shapes' has 3"):
        Trainer(TrainConfig.from_dict(ckpt["config"]), shapes, ClassifyTask, resume=ckpt, progress=False)
    ckpt["card"]["task"] = "detect"
    with pytest.raises(FovealError, match="checkpoint is a detect model"):
        Trainer(TrainConfig.from_dict(ckpt["config"]), digits, ClassifyTask, resume=ckpt, progress=False)
    with pytest.raises(FovealError, match="cannot change lr when resuming"):
        Model(r.run_dir).train(resume=r.last, lr=0.5, epochs=2)


def test_normalize_defaults_to_the_models_and_can_be_overridden(tmp_path, digits):
    from foveal.models.card import ModelCard

    seed = ModelCard.from_dict(load_checkpoint(fit(tmp_path, digits, name="d", epochs=1).last)["card"])
    assert seed.mean == pytest.approx(digits.train.mean_std()[0]) and seed.std != (1.0,)  # standardised by default
    unit = ModelCard.from_dict(load_checkpoint(fit(tmp_path, digits, name="u", epochs=1, normalize="unit").last)["card"])
    assert unit.mean == (0.0,) and unit.std == (1.0,)  # the tutorial's ToTensor scaling


def test_augment_translate_and_flip_settings_reach_the_loader(tmp_path, digits):
    cfg = TrainConfig(model="linear", data="digits", augment=True, project=str(tmp_path))
    augment = Trainer(cfg, digits, ClassifyTask, progress=False).train_loader.augment
    assert augment.pad == 1 and not augment.alternate  # 8x8 digits: a sixteenth of the side, at least 1 pixel
    augment = Trainer(cfg.replace(translate=3, alternate_flip=True), digits, ClassifyTask, progress=False).train_loader.augment
    assert augment.pad == 3 and augment.alternate and augment.indexed
    with pytest.raises(FovealError, match="translate"):
        TrainConfig(translate=-1)
