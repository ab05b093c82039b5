"""A segmentation run's report: curves, the pixel confusion matrix (row-normalised), per-class IoU, and a grid of
validation images with their true and predicted masks."""

from __future__ import annotations

import json
from pathlib import Path


def write_segmentation_report(run_dir: Path, data, out, history: list[dict]) -> None:
    from foveal.viz.masks import mask_grid
    from foveal.viz.plots import plot_confusion, plot_curves

    classes = data.classes
    if history:
        plot_curves(history, run_dir / "curves.png", {
            "loss": ("train_loss",), "mIoU": ("val_miou",),
            "pixel accuracy": ("train_pixel_accuracy", "val_pixel_accuracy"),
        })
    plot_confusion(out.confusion, classes, run_dir / "confusion_matrix.png", normalize=True)
    (run_dir / "per_class_iou.json").write_text(json.dumps(out.metrics["per_class_iou"], indent=2))
    n = min(8, len(data))
    mask_grid(data.images[:n], [m.numpy() for m in data.masks[:n]], [p.class_map for p in out.preds[:n]], classes,
              run_dir / "val_predictions.png")
