"""Training curves, confusion matrices, image grids and run comparisons as PNG files.

Figures are built with `matplotlib.figure.Figure` directly (no pyplot, no global backend switch), rendered
by Agg when saved, and cleared after saving so nothing accumulates across calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

DPI = 120
CORRECT, WRONG = "#1a7f37", "#d1242f"
_MAX_CELL_NUMBERS = 30  # above this many classes the confusion matrix shows colours only
_MAX_TICK_LABELS = 60  # above this many classes the axes carry no class names


def _save(fig: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    fig.clear()
    return path


def _empty(ax, text: str = "no data") -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="grey")
    ax.set_xticks([])
    ax.set_yticks([])


def _series(history: Sequence[Mapping], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of one metric, skipping epochs where it is missing or None."""
    xs, ys = [], []
    for i, row in enumerate(history):
        value = row.get(key)
        if value is not None and np.isfinite(value):
            epoch = row.get("epoch")
            xs.append(float(i + 1 if epoch is None else epoch))
            ys.append(float(value))
    return xs, ys


LOSS_AND_ACCURACY = {"loss": ("train_loss", "val_loss"), "accuracy": ("train_accuracy", "val_accuracy")}


def plot_curves(history: Sequence[Mapping], path: str | Path,
                panels: Mapping[str, Sequence[str]] = LOSS_AND_ACCURACY) -> Path:
    """One panel per entry of `panels` (its title: the history keys drawn in it), one line per key over the epochs,
    from one dict per epoch (missing values are skipped); training figures solid, validation ones dashed."""
    fig = Figure(figsize=(5 * len(panels), 4), layout="tight")
    for ax, (title, keys) in zip(np.atleast_1d(fig.subplots(1, len(panels), squeeze=False)).ravel(), panels.items()):
        drawn = False
        for key in keys:
            xs, ys = _series(history, key)
            if xs:
                style = "--s" if key.startswith("val_") else "-o"
                ax.plot(xs, ys, style, label=key.replace("_", " ", 1), markersize=4 if len(xs) < 40 else 0)
                drawn = True
        if not drawn:
            _empty(ax)
        else:
            ax.set_xlabel("epoch")
            ax.legend()
            ax.grid(alpha=0.3)
            ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title(title)
    return _save(fig, path)


def train_keys(history: Sequence[Mapping], exclude: Sequence[str] = ("train_loss", "train_s")) -> list[str]:
    """The per-epoch training figures a history holds besides the loss and the time (a detector's loss components,
    a segmenter's pixel accuracy), in the order they first appear."""
    return [k for k in dict.fromkeys(k for row in history for k in row) if k.startswith("train_") and k not in exclude]


def normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows = true class), so non-empty rows sum to 1; empty rows stay 0."""
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)


def _cell_numbers(ax, values: np.ndarray, normalize: bool) -> None:
    threshold = values.max() / 2 if values.size else 0
    size = 9 if len(values) <= 10 else 7 if len(values) <= 20 else 6
    for (i, j), v in np.ndenumerate(values):
        text = f"{v:.2f}" if normalize else f"{int(round(v))}"
        ax.text(j, i, text, ha="center", va="center", fontsize=size, color="white" if v > threshold else "black")


def plot_confusion(
    matrix: np.ndarray, classes: Sequence[str], path: str | Path, normalize: bool = False
) -> Path:
    """A confusion matrix, rows = true class, columns = predicted; counts, or row-normalised when `normalize`."""
    matrix = np.asarray(matrix)
    n = len(classes)
    if matrix.shape != (n, n):
        raise ValueError(f"confusion matrix must be ({n}, {n}) for {n} classes, got {matrix.shape}")
    values = normalize_rows(matrix) if normalize else matrix.astype(np.float64)
    side = min(max(4.5, (0.45 if n <= _MAX_CELL_NUMBERS else 0.28) * n + 2.5), 18)
    fig = Figure(figsize=(side + 1, side), layout="tight")
    ax = fig.subplots()
    im = ax.imshow(values, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if n <= _MAX_TICK_LABELS:
        font = 10 if n <= 15 else 8 if n <= 30 else 7
        ax.set_xticks(range(n), [str(c) for c in classes], rotation=45 if n > 4 else 0, ha="right" if n > 4 else "center",
                      rotation_mode="anchor", fontsize=font)
        ax.set_yticks(range(n), [str(c) for c in classes], fontsize=font)
    if n <= _MAX_CELL_NUMBERS:
        _cell_numbers(ax, values, normalize)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix" + (" (row-normalised)" if normalize else ""))
    return _save(fig, path)


def _to_hwc(image: torch.Tensor) -> np.ndarray:
    array = image.detach().cpu().numpy()
    return array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)


def image_grid(
    images: torch.Tensor,
    titles: Sequence[str],
    path: str | Path,
    wrong: Sequence[bool] | None = None,
    ncols: int = 8,
) -> Path:
    """uint8 (N, C, H, W) images, C in {1, 3}, in a grid with a title over each; with `wrong`, titles of wrong
    predictions are red and correct ones green. Small images are drawn with nearest interpolation."""
    images = torch.as_tensor(images)
    if images.ndim != 4 or images.dtype != torch.uint8 or images.shape[1] not in (1, 3):
        raise ValueError(f"images must be uint8 (N, C, H, W) with C in {{1, 3}}; got {images.dtype} {tuple(images.shape)}")
    n = len(images)
    if len(titles) != n or (wrong is not None and len(wrong) != n):
        raise ValueError(f"need one title (and one `wrong` flag) per image: {n} images, {len(titles)} titles")
    ncols = max(1, min(ncols, n))
    nrows = max(1, math.ceil(n / ncols))
    h, w = images.shape[2:]
    cell = 1.7
    lines = max((str(t).count("\n") + 1 for t in titles), default=1)
    fig = Figure(figsize=(cell * ncols, (cell * h / w + 0.18 * lines + 0.1) * nrows), layout="tight")
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    interpolation = "nearest" if max(h, w) < 128 else "antialiased"
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        grey = images.shape[1] == 1
        ax.imshow(_to_hwc(images[i]), cmap="gray" if grey else None, vmin=0, vmax=255, interpolation=interpolation)
        colour = "black" if wrong is None else WRONG if wrong[i] else CORRECT
        ax.set_title(str(titles[i]), fontsize=8, color=colour, fontweight="bold" if wrong is not None and wrong[i] else None)
    if n == 0:
        _empty(axes[0], "no images")
    return _save(fig, path)


def format_value(value: float) -> str:
    """A bar label: integers in full, floats to three significant digits (0.931, 12.3, 45.0, 123, 1,234)."""
    if isinstance(value, (bool, int, np.integer)):
        return f"{int(value):,}"
    value = float(value)
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = min(max(0, 2 - math.floor(math.log10(abs(value)))), 4)
    return f"{value:,.{decimals}f}"


def plot_compare(
    rows: Sequence[Mapping],
    path: str | Path,
    metrics: Sequence[str] = ("accuracy", "train_time_s"),
    label_key: str = "name",
) -> Path:
    """One bar panel per metric, one bar per run (labelled by `row[label_key]`), each bar with its value."""
    labels = [str(row.get(label_key, f"run {i + 1}")) for i, row in enumerate(rows)]
    width = max(4.0, 0.7 * len(rows) + 1.5)
    fig = Figure(figsize=(width * len(metrics), 4.2), layout="tight")
    axes = np.atleast_1d(fig.subplots(1, max(len(metrics), 1), squeeze=False)).ravel()
    colours = [f"C{i % 10}" for i in range(len(rows))]
    tilted = len(rows) > 3 or max(map(len, labels), default=0) > 12  # labels that would run into each other
    for ax, metric in zip(axes, metrics):
        present = [(i, row[metric]) for i, row in enumerate(rows) if row.get(metric) is not None]
        ax.set_title(metric)
        if not present:
            _empty(ax)
            continue
        xs = [i for i, _ in present]
        bars = ax.bar(xs, [float(v) for _, v in present], color=[colours[i] for i in xs])
        ax.bar_label(bars, labels=[format_value(v) for _, v in present], padding=2, fontsize=9)
        for i in sorted(set(range(len(rows))) - set(xs)):
            ax.text(i, 0, "n/a", ha="center", va="bottom", fontsize=9, color="grey")
        ax.set_xticks(range(len(rows)), labels, rotation=30 if tilted else 0, ha="right" if tilted else "center",
                      rotation_mode="anchor")
        ax.set_xlim(-0.6, len(rows) - 0.4)
        ax.margins(y=0.12)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    return _save(fig, path)


__all__ = ["plot_curves", "train_keys", "LOSS_AND_ACCURACY", "plot_confusion", "normalize_rows", "image_grid", "plot_compare", "format_value"]
