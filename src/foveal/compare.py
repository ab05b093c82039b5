"""Comparing finished runs: accuracy, loss, train time, parameters and inference speed, as a table and a bar chart."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from foveal.api import read_metrics
from foveal.engine.checkpoint import load_model, resolve_checkpoint
from foveal.errors import FovealError
from foveal.tasks.classify.predict import Predictor
from foveal.models.cost import count_macs, latency_ms
from foveal.models.registry import count_parameters

COLUMNS = ("name", "model", "data", "accuracy", "loss", "train_time_s", "parameters", "macs", "latency_ms",
           "inference_images_per_s")


def inference_speed(predictor: Predictor, batch: int = 256, repeats: int = 5) -> float:
    """Images per second through the whole predict path (normalise + forward + softmax), median of repeats."""
    x = random_images(predictor, batch)
    return batch / (latency_ms(predictor.probabilities, x, repeats=repeats, warmup=1) / 1000)


def random_images(predictor: Predictor, n: int) -> torch.Tensor:
    """n uint8 images of the card's channels and input size."""
    c, (h, w) = predictor.card.in_channels, predictor.card.input_size
    return torch.randint(0, 256, (n, c, h, w), dtype=torch.uint8)


def compare_runs(run_dirs: Sequence[str | Path], *, speed: bool = True) -> list[dict[str, Any]]:
    if len(run_dirs) < 1:
        raise FovealError("compare needs at least one run folder")
    rows = []
    for run in run_dirs:
        run = Path(run)
        metrics = read_metrics(run)
        model, card, _ = load_model(resolve_checkpoint(run))
        row = {
            "name": run.name, "model": card.model, "data": metrics.get("data", ""),
            "accuracy": metrics.get("accuracy"), "loss": metrics.get("loss"), "train_time_s": metrics.get("train_time_s"),
            "parameters": count_parameters(model),
        }
        row["macs"] = count_macs(model, card.in_channels, card.input_size)
        predictor = Predictor(model, card)
        if speed:
            row["latency_ms"] = latency_ms(predictor.probabilities, random_images(predictor, 1))
            row["inference_images_per_s"] = inference_speed(predictor)
        rows.append(row)
    return rows


def write_comparison(rows: list[dict[str, Any]], out: Path) -> tuple[Path, Path]:
    """A bar chart PNG and a CSV of the same rows."""
    from foveal.viz.plots import plot_compare

    out.parent.mkdir(parents=True, exist_ok=True)
    metrics = [m for m in ("accuracy", "train_time_s", "inference_images_per_s") if any(r.get(m) is not None for r in rows)]
    plot_compare(rows, out, metrics=metrics, label_key="name")
    table = out.with_suffix(".csv")
    with table.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS)
        w.writeheader()
        w.writerows([{k: r.get(k) for k in COLUMNS} for r in rows])
    return out, table


def format_table(rows: list[dict[str, Any]]):
    from rich.table import Table

    table = Table(title="foveal compare")
    for col in COLUMNS:
        table.add_column(col.replace("_", " "), justify="left" if col in ("name", "model", "data") else "right")
    for r in rows:
        table.add_row(*[_fmt(col, r.get(col)) for col in COLUMNS])
    return table


def _fmt(col: str, v: Any) -> str:
    if v is None:
        return "-"
    if col in ("parameters", "macs"):
        return f"{v:,}"
    if col == "latency_ms":
        return f"{v:.2f}"
    if col in ("accuracy",):
        return f"{v:.2%}"
    if col == "loss":
        return f"{v:.4f}"
    if isinstance(v, float):
        return f"{v:,.1f}"
    return str(v)
