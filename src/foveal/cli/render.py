"""What the command line prints: its log lines (to stderr), and metrics: the headline figures on one line, then per
class."""

from __future__ import annotations

import logging

import typer

from foveal.logs import configure
from foveal.metrics.detection import metric_text


def setup_logging(quiet: bool = False) -> None:
    configure(logging.WARNING if quiet else logging.INFO)


HEADLINE = ("accuracy", "top5_accuracy", "loss", "log_loss", "ece", "temperature", "f1_macro", "miou", "pixel_accuracy", "mask_map",
            "mask_map50", "map", "map50", "map75", "map_small", "map_medium", "map_large", "mar100", "train_time_s")


def summary_lines(metrics: dict, per_class: bool = False) -> list[str]:
    """The headline metrics a run or evaluation has; with `per_class`, a detector's AP per class (best first) and a
    classifier's precision, recall and F1 per class."""
    lines = ["  ".join(f"{k} {metric_text(metrics[k])}" for k in HEADLINE if isinstance(metrics.get(k), float))]
    if per_class and "per_class_ap" in metrics:
        for name, ap in sorted(metrics["per_class_ap"].items(), key=lambda kv: -kv[1]):
            lines.append(f"  {name:>20}  AP {ap:.3f}" if ap >= 0 else f"  {name:>20}  AP -   (no objects)")
    if per_class and "per_class" in metrics:
        for name, m in metrics["per_class"].items():
            lines.append(f"  {name:>20}  precision {m['precision']:.3f}  recall {m['recall']:.3f}  f1 {m['f1']:.3f}  "
                         f"n {m['support']}")
    return lines


def echo_lines(lines: list[str]) -> None:
    for line in lines:
        typer.echo(line)
