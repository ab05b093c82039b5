"""Experiment loggers beside results.csv: TensorBoard (`--logger tensorboard`) and MLflow (`--logger mlflow`).

results.csv is always written (the Trainer's own record, `csv`); the others are optional extras, imported when asked
for. Rank 0 alone logs (the Trainer calls these only on the main process). What a logger receives:
- at the start, the run's config (a text panel of its config.yaml);
- after every epoch, every number of the epoch's record (losses, metrics, the learning rate, images/s, seconds),
  as a scalar at step = epoch;
- at the end, the final metrics and the run's report images (predictions on validation images, curves, confusion
  matrices: whatever PNGs the task wrote into the run folder).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from foveal.errors import FovealError
from foveal.fileio import write_text_atomic

log = logging.getLogger("foveal")

# name: (module it needs, foveal extra that installs it)
_EXTRA = {"tensorboard": ("tensorboard", "tensorboard"), "mlflow": ("mlflow", "mlflow")}


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


class MlflowLogger:
    """A run of an MLflow experiment. Where: the MLFLOW_TRACKING_URI of the environment (a server, a database) if it
    names one, else a SQLite database beside the run folders, `<project>/mlflow.db`, with artifacts in
    `<project>/mlartifacts` (`mlflow ui --backend-store-uri sqlite:///runs/mlflow.db` shows them). The experiment is
    MLFLOW_EXPERIMENT_NAME or the project folder's name, the run is named after the run folder. Params: the config's
    fields; metrics: as TensorBoard's tags; artifacts: config.yaml, results.csv and the report images. A resumed run
    goes on in the same MLflow run (its id is kept in the run folder, `mlflow_run_id`)."""

    def __init__(self, run_dir: Path, config: dict[str, Any]) -> None:
        _require("mlflow")
        for noisy in ("alembic", "mlflow.store"):  # the database's set-up talks at INFO level
            logging.getLogger(noisy).setLevel(logging.WARNING)
        from mlflow.tracking import MlflowClient

        project = run_dir.parent.resolve()
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{project / 'mlflow.db'}"
        self.client = MlflowClient(tracking_uri=uri)
        self.run_dir = run_dir
        self.finished = False
        kept = run_dir / "mlflow_run_id"
        if kept.is_file():
            self.run_id = kept.read_text().strip()
            self.client.update_run(self.run_id, status="RUNNING")
            log.info("MLflow: continuing run %s in %s", self.run_id, uri)
            return
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or project.name
        experiment = self.client.get_experiment_by_name(name)
        experiment_id = experiment.experiment_id if experiment else self.client.create_experiment(
            name, artifact_location=None if os.environ.get("MLFLOW_TRACKING_URI") else (project / "mlartifacts").as_uri())
        self.run_id = self.client.create_run(experiment_id, run_name=run_dir.name,
                                             tags={"foveal.run_dir": str(run_dir.resolve())}).info.run_id
        write_text_atomic(kept, self.run_id + "\n")
        log.info("MLflow: run %s of experiment %r in %s", self.run_id, name, uri)
        from mlflow.entities import Param

        params = [Param(k, str(v)[:6000]) for k, v in config.items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params in one batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])

    def _metrics(self, values: dict[str, float], step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in values.items()])

    def epoch(self, epoch: int, record: dict[str, Any]) -> None:
        self._metrics({_tag(k): v for k, v in scalars(record).items()}, epoch)

    def finish(self, metrics: dict[str, Any], images: list[Path], epoch: int) -> None:
        self._metrics({f"final/{k}": v for k, v in scalars(metrics).items()}, epoch)
        for name in ("config.yaml", "results.csv"):
            if (self.run_dir / name).is_file():
                self.client.log_artifact(self.run_id, str(self.run_dir / name))
        for path in images:
            self.client.log_artifact(self.run_id, str(path), artifact_path="report")
        self.client.set_terminated(self.run_id, "FINISHED")
        self.finished = True

    def close(self) -> None:
        if not self.finished:  # the run stopped before its end: an error, Ctrl-C
            self.client.set_terminated(self.run_id, "FAILED")
            self.finished = True


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
        kinds = {"tensorboard": TensorBoardLogger, "mlflow": MlflowLogger}
        self.run_dir = run_dir
        self.loggers = []
        for name in logger_names(names):
            try:
                self.loggers.append(kinds[name](run_dir, config))
            except FovealError:  # its package is not installed: the user asked for it, so the run does not start
                raise
            except Exception as exc:  # a tracking server that refuses, a database that cannot be written
                log.warning("the %s logger could not start (%s: %s); the run goes on without it",
                            name, type(exc).__name__, exc)

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
