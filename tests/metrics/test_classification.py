import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from foveal.metrics.classification import classification_metrics, confusion_matrix, log_loss, topk_accuracy


@pytest.fixture
def preds():
    g = torch.Generator().manual_seed(0)
    n, c = 500, 8
    targets = torch.randint(0, c, (n,), generator=g)
    logits = torch.randn(n, c, generator=g) + 2.5 * torch.nn.functional.one_hot(targets, c)
    logits[:, 7] -= 10  # class 7 is never predicted: precision undefined -> 0, as sklearn's zero_division=0
    return torch.softmax(logits.double(), 1), targets


def test_agrees_with_scikit_learn(preds):
    probs, targets = preds
    classes = [f"c{i}" for i in range(8)]
    m = classification_metrics(probs, targets, classes)
    y, p = targets.numpy(), probs.argmax(1).numpy()
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-12)
    assert m["top5_accuracy"] == pytest.approx(skm.top_k_accuracy_score(y, probs.numpy(), k=5, labels=range(8)), abs=1e-12)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y, probs.double().numpy(), labels=range(8)), rel=1e-9)
    prec, rec, f1, sup = skm.precision_recall_fscore_support(y, p, labels=range(8), zero_division=0)
    for i, name in enumerate(classes):
        assert m["per_class"][name]["precision"] == pytest.approx(prec[i], abs=1e-12)
        assert m["per_class"][name]["recall"] == pytest.approx(rec[i], abs=1e-12)
        assert m["per_class"][name]["f1"] == pytest.approx(f1[i], abs=1e-12)
        assert m["per_class"][name]["support"] == sup[i]
    assert m["f1_macro"] == pytest.approx(skm.f1_score(y, p, average="macro", labels=range(8), zero_division=0), abs=1e-12)
    assert np.array_equal(confusion_matrix(probs.argmax(1), targets, 8).numpy(), skm.confusion_matrix(y, p, labels=range(8)))


def test_log_loss_clips_certain_mistakes():
    probs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    targets = torch.tensor([1, 1])
    assert np.isfinite(log_loss(probs, targets))
    assert log_loss(probs, targets) == pytest.approx(-(np.log(1e-15) + np.log(1 - 1e-15)) / 2, rel=1e-6)


def test_top5_only_with_more_than_five_classes():
    probs = torch.softmax(torch.randn(10, 5), 1)
    assert "top5_accuracy" not in classification_metrics(probs, torch.zeros(10, dtype=torch.long), list("abcde"))
    assert topk_accuracy(probs, probs.argmin(1), 5) == 1.0
