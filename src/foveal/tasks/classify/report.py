"""The classification run report: confusion matrix (CSV + PNGs), curves, a sample grid, the most confident mistakes."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import torch

from foveal.data.tensors import ImageSet
from foveal.metrics.classification import confusion_matrix
from foveal.outputs import cell

GRID_SIZE = 16


def write_classification_report(
    run_dir: Path, data: ImageSet, probs: torch.Tensor, targets: torch.Tensor, classes: Sequence[str], history: list[dict],
    seed: int = 0,
) -> None:
    from foveal.viz.plots import plot_confusion, plot_curves

    preds = probs.argmax(1)
    cm = confusion_matrix(preds, targets, len(classes))
    write_confusion_csv(run_dir / "confusion_matrix.csv", cm, classes)
    plot_confusion(cm.numpy(), classes, run_dir / "confusion_matrix.png")
    plot_confusion(cm.numpy(), classes, run_dir / "confusion_matrix_normalized.png", normalize=True)
    if history:
        plot_curves(history, run_dir / "curves.png")

    g = torch.Generator().manual_seed(seed)
    sample = torch.randperm(len(data), generator=g)[:GRID_SIZE]
    _grid(data, probs, preds, targets, classes, sample, run_dir / "samples.png")
    wrong = (preds != targets).nonzero().flatten()
    if len(wrong):
        confidence = probs[wrong, preds[wrong]]
        worst = wrong[confidence.argsort(descending=True)[:GRID_SIZE]]
        _grid(data, probs, preds, targets, classes, worst, run_dir / "most_wrong.png")


def _grid(data, probs, preds, targets, classes, index, path) -> None:
    from foveal.viz.plots import image_grid

    titles = [
        f"{classes[preds[i]]} {probs[i, preds[i]]:.0%}\n(true: {classes[targets[i]]})" for i in index.tolist()
    ]
    wrong = [bool(preds[i] != targets[i]) for i in index.tolist()]
    image_grid(data.images[index], titles, path, wrong=wrong, ncols=min(8, len(index)))


def write_confusion_csv(path: Path, cm: torch.Tensor, classes: Sequence[str]) -> None:
    """Rows are true classes, columns predicted ones; the first row and column hold the class names."""
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["true \\ predicted", *(cell(c) for c in classes)])
        for name, row in zip(classes, cm.tolist()):
            w.writerow([cell(name), *row])
