"""Semantic segmentation metrics from one pixel confusion matrix: mIoU, per-class IoU, pixel accuracy, Dice.

Pixels whose truth is the ignore index count nowhere. A class that appears neither in the truth nor in the
predictions has no IoU (NaN in `per_class_iou`, left out of the means), as torchmetrics and mmseg report it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

IGNORE = 255


def confusion(pred: torch.Tensor, truth: torch.Tensor, num_classes: int, ignore_index: int = IGNORE) -> torch.Tensor:
    """(C, C) int64 counts, rows the true class and columns the predicted one, of integer masks of one shape."""
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {tuple(pred.shape)} and truth {tuple(truth.shape)} must have one shape")
    keep = truth != ignore_index
    t, p = truth[keep].long(), pred[keep].long()
    return torch.bincount(t * num_classes + p, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def segmentation_metrics(cm: torch.Tensor | np.ndarray, classes: tuple[str, ...]) -> dict[str, Any]:
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    truth, pred = cm.sum(1), cm.sum(0)
    union = truth + pred - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
        dice = np.where(truth + pred > 0, 2 * tp / (truth + pred), np.nan)
        recall = np.where(truth > 0, tp / truth, np.nan)
    total = cm.sum()
    return {
        "miou": float(np.nanmean(iou)) if np.isfinite(iou).any() else 0.0,
        "pixel_accuracy": float(tp.sum() / total) if total else 0.0,
        "mean_accuracy": float(np.nanmean(recall)) if np.isfinite(recall).any() else 0.0,
        "dice": float(np.nanmean(dice)) if np.isfinite(dice).any() else 0.0,
        "per_class_iou": {c: (None if np.isnan(v) else round(float(v), 6)) for c, v in zip(classes, iou)},
        "per_class_dice": {c: (None if np.isnan(v) else round(float(v), 6)) for c, v in zip(classes, dice)},
    }
