"""Experiment loggers beside results.csv: TensorBoard (`--logger tensorboard`).

results.csv is always written (the Trainer's own record, `csv`); the others are optional extras, imported when asked
for; MLflow is not offered, as its current releases do not install beside the tested set of packages. Rank 0
alone logs (the Trainer calls these only on the main process). What a logger receives:
- at the start, the run's config (a text panel of its config.yaml);
- after every epoch, every number of the epoch's record (losses, metrics, the learning rate, images/s, seconds),
  as a scalar at step = epoch;
- at the end, the final metrics and the run's report images (predictions on validation images, curves, confusion
  matrices: whatever PNGs the task wrote into the run folder).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from foveal.errors import FovealError

log = logging.getLogger("foveal")

_EXTRA = {"tensorboard": ("tensorboard", "tensorboard")}  # name: (module it needs, foveal extra that installs it)


def logger_names(value: str) -> tuple[str, ...]:
    """'csv,tensorboard' -> ('tensorboard',): the loggers besides results.csv (TrainConfig checked the names)."""
    return tuple(dict.fromkeys(n.strip() for n in value.split(",") if n.strip() in _EXTRA))


def scalars(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of an epoch's record (booleans, strings and private keys left out)."""
    return {k: float(v) for k, v in record.items()
            if not k.startswith("_") and k != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool)
            and np.isfinite(v)}


def _require(name: str):
    module, extra = _EXTRA[name]
    try:
        return __import__(module)
    except ImportError:
        raise FovealError(f"--logger {name} needs the {module} package: pip install 'foveal[{extra}]'") from None


class TensorBoardLogger:
    """Event files in the run folder itself (`tensorboard --logdir runs` shows every run by its folder name)."""

    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        _require("tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(log_dir=str(run_dir))
        self.writer.add_text("config", "```\n" + yaml.safe_dump(config, sort_keys=False) + "```", 0)

    def epoch(self, epoch: int, record: dict[str, Any]) -> None:
        for key, value in scalars(record).items():
            self.writer.add_scalar(_tag(key), value, epoch)
        self.writer.flush()

    def finish(self, metrics: dict[str, Any], images: list[Path], epoch: int) -> None:
        for key, value in scalars(metrics).items():
            self.writer.add_scalar(f"final/{key}", value, epoch)
        for path in images:
            self.writer.add_image(f"report/{path.stem}", _read_png(path), epoch, dataformats="HWC")
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def _tag(key: str) -> str:
    """train_loss -> train/loss, val_accuracy -> val/accuracy; the rest under run/ (lr, images_per_s, ...)."""
    for prefix in ("train_", "val_"):
        if key.startswith(prefix):
            return f"{prefix[:-1]}/{key[len(prefix):]}"
    return f"run/{key}"


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


class RunLoggers:
    """The run's loggers as one: each call goes to every one of them; a logger that fails is reported once and
    dropped, so that a full disk never stops the training."""

    def __init__(self, names: str, run_dir: Path, config: dict[str, Any]) -> None:
        kinds = {"tensorboard": TensorBoardLogger}
        self.run_dir = run_dir
        self.loggers = [kinds[n](run_dir, config) for n in logger_names(names)]

    def _each(self, method: str, *args: Any) -> None:
        for logger in list(self.loggers):
            try:
                getattr(logger, method)(*args)
            except Exception as exc:  # any failure of a third-party logger: the run goes on without it
                log.warning("the %s logger failed (%s: %s); the run goes on without it",
                            type(logger).__name__, type(exc).__name__, exc)
                self.loggers.remove(logger)

    def epoch(self, epoch: int, record: dict[str, Any]) -> None:
        self._each("epoch", epoch, record)

    def finish(self, metrics: dict[str, Any], epoch: int) -> None:
        images = sorted(self.run_dir.glob("*.png"))
        self._each("finish", metrics, images, epoch)
        self.close()

    def close(self) -> None:
        self._each("close")
        self.loggers = []
