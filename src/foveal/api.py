"""The Python API: the same verbs as the command line.

    m = foveal.Model("tinyvgg", task="classify")
    m.train(data="fashion-mnist", epochs=3)
    m.val()
    m.predict("shirt.png")
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from foveal.config import TrainConfig
from foveal.errors import FovealError
from foveal.types import Classification, Detections, Segmentation, Task

log = logging.getLogger("foveal")


def _is_checkpoint_ref(model: str | Path) -> bool:
    p = Path(model)
    return p.suffix in (".pt", ".pth") or p.is_dir() or (p.exists() and p.is_file())


class Model:
    """A model by registry name (untrained) or a checkpoint / run folder (trained)."""

    def __init__(self, model: str | Path | None = None, task: str = "classify", **model_kwargs: Any) -> None:
        from foveal.config import DEFAULT_MODELS

        self.task = Task.parse(task).value
        self._model_given = model is not None  # a recipe picks the network only when none was named
        model = model or DEFAULT_MODELS.get(self.task, "tinyvgg")
        self.checkpoint: Path | None = None
        self.run_dir: Path | None = None
        self.metrics: dict[str, Any] | None = None
        self.model_kwargs = model_kwargs
        if _is_checkpoint_ref(model):
            from foveal.engine.checkpoint import load_checkpoint, resolve_checkpoint

            self.checkpoint = resolve_checkpoint(model)
            ckpt = load_checkpoint(self.checkpoint)
            self.name, self.task, self._config = ckpt["card"]["model"], ckpt["card"]["task"], ckpt["config"]
        else:
            from foveal.models.registry import get_model_spec

            self.name = get_model_spec(str(model)).name
            self._config = None

    def __repr__(self) -> str:
        where = f", checkpoint={str(self.checkpoint)!r}" if self.checkpoint else ""
        return f"Model({self.name!r}, task={self.task!r}{where})"

    # --- train ----------------------------------------------------------------------------------------------

    def config(self, config_file: str | Path | None = None, **overrides: Any) -> TrainConfig:
        from foveal.config import TASK_DEFAULTS

        base = {"task": self.task, "model": self.name, **self.model_kwargs}
        given = {k: v for k, v in overrides.items() if v is not None}
        return TrainConfig.load(config_file, {**base, **given}, defaults=TASK_DEFAULTS.get(self.task))

    def train(self, data: str | Path | None = None, *, config: str | Path | None = None, resume: str | Path | bool | None = None,
              progress: bool = True, **overrides: Any) -> dict[str, Any]:
        """Train and return the metrics of the best epoch; the run folder is in `self.run_dir`."""
        from foveal.engine.checkpoint import load_checkpoint, resolve_checkpoint
        from foveal.engine.trainer import Trainer
        from foveal.tasks import get_task

        ckpt = None
        if resume:
            source = self.checkpoint if resume is True else resume
            if source is None:
                raise FovealError("resume=True needs a Model made from a checkpoint or run folder")
            path = resolve_checkpoint(source, prefer="last.pt")
            ckpt = load_checkpoint(path)
            cfg = resumed_config(ckpt["config"], {**overrides, "data": None if data is None else str(data)})
            run_dir = path.parent
        else:
            cfg = self.config(config, data=None if data is None else str(data), **overrides)
            run_dir = None
        splits = get_task(cfg.task, cfg.model).load_data(cfg)
        if cfg.recipe and ckpt is None:
            from foveal.config import file_keys
            from foveal.recipes import apply_recipe

            explicit = {k for k, v in overrides.items() if v is not None} | file_keys(config)
            cfg, applied = apply_recipe(cfg, splits, explicit | ({"model"} if self._model_given else set()))
            log.info("recipe %s: %s", cfg.recipe, ", ".join(f"{k}={v}" for k, v in applied.items()))
        if ckpt is not None and ckpt["epoch"] >= cfg.epochs:
            raise FovealError(f"nothing to resume: {run_dir} already finished its {cfg.epochs} epochs")
        if cfg.folds and ckpt is None:
            from foveal.engine.folds import train_folds

            self.run_dir, self.metrics = train_folds(cfg, splits, progress=progress)
            self.checkpoint, self._config = self.run_dir / "fold1" / "best.pt", cfg.to_dict()
            return self.metrics
        result = Trainer(cfg, splits, resume=ckpt, run_dir=run_dir, progress=progress).fit()
        self.run_dir, self.checkpoint, self.metrics = result.run_dir, result.best, result.metrics
        self._config = cfg.to_dict()
        return result.metrics

    # --- val -------------------------------------------------------------------------------------------------

    def val(self, data: str | Path | None = None, *, data_root: str | Path | None = None, project: str | Path = "runs",
            name: str = "val", batch_size: int | None = None, save: bool = True, tta: bool | None = None) -> dict[str, Any]:
        """Evaluate the trained weights; without `data`, on the validation split they were trained against."""
        from foveal.infer.evaluate import evaluate_checkpoint

        self._need_checkpoint("val")
        metrics, run_dir = evaluate_checkpoint(
            self.checkpoint, data=data, data_root=data_root, project=project if save else None, name=name,
            batch_size=batch_size, tta=tta,
        )
        self.metrics = metrics
        if run_dir is not None:
            log.info("validation results in %s", run_dir)
        return metrics

    # --- predict ---------------------------------------------------------------------------------------------

    def predict(self, source: str | Path | list[str | Path], *, save: bool = False, project: str | Path = "runs",
                name: str = "predict", top_k: int = 3, device: str = "cpu", tta: bool = False,
                **options: Any) -> list[Classification] | list[Detections] | list[Segmentation]:
        """Classifiers: the top labels of each image. Detectors: the Detections of each image, then of each video
        frame (`frame` set), with the options of `foveal predict` (conf, iou, classes, max_det, crop, margin).
        Segmenters: the Segmentation (class map) of each image, then of each frame (option: cutout)."""
        from foveal.infer.predictor import Predictor
        from foveal.infer.save import save_annotated

        self._need_checkpoint("predict")
        sources = source if isinstance(source, (list, tuple)) else [source]
        if self.task == "detect":
            from foveal.infer.detect_cli import detect_sources

            return detect_sources(self.checkpoint, list(sources), save=save, project=project, name=name, device=device,
                                  **options).all
        if self.task == "segment":
            from foveal.infer.segment_cli import segment_sources

            return segment_sources(self.checkpoint, list(sources), save=save, project=project, name=name, device=device,
                                   **options).all
        if options:
            raise FovealError(f"{', '.join(options)}: options of detectors and segmenters; {self.name} is a classifier")
        out = Predictor.from_checkpoint(self.checkpoint, device=device).predict(sources, tta=tta)
        if save and out.results:
            save_annotated(out, project, name, top_k)
        return out.results

    def _need_checkpoint(self, verb: str) -> None:
        if self.checkpoint is None:
            raise FovealError(f"{verb} needs trained weights: train first, or make the Model from a checkpoint (runs/<run>/best.pt)")


RESUME_CHANGEABLE = ("epochs", "patience", "device", "data", "data_root", "project")


def resumed_config(saved: dict[str, Any], overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of the run being resumed, with the few settings a resumed run may change."""
    given = {k: v for k, v in overrides.items() if v is not None}
    changed = sorted(k for k, v in given.items() if k not in RESUME_CHANGEABLE and saved.get(k) != v)
    if changed:
        raise FovealError(
            f"cannot change {', '.join(changed)} when resuming (a resumed run continues its saved settings; "
            f"only {', '.join(RESUME_CHANGEABLE)} may change); start a new run instead"
        )
    return TrainConfig.from_dict({**saved, **given})


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise FovealError(f"no metrics.json in {run_dir}: is it a finished foveal run folder?")
    return json.loads(path.read_text())
