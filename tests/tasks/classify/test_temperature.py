"""Probabilities a classifier's user can score: a submission CSV whose log loss is the one `val` reports, and
temperature scaling (`--calibrate`) fitted at the end of training or by `val`, applied by val, predict, TTA and
ensembles. On real CIFAR-10 JPEGs, all 32x32, with from-scratch models: train/val and predict see the same pixels."""

from __future__ import annotations

import csv
import json
import math
import shutil
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from sklearn.metrics import log_loss

import foveal
from foveal.cli import main
from foveal.data.images import read_image
from foveal.engine.checkpoint import load_checkpoint
from foveal.errors import FovealError
from foveal.tasks.classify.predict import Predictor
from foveal.tasks.classify.tta import tta_views

CLASSES = ("airplane", "cat", "frog")


@pytest.fixture(scope="module")
def photos(shared_data, tmp_path_factory):
    """train/ and val/ trees of real CIFAR-10 JPEGs of three classes, each file named <class>_<n>.jpg (a unique id)."""
    root = tmp_path_factory.mktemp("cifar3")
    for split, src, n in (("train", "train", 100), ("val", "test", 40)):
        for c in CLASSES:
            (root / split / c).mkdir(parents=True)
            for f in sorted((shared_data / "cifar10-jpg" / src / c).glob("*.jpg"))[:n]:
                shutil.copy(f, root / split / c / f"{c}_{f.name}")
    return root


def truth(folder) -> dict[str, str]:
    return {f.stem: f.parent.name for f in folder.rglob("*.jpg")}


def train(photos, project, name, *extra) -> None:
    assert main(["-q", "train", "--model", "lenet", "--data", str(photos), "--epochs", "1", "--optimizer", "adamw",
                 "--lr", "3e-3", "--seed", "0", "--project", str(project), "--name", name, *map(str, extra)]) == 0


@pytest.fixture(scope="module")
def runs(photos, tmp_path_factory):
    """Two lenet runs of 2 epochs: `plain`, and `calibrated` (--augment, so TTA has views, and --calibrate)."""
    project = tmp_path_factory.mktemp("runs")
    train(photos, project, "plain", "--epochs", 2)
    train(photos, project, "calibrated", "--epochs", 2, "--augment", "--calibrate")
    return {name: project / name for name in ("plain", "calibrated")}


def val_json(capsys, *args) -> dict:
    capsys.readouterr()
    assert main(["val", "--format", "json", *map(str, args)]) == 0
    return json.loads(capsys.readouterr().out)


def submission(tmp_path, capsys, checkpoint, folder, *extra):
    out = tmp_path / "submission.csv"
    assert main(["-q", "predict", "--model", str(checkpoint), str(folder), "--format", "csv", "--proba", "--out",
                 str(out), *extra]) == 0
    capsys.readouterr()
    return out


def submission_log_loss(path, labels: dict[str, str]) -> tuple[float, np.ndarray]:
    """(scikit-learn's log loss of the file's numbers, each row's sum); scikit-learn's warnings are errors."""
    rows = list(csv.reader(path.open()))
    header, body = rows[0], rows[1:]
    probs = np.array([[float(v) for v in r[1:]] for r in body])
    y = [header[1:].index(labels[r[0]]) for r in body]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return log_loss(y, probs, labels=range(len(header) - 1)), probs.sum(1)


def test_a_submissions_log_loss_is_the_loss_val_reports(runs, photos, tmp_path, capsys):
    best = runs["plain"] / "best.pt"
    reported = val_json(capsys, "--model", best, "--project", tmp_path)
    loss, sums = submission_log_loss(submission(tmp_path, capsys, best, photos / "val"), truth(photos / "val"))
    assert len(sums) == reported["num_images"] == 120
    assert np.abs(sums - 1).max() <= 1e-12
    assert loss == pytest.approx(reported["loss"], abs=1e-6)
    assert loss == pytest.approx(reported["log_loss"], abs=1e-6)
    assert "temperature" not in reported


def test_train_calibrate_keeps_the_temperature_in_best_pt_and_val_and_predict_use_it(runs, photos, tmp_path, capsys):
    run = runs["calibrated"]
    metrics = json.loads((run / "metrics.json").read_text())
    t = metrics["temperature"]
    assert t != 1.0 and load_checkpoint(run / "best.pt")["card"]["temperature"] == t
    assert load_checkpoint(run / "last.pt")["card"]["temperature"] == 1.0  # last.pt resumes the weights as trained
    assert metrics["log_loss"] < metrics["log_loss_uncalibrated"] and metrics["loss"] < metrics["loss_uncalibrated"]
    assert metrics["ece"] != metrics["ece_uncalibrated"]
    again = val_json(capsys, "--model", run / "best.pt", "--project", tmp_path)
    assert again["temperature"] == t and again["loss"] == pytest.approx(metrics["loss"], abs=1e-9)
    assert again["ece"] == pytest.approx(metrics["ece"], abs=1e-9)
    loss, sums = submission_log_loss(submission(tmp_path, capsys, run / "best.pt", photos / "val"), truth(photos / "val"))
    assert loss == pytest.approx(metrics["loss"], abs=1e-6) and np.abs(sums - 1).max() <= 1e-12


def test_val_calibrate_fits_the_temperature_that_minimises_the_nll_and_saves_it(runs, photos, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["plain"], run)
    # the reference: scipy's minimiser over T of scikit-learn's log loss of the uncalibrated submission, whose
    # log-probabilities are the logits up to a constant per image
    labels = truth(photos / "val")
    rows = list(csv.reader(submission(tmp_path, capsys, run / "best.pt", photos / "val").open()))
    logp = np.log(np.array([[float(v) for v in r[1:]] for r in rows[1:]]))
    y = [rows[0][1:].index(labels[r[0]]) for r in rows[1:]]

    def scaled(s: float) -> np.ndarray:
        z = logp / math.exp(s)
        return np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True)

    ref = minimize_scalar(lambda s: log_loss(y, scaled(s), labels=range(3)), bounds=(-3, 3), method="bounded",
                          options={"xatol": 1e-9})
    capsys.readouterr()
    assert main(["val", "--model", str(run / "best.pt"), "--project", str(tmp_path), "--calibrate", "--format",
                 "json"]) == 0
    out, err = capsys.readouterr()
    fitted = json.loads(out)
    t = fitted["temperature"]
    assert t == pytest.approx(math.exp(ref.x), rel=1e-3)
    assert fitted["log_loss"] == pytest.approx(ref.fun, abs=1e-6)
    assert fitted["log_loss"] < fitted["log_loss_uncalibrated"]
    lines = [line for line in err.splitlines() if "temperature" in line]  # one line says what was fitted and where
    assert len(lines) == 1 and str(run / "best.pt") in lines[0] and "optimistic" in lines[0], err
    assert load_checkpoint(run / "best.pt")["card"]["temperature"] == t
    again = val_json(capsys, "--model", run / "best.pt", "--project", tmp_path)
    assert again["temperature"] == t and again["loss"] == pytest.approx(fitted["loss"], abs=1e-12)
    loss, _ = submission_log_loss(submission(tmp_path, capsys, run / "best.pt", photos / "val"), labels)
    assert loss == pytest.approx(fitted["loss"], abs=1e-6)
    # fitted again from the logits, not from the calibrated probabilities: the same temperature
    assert val_json(capsys, "--model", run / "best.pt", "--project", tmp_path, "--calibrate")["temperature"] == \
        pytest.approx(t, rel=1e-9)


def test_predictor_tta_and_ensembles_divide_each_views_logits_by_each_models_temperature(runs, photos):
    calibrated = Predictor.from_checkpoint(runs["calibrated"] / "best.pt")
    t = calibrated.card.temperature
    images = torch.stack([calibrated.prepare(read_image(f, channels=3))
                          for f in sorted((photos / "val" / "cat").glob("*.jpg"))[:16]])
    with torch.inference_mode():
        views = torch.stack([calibrated.model(calibrated.normalize(v.contiguous())).float()
                             for v in tta_views(images, calibrated.card.augmented, calibrated.card.flipped)])
    assert len(views) == 4 and calibrated.card.augmented
    assert torch.allclose(calibrated.probabilities(images), torch.softmax(views[0] / t, 1), atol=1e-6)
    assert torch.allclose(calibrated.probabilities(images, tta=True), torch.softmax(views / t, 2).mean(0), atol=1e-6)
    plain = Predictor.from_checkpoint(runs["plain"] / "best.pt")
    both = foveal.Model(runs["calibrated"]).predict(photos / "val" / "cat", ensemble=[runs["plain"]])
    alone = [foveal.Model(r).predict(photos / "val" / "cat") for r in (runs["calibrated"], runs["plain"])]
    assert plain.card.temperature == 1.0
    for e, a, b in zip(both, *alone):
        assert np.allclose(e.probs, (a.probs + b.probs) / 2, atol=1e-6)


def test_val_calibrate_with_tta_matches_predict_with_tta(runs, photos, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["calibrated"], run)
    fitted = val_json(capsys, "--model", run / "best.pt", "--project", tmp_path, "--calibrate", "--tta")
    assert fitted["tta"] is True and fitted["temperature"] != json.loads((run / "metrics.json").read_text())["temperature"]
    loss, _ = submission_log_loss(submission(tmp_path, capsys, run / "best.pt", photos / "val", "--tta"),
                                  truth(photos / "val"))
    assert loss == pytest.approx(fitted["log_loss"], abs=1e-6)


def test_calibrate_is_refused_for_an_ensemble_and_for_other_tasks(runs, tiny_runs, tiny_shapes, tmp_path, capsys):
    code = main(["-q", "val", "--model", str(runs["plain"]), str(runs["calibrated"]), "--calibrate", "--project",
                 str(tmp_path)])
    assert code == 2 and "calibrate each member of an ensemble on its own" in capsys.readouterr().err
    before = (tiny_runs["detect"] / "best.pt").read_bytes()
    code = main(["-q", "val", "--model", str(tiny_runs["detect"]), "--calibrate", "--project", str(tmp_path)])
    assert code == 2 and "a detect model has none to fit" in capsys.readouterr().err
    assert (tiny_runs["detect"] / "best.pt").read_bytes() == before
    with pytest.raises(FovealError, match="--calibrate fits a classifier's temperature"):
        foveal.Model("fcos").train(data="shapes", epochs=1, batch_size=4, calibrate=True, project=str(tmp_path / "p"),
                                   progress=False)
    assert not (tmp_path / "p").exists()


def test_a_resumed_run_trains_from_temperature_one_and_a_checkpoint_without_one_loads(runs, photos, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["calibrated"], run)
    assert main(["-q", "train", "--resume", str(run), "--epochs", "3"]) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    best = load_checkpoint(run / "best.pt")
    assert metrics["epochs"] == 3 and best["card"]["temperature"] == metrics["temperature"]
    assert load_checkpoint(run / "last.pt")["card"]["temperature"] == 1.0
    old = load_checkpoint(run / "best.pt")  # as foveal wrote it before cards had a temperature
    del old["card"]["temperature"]
    torch.save(old, tmp_path / "old.pt")
    assert foveal.Model(tmp_path / "old.pt").val(save=False)["loss"] == pytest.approx(metrics["loss_uncalibrated"])
    capsys.readouterr()
