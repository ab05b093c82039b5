"""Semantic segmentation metrics agree with torchmetrics and scikit-learn on the same masks, ignore index included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, jaccard_score

from foveal.metrics.segmentation import IGNORE, confusion, segmentation_metrics

CLASSES = ("background", "a", "b", "c", "never")


@pytest.fixture
def masks():
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (6, 40, 50), generator=g)
    pred = torch.where(torch.rand(truth.shape, generator=g) < 0.7, truth, torch.randint(0, 4, truth.shape, generator=g))
    truth[:, :3] = IGNORE  # ignored rows count nowhere, whatever is predicted there
    return pred, truth


def test_confusion_and_scores_match_scikit_learn(masks):
    pred, truth = masks
    cm = confusion(pred, truth, len(CLASSES))
    keep = truth != IGNORE
    t, p = truth[keep].numpy(), pred[keep].numpy()
    assert np.array_equal(cm.numpy(), confusion_matrix(t, p, labels=range(len(CLASSES))))
    m = segmentation_metrics(cm, CLASSES)
    iou = jaccard_score(t, p, labels=[0, 1, 2, 3], average=None)
    assert [m["per_class_iou"][c] for c in CLASSES[:4]] == pytest.approx(iou, abs=1e-6)
    assert m["per_class_iou"]["never"] is None  # neither true nor predicted: no IoU, out of the mean
    assert m["miou"] == pytest.approx(iou.mean(), abs=1e-9)
    assert m["pixel_accuracy"] == pytest.approx(accuracy_score(t, p), abs=1e-12)


def test_scores_match_torchmetrics(masks):
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex
    from torchmetrics.segmentation import DiceScore

    pred, truth = masks
    m = segmentation_metrics(confusion(pred, truth, 4), CLASSES[:4])
    jac = MulticlassJaccardIndex(4, average="macro", ignore_index=IGNORE)(pred, truth)
    acc = MulticlassAccuracy(4, average="micro", ignore_index=IGNORE)(pred, truth)
    assert m["miou"] == pytest.approx(float(jac), abs=1e-6)
    assert m["pixel_accuracy"] == pytest.approx(float(acc), abs=1e-6)
    keep = truth != IGNORE  # torchmetrics' Dice has no ignore index: score the kept pixels as one flat image
    dice = DiceScore(4, average="macro", input_format="index", aggregation_level="global")(
        pred[keep].view(1, 1, -1), truth[keep].view(1, 1, -1))
    assert m["dice"] == pytest.approx(float(dice), abs=1e-6)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="one shape"):
        confusion(torch.zeros(2, 3), torch.zeros(3, 2), 2)
