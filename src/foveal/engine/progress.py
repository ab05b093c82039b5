"""One progress bar per epoch (rich), updated a few times a second so it costs nothing in the training loop;
a plain log line per epoch where the output is not a terminal."""

from __future__ import annotations

import sys
import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class EpochProgress:
    def __init__(self, epoch: int, epochs: int, steps: int, enabled: bool = True, interval: float = 0.25) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self.interval, self.next_update = interval, 0.0
        self.bar: Progress | None = None
        if self.enabled:
            self.bar = Progress(
                TextColumn(f"epoch {epoch}/{epochs}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(), transient=False,
            )
            self.task = self.bar.add_task("train", total=steps, stats="")
            self.bar.start()

    def due(self) -> bool:
        """Whether it is time for an update; callers compute stats only then."""
        if not self.enabled:
            return False
        now = time.perf_counter()
        if now < self.next_update:
            return False
        self.next_update = now + self.interval
        return True

    def update(self, step: int, stats: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, stats=stats)

    def close(self, step: int, stats: str) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step, stats=stats)
            self.bar.stop()
