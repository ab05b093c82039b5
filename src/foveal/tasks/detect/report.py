"""A detection run's report: metrics table per class, precision-recall curves, confusion matrix, validation grid."""

from __future__ import annotations

import json
from pathlib import Path


def write_detection_report(run_dir: Path, data, out, history: list[dict], shown=None) -> None:
    """`shown`: the predictions to draw on the first validation images (default: out.preds)."""
    from foveal.metrics.detection import detection_confusion
    from foveal.viz.plots import plot_confusion
    from foveal.viz.boxes import detection_grid, plot_pr_curves

    classes = out.truths[0].classes
    if history:
        write_curves(run_dir / "curves.png", history)
    plot_pr_curves(out.pr50, classes, run_dir / "pr_curve.png")
    cm = detection_confusion(out.preds, out.truths)
    plot_confusion(cm, [*classes, "background"], run_dir / "confusion_matrix.png")
    (run_dir / "per_class_ap.json").write_text(json.dumps(out.metrics["per_class_ap"], indent=2))
    n = min(16, len(data))
    detection_grid([data.images[i] for i in range(n)], (shown or out.preds)[:n], out.truths[:n],
                   run_dir / "val_predictions.png")



def write_curves(path: Path, history: list[dict]) -> None:
    """The loss, the validation mAP (box and, for instance segmenters, mask) and the loss components per epoch."""
    from foveal.viz.plots import plot_curves, train_keys

    maps = ("val_map50", "val_map", "val_mask_map50", "val_mask_map")
    plot_curves(history, path, {"loss": ("train_loss",), "mAP": [k for k in maps if any(k in r for r in history)],
                                "loss components": train_keys(history)})
