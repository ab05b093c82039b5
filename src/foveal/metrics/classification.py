"""Classification metrics from probabilities and targets: accuracy, top-5, log loss, expected calibration error,
confusion matrix, per-class precision/recall/F1. Tested against scikit-learn and torchmetrics on the same inputs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from foveal.metrics.calibration import expected_calibration_error

LOG_LOSS_EPS = 1e-15


def confusion_matrix(preds: torch.Tensor, targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(num_classes, num_classes) int64 counts; rows are true classes, columns predicted ones."""
    flat = targets.long() * num_classes + preds.long()
    return torch.bincount(flat, minlength=num_classes * num_classes).view(num_classes, num_classes)


def precision_recall_f1(cm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-class precision, recall, F1 and support; 0 where undefined (as scikit-learn's zero_division=0)."""
    cm = cm.double()
    tp = cm.diag()
    predicted, support = cm.sum(0), cm.sum(1)
    precision = torch.where(predicted > 0, tp / predicted.clamp_min(1), torch.zeros_like(tp))
    recall = torch.where(support > 0, tp / support.clamp_min(1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp_min(1e-300), torch.zeros_like(tp))
    return precision, recall, f1, support.long()


def log_loss(probs: torch.Tensor, targets: torch.Tensor, eps: float = LOG_LOSS_EPS) -> float:
    """Mean negative log-likelihood of the true class, probabilities clipped to [eps, 1 - eps] and renormalised
    (the Kaggle / scikit-learn definition)."""
    p = probs.double().clamp(eps, 1 - eps)
    p = p / p.sum(1, keepdim=True)
    return float(-p.gather(1, targets.long().view(-1, 1)).log().mean())


def topk_accuracy(probs: torch.Tensor, targets: torch.Tensor, k: int) -> float:
    top = probs.topk(min(k, probs.shape[1]), dim=1).indices
    return float((top == targets.view(-1, 1)).any(1).double().mean())


def classification_metrics(probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """The metrics.json block for classification. `probs` are (N, C) probabilities."""
    num_classes = len(classes)
    preds = probs.argmax(1)
    cm = confusion_matrix(preds, targets, num_classes)
    precision, recall, f1, support = precision_recall_f1(cm)
    out: dict[str, Any] = {"accuracy": float((preds == targets).double().mean())}
    if num_classes > 5:
        out["top5_accuracy"] = topk_accuracy(probs, targets, 5)
    out["log_loss"] = log_loss(probs, targets)
    out["ece"] = expected_calibration_error(probs, targets)
    out["precision_macro"] = float(precision.mean())
    out["recall_macro"] = float(recall.mean())
    out["f1_macro"] = float(f1.mean())
    out["per_class"] = {
        name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
        for i, name in enumerate(classes)
    }
    out["num_images"] = int(len(targets))
    return out
