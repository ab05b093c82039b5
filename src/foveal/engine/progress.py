"""What training shows while it runs: a progress bar per epoch (rich) in a terminal or a notebook, updated a few times
a second so it costs nothing in the training loop; elsewhere (a log file, a pipe) a plain line every
FOVEAL_PROGRESS_INTERVAL seconds (default 30) with the images per second and the time left in the epoch and the
run; and each epoch's line, which says which split each figure is from."""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from typing import Any

from foveal.errors import FovealError
from foveal.metrics.detection import metric_text

log = logging.getLogger("foveal")

INTERVAL_ENV = "FOVEAL_PROGRESS_INTERVAL"
DEFAULT_INTERVAL_S = 30.0
BAR_REFRESH_S = 0.25


def line_interval() -> float:
    """Seconds between two plain progress lines: FOVEAL_PROGRESS_INTERVAL, else 30."""
    value = os.environ.get(INTERVAL_ENV)
    if value is None or not value.strip():
        return DEFAULT_INTERVAL_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:  # also refuses nan
        raise FovealError(f"{INTERVAL_ENV} must be a number of seconds >= 0; got {value!r}")
    return seconds


def display_kind() -> str:
    """"bar" where rich can redraw a bar in place: a terminal, or a Jupyter notebook with ipywidgets (rich draws its
    live displays in a widget there); "lines" anywhere else."""
    from rich.console import Console

    console = Console(stderr=True)
    if console.is_terminal:
        return "bar"
    if console.is_jupyter and importlib.util.find_spec("ipywidgets") is not None:
        return "bar"
    return "lines"


def clock(seconds: float) -> str:
    """h:mm:ss."""
    seconds = max(0, round(seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class EpochProgress:
    """The progress of one epoch. `eval_s`: the seconds an evaluation takes (0 when not known yet), for the time left
    in the run."""

    def __init__(self, epoch: int, epochs: int, steps: int, enabled: bool = True, eval_s: float = 0.0) -> None:
        self.epoch, self.epochs, self.steps, self.eval_s = epoch, epochs, steps, eval_s
        self.kind = display_kind() if enabled else "off"
        self.interval = BAR_REFRESH_S if self.kind == "bar" else line_interval()
        self.start = time.perf_counter()
        self.next_update = self.start + (0.0 if self.kind == "bar" else self.interval)
        self.bar = None
        if self.kind == "bar":
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                       TimeRemainingColumn)

            self.bar = Progress(
                TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
                console=Console(stderr=True),
            )
            self.task = self.bar.add_task("train", total=steps, stats="")
            self.bar.start()

    def due(self) -> bool:
        """Whether it is time for an update; callers compute stats only then."""
        if self.kind == "off":
            return False
        now = time.perf_counter()
        if now < self.next_update:
            return False
        self.next_update = now + self.interval
        return True

    def update(self, step: int, stats: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, stats=stats)
        elif self.kind == "lines":
            log.info("%s", self.line(step, stats))

    def line(self, step: int, stats: str) -> str:
        """epoch 2/10  step 120/450 (27%)  loss 0.4311 accuracy 0.8712 310 img/s  epoch left 0:00:41  run left 0:08:12"""
        elapsed = time.perf_counter() - self.start
        epoch_s = elapsed * self.steps / max(step, 1)  # this epoch's training at its pace so far
        epoch_left = epoch_s - elapsed
        run_left = epoch_left + self.eval_s + (self.epochs - self.epoch) * (epoch_s + self.eval_s)
        return (f"epoch {self.epoch}/{self.epochs}  step {step}/{self.steps} ({step / max(self.steps, 1):.0%})  {stats}  "
                f"epoch left {clock(epoch_left)}  run left {clock(run_left)}")

    def close(self, step: int, stats: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, stats=stats)
            self.bar.stop()


def epoch_line(record: dict[str, Any], epochs: int, fitness_key: str, best: bool) -> str:
    """One epoch's figures, each under its split: the training loss and the training metrics that have a validation
    counterpart, then (on an evaluated epoch) the validation loss, those metrics and the fitness metric.

        epoch 3/10  train loss 0.4012 accuracy 0.8610  val loss 0.3811 accuracy 0.8702  2.1s  9000 img/s  *best
    """
    shared = [k[6:] for k in record if k.startswith("train_") and f"val_{k[6:]}" in record and k != "train_loss"]
    parts = [f"epoch {record['epoch']}/{epochs}", "train " + " ".join(
        [f"loss {record['train_loss']:.4f}", *(f"{k} {record['train_' + k]:.4f}" for k in shared)])]
    if f"val_{fitness_key}" in record:
        keys = (["loss"] if "val_loss" in record else []) + shared + ([fitness_key] if fitness_key not in shared else [])
        parts.append("val " + " ".join(f"{k} {metric_text(record['val_' + k])}" for k in keys))
    parts += [f"{record['time_s']:.1f}s", f"{record['images_per_s']:.0f} img/s"] + (["*best"] if best else [])
    return "  ".join(parts)

