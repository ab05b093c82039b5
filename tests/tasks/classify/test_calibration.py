"""Probabilities a classifier's user can score: a submission CSV whose log loss is the one `val` reports, and
temperature scaling (`--calibrate`) fitted at the end of training or by `val`, applied by val, predict, TTA and
ensembles. On real CIFAR-10 JPEGs, all 32x32, with from-scratch models: train/val and predict see the same pixels."""

from __future__ import annotations

import csv
import json
import shutil
import warnings

import numpy as np
import pytest
from sklearn.metrics import log_loss

from foveal.cli import main

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


def submission_log_loss(path, labels: dict[str, str]) -> tuple[float, np.ndarray]:
    """(scikit-learn's log loss of the file's numbers, each row's sum); scikit-learn's warnings are errors."""
    rows = list(csv.reader(path.open()))
    header, body = rows[0], rows[1:]
    probs = np.array([[float(v) for v in r[1:]] for r in body])
    y = [header[1:].index(labels[r[0]]) for r in body]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return log_loss(y, probs, labels=range(len(header) - 1)), probs.sum(1)


def test_a_submissions_log_loss_is_the_loss_val_reports(photos, tmp_path, capsys):
    train(photos, tmp_path, "run")
    best = tmp_path / "run" / "best.pt"
    capsys.readouterr()
    assert main(["val", "--model", str(best), "--format", "json", "--project", str(tmp_path)]) == 0
    reported = json.loads(capsys.readouterr().out)
    out = tmp_path / "submission.csv"
    assert main(["-q", "predict", "--model", str(best), str(photos / "val"), "--format", "csv", "--proba",
                 "--out", str(out)]) == 0
    loss, sums = submission_log_loss(out, truth(photos / "val"))
    assert len(sums) == reported["num_images"] == 120
    assert np.abs(sums - 1).max() <= 1e-12
    assert loss == pytest.approx(reported["loss"], abs=1e-6)
    assert loss == pytest.approx(reported["log_loss"], abs=1e-6)
    capsys.readouterr()
