"""Comparing finished runs of any task: the headline metrics (accuracy, mAP, mIoU), train time, parameters,
multiply-adds and the speed of the predict path, as a table, a CSV and a bar chart that never overwrite earlier ones.
Each run is named by its folder (with as much of its path as tells two folders of one name apart)."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from foveal.api import read_metrics
from foveal.engine.checkpoint import load_model, resolve_checkpoint
from foveal.engine.rundir import new_file
from foveal.errors import FovealError
from foveal.models.card import ModelCard
from foveal.models.cost import count_macs, latency_ms
from foveal.models.registry import count_parameters
from foveal.tasks import resolve_task

# the metrics a run may have, in the order shown; classifiers by accuracy, detectors by mAP, segmenters by mIoU,
# instance segmenters by mask mAP
METRICS = ("accuracy", "loss", "map50", "map", "mask_map50", "mask_map", "miou", "pixel_accuracy")
CHARTED = ("accuracy", "map50", "mask_map50", "miou")  # one headline metric per task
COSTS = ("train_time_s", "parameters", "macs", "latency_ms", "inference_images_per_s")
PERCENT = ("accuracy", "pixel_accuracy")


def predict_path(model: torch.nn.Module, card: ModelCard) -> tuple[Callable[[list[torch.Tensor]], Any], int]:
    """(the task's predict path on the CPU for a list of decoded uint8 images already at the card's size, the batch
    size its throughput is measured at): what `foveal predict` runs after decoding, for each task."""
    task = resolve_task(card.task, card.model).name
    if task == "classify":
        from foveal.tasks.classify.predict import Predictor

        predictor = Predictor(model, card, device="cpu")
        return (lambda images: predictor.probabilities(torch.stack(images))), 256
    if task == "segment":
        from foveal.tasks.segment.predict import SegmentPredictor

        return SegmentPredictor(model, card, device="cpu").segment, 8
    if task == "instance":
        from foveal.tasks.instance.predict import InstancePredictor as Dense
    else:
        from foveal.tasks.detect.predict import DetectPredictor as Dense
    return Dense(model, card, device="cpu").detect, 8


def random_images(card: ModelCard, n: int) -> list[torch.Tensor]:
    """n uint8 images of the card's channels and input size."""
    c, (h, w) = card.in_channels, card.input_size
    return list(torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8))


def run_names(runs: Sequence[str | Path]) -> list[str]:
    """Each run's folder name, with as many parent folders as tell it apart from the others (a/lenet, b/lenet); the
    same folder given twice is numbered (lenet, lenet (2))."""
    paths = [Path(r).resolve() for r in runs]
    names = []
    for p in paths:
        others = [q for q in paths if q != p]
        depth = 1
        while depth < len(p.parts) and any(q.parts[-depth:] == p.parts[-depth:] for q in others):
            depth += 1
        names.append("/".join(p.parts[-depth:]))
    seen: Counter[str] = Counter()
    numbered = []
    for name in names:
        seen[name] += 1
        numbered.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return numbered


def compare_runs(run_dirs: Sequence[str | Path], *, speed: bool = True) -> list[dict[str, Any]]:
    if len(run_dirs) < 1:
        raise FovealError("compare needs at least one run folder")
    rows = []
    for run, name in zip(run_dirs, run_names(run_dirs)):
        metrics = read_metrics(run)
        model, card, _ = load_model(resolve_checkpoint(run))
        row = {"name": name, "model": card.model, "task": metrics.get("task", card.task), "data": metrics.get("data", ""),
               **{k: metrics[k] for k in METRICS if isinstance(metrics.get(k), (int, float))},
               "train_time_s": metrics.get("train_time_s"), "parameters": count_parameters(model),
               "macs": count_macs(model, card.in_channels, card.input_size)}
        if speed:
            predict, batch = predict_path(model, card)
            row["latency_ms"] = latency_ms(predict, random_images(card, 1))
            row["inference_images_per_s"] = batch / (latency_ms(predict, random_images(card, batch), repeats=5,
                                                                warmup=1) / 1000)
        rows.append(row)
    return rows


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """name, model, data, the metrics any row has (which tell the task), then the costs."""
    return ["name", "model", "data", *(k for k in METRICS if any(k in r for r in rows)), *COSTS]


def write_comparison(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """A bar chart PNG and a CSV of the same rows beside it, at `out` or, where a comparison is there already, at the
    next free name (compare2.png and compare2.csv)."""
    from foveal.viz.plots import plot_compare

    chart = new_file(out, also=(".csv",))
    metrics = [m for m in (*CHARTED, *COSTS) if any(r.get(m) is not None for r in rows)]
    plot_compare(rows, chart, metrics=metrics, label_key="name")
    table = chart.with_suffix(".csv")
    names = columns(rows)
    with table.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=names)
        w.writeheader()
        w.writerows([{k: r.get(k) for k in names} for r in rows])
    return chart, table


def format_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="foveal compare")
    names = columns(rows)
    for col in names:
        table.add_column(col.replace("_", " "), justify="left" if col in ("name", "model", "data") else "right")
    for r in rows:
        table.add_row(*[_fmt(col, r.get(col)) for col in names])
    return table


def _fmt(col: str, v: Any) -> str:
    if v is None:
        return "-"
    if col in ("parameters", "macs"):
        return f"{v:,}"
    if col == "latency_ms":
        return f"{v:.2f}"
    if col in PERCENT:
        return f"{v:.2%}"
    if col in METRICS:
        return f"{v:.4f}"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)
