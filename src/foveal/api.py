"""The Python API: the same verbs as the command line, which calls it; the one place that resolves which task a
model is (through the task table, tasks/__init__.py) and hands that Task to the Trainer, the evaluation and the
predictors.

    m = foveal.Model("tinyvgg")            # the task follows the model (fcos: detect)
    m.train(data="fashion-mnist", epochs=3)
    m.val()
    m.predict("shirt.png")
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from foveal.config import TrainConfig
from foveal.errors import FovealError
from foveal.logs import default_logging
from foveal.tasks import resolve_task
from foveal.types import Classification, Detections, Segmentation

if TYPE_CHECKING:
    from foveal.export import Exported
    from foveal.export.benchmark import Benchmark
    from foveal.infer.sources import PredictRun

log = logging.getLogger("foveal")


def _is_checkpoint_ref(model: str | Path) -> bool:
    p = Path(model)
    return p.suffix in (".pt", ".pth", ".onnx", ".xml") or p.is_dir() or (p.exists() and p.is_file())


class Model:
    """A model by registry name (untrained) or a checkpoint / run folder (trained). Its task is the one the registry
    or the checkpoint gives; `task` is needed only to pick the default model of a task, and a task that contradicts
    the model's is refused."""

    def __init__(self, model: str | Path | None = None, task: str | None = None, **model_kwargs: Any) -> None:
        self._model_given = model is not None  # a recipe picks the network only when none was named
        self.checkpoint: Path | None = None
        self.run_dir: Path | None = None
        self.metrics: dict[str, Any] | None = None
        self.val_dir: Path | None = None  # where the last val() wrote its results
        self.model_kwargs = model_kwargs
        if model is not None and _is_checkpoint_ref(model):
            from foveal.engine.checkpoint import load_checkpoint, resolve_checkpoint

            self.checkpoint = resolve_checkpoint(model)
            ckpt = load_checkpoint(self.checkpoint)
            self.name, own = ckpt["card"]["model"], ckpt["card"]["task"]
            where = f"the checkpoint {self.checkpoint} holds a {own} model ({self.name})"
        else:
            from foveal.models.registry import get_model_spec

            if model is None:
                named = resolve_task(task or "classify")
                model = (model_kwargs.get("pretrained") and named.pretrained_model) or named.default_model
            spec = get_model_spec(str(model))
            self.name, own = spec.name, spec.task
            where = f"{self.name} is a {own} model"
        if task is not None and task != own and resolve_task(task, self.name) is not resolve_task(own, self.name):
            raise FovealError(f"{where}; task {task!r} contradicts it (leave the task out: it follows the model)")
        self.task_type = resolve_task(own, self.name)  # the Task, resolved once
        self.task = self.task_type.card_task

    def __repr__(self) -> str:
        where = f", checkpoint={str(self.checkpoint)!r}" if self.checkpoint else ""
        return f"Model({self.name!r}, task={self.task!r}{where})"

    # --- train ----------------------------------------------------------------------------------------------

    def config(self, config_file: str | Path | None = None, **overrides: Any) -> TrainConfig:
        base = {"task": self.task, "model": self.name, **self.model_kwargs}
        given = {k: v for k, v in overrides.items() if v is not None}
        if str(given.get("weights", "")).lower() == "none":  # Ultralytics' way of saying "from scratch"
            given = {**given, "weights": None, "pretrained": False}
        cfg = TrainConfig.load(config_file, {**base, **given}, defaults=self.task_type.defaults)
        if cfg.pretrained is None:
            cfg = cfg.replace(pretrained=self.task_type.pretrained_by_default(cfg))
        defaults = self.task_type.run_defaults(cfg)  # a fine-tune's own, under what the user gave
        if defaults != self.task_type.defaults:
            cfg = TrainConfig.load(config_file, {**base, **given, "pretrained": cfg.pretrained}, defaults=defaults)
        return cfg

    def train(self, data: str | Path | None = None, *, config: str | Path | None = None, resume: str | Path | bool | None = None,
              progress: bool = True, **overrides: Any) -> dict[str, Any]:
        """Train and return the metrics of the best epoch; the run folder is in `self.run_dir`."""
        from foveal.engine.checkpoint import load_checkpoint, resolve_checkpoint
        from foveal.engine.device import select_device
        from foveal.engine.distributed import broadcast, join, main_first
        from foveal.engine.trainer import Trainer
        from foveal.runtime import is_exported

        default_logging()
        ckpt = None
        if resume:
            source = self.checkpoint if resume is True else resume
            if source is None:
                raise FovealError("resume=True needs a Model made from a checkpoint or run folder")
            if resume is True and self.checkpoint.name == "best.pt":
                source = self.checkpoint.parent  # a run continues from its last epoch, not its best one
            path = resolve_checkpoint(source, prefer="last.pt")
            if is_exported(path):
                raise FovealError(f"cannot resume from {path}: an exported file holds no training state; resume from "
                                  "the run's folder or its last.pt")
            ckpt = load_checkpoint(path)
            self._check_resumes(path, ckpt["card"])
            cfg = resumed_config(ckpt["config"], {**overrides, "data": None if data is None else str(data)})
            run_dir = path.parent
        else:
            cfg = self.config(config, data=None if data is None else str(data), **overrides)
            run_dir = None
        task = self.task_type
        world = join(cfg.dist_backend, select_device(cfg.device), cfg.dist_timeout)
        if world.distributed and cfg.folds and ckpt is None:
            raise FovealError("--folds trains its folds one after another in one process; run it without --nproc")
        with main_first(world):  # rank 0 decodes the data into the cache, the others then read it
            splits = task.load_data(cfg)
        if not self._model_given and ckpt is None and not cfg.recipe:
            chosen = task.default_model_for(cfg, splits)  # the task's default may depend on the data
            if chosen != cfg.model:
                self.name, cfg = chosen, cfg.replace(model=chosen)
        if cfg.recipe and ckpt is None:
            from foveal.config import file_keys
            from foveal.tasks.classify.fit import apply_recipe

            explicit = {k for k, v in overrides.items() if v is not None} | file_keys(config)
            with main_first(world):  # rank 0 measures the pace, the others read it from the cache
                fitted = apply_recipe(cfg, splits, explicit | ({"model"} if self._model_given else set()),
                                      ranks=world.size)
            cfg, applied, fit = broadcast(fitted, world)  # every rank trains rank 0's choice
            log.info("recipe %s: %s; chose %s", cfg.recipe, ", ".join(f"{k}={v}" for k, v in applied.items()),
                     fit.line())
        if ckpt is not None and ckpt["epoch"] >= cfg.epochs and _finished(run_dir, ckpt):
            raise FovealError(f"nothing to resume: {run_dir} already finished its {cfg.epochs} epochs")
        if cfg.folds and ckpt is None:
            self.run_dir, self.metrics = task.cross_validate(cfg, splits, progress=progress)
            self.checkpoint = self.run_dir / "fold1" / "best.pt"
            return self.metrics
        result = Trainer(cfg, splits, task, resume=ckpt, run_dir=run_dir, progress=progress).fit()
        self.run_dir, self.checkpoint, self.metrics = result.run_dir, result.best, result.metrics
        return result.metrics

    # --- val -------------------------------------------------------------------------------------------------

    def val(self, data: str | Path | None = None, *, data_root: str | Path | None = None, project: str | Path = "runs",
            name: str = "val", batch_size: int | None = None, save: bool = True, tta: bool | None = None,
            ensemble: list[str | Path] = (), device: str = "auto", split: str = "val",
            calibrate: bool = False) -> dict[str, Any]:
        """Evaluate the trained weights (with `ensemble`, the mean of their probabilities and those of the other
        checkpoints); without `data`, on the data they were trained on; its validation split, or with `split="test"`
        its labelled test split (an image folder's test/, CamVid's test/, a data.yaml's `test:`). With `calibrate`
        (classifiers), fit a temperature to the logits of that split and save it in the checkpoint: from then on
        val and predict divide the logits by it. The figures on the split it was fitted on are optimistic."""
        from foveal.infer.evaluate import evaluate_checkpoints
        from foveal.runtime import is_exported

        self._need_checkpoint("val")
        if calibrate and is_exported(self.checkpoint):
            raise FovealError(f"--calibrate saves a temperature in a checkpoint; calibrate the .pt that {self.checkpoint} "
                              "was exported from, then export it again")
        default_logging()
        metrics, run_dir = evaluate_checkpoints(
            [self.checkpoint, *ensemble], lambda card: resolve_task(card.task, card.model), data=data,
            data_root=data_root, project=project if save else None, name=name, batch_size=batch_size, tta=tta,
            device=device, split=split, calibrate=calibrate,
        )
        self.metrics, self.val_dir = metrics, run_dir
        if run_dir is not None:
            log.info("validation results in %s", run_dir)
        return metrics

    # --- export ----------------------------------------------------------------------------------------------

    def export(self, format: str = "onnx", *, int8: bool = False, data: str | Path | None = None,
               out: str | Path | None = None, check: bool = True) -> Exported:
        """Write the trained weights as an ONNX file or an OpenVINO IR (fp32, or static int8 calibrated on the
        training images of `data`), with its card file; with `check`, the parity gates against the checkpoint on the
        validation split, stored in the card file (an export that misses one keeps no file and raises)."""
        from foveal.export import export_checkpoint

        self._need_checkpoint("export")
        default_logging()
        return export_checkpoint(self.checkpoint, lambda card: resolve_task(card.task, card.model), format=format,
                                 int8=int8, data=data, out=out, check=check)

    def benchmark(self, data: str | Path | None = None, *, runs: int = 50, project: str | Path = "runs",
                  name: str = "benchmark") -> Benchmark:
        """The checkpoint against its exports (ONNX and OpenVINO, fp32 and int8): size, load time, batch-1 latency,
        throughput and the task's metric on the validation split of `data`; benchmark.csv and benchmark.png in a new
        <project>/<name> folder, with the exported files."""
        from foveal.export.benchmark import benchmark_checkpoint

        self._need_checkpoint("benchmark")
        default_logging()
        return benchmark_checkpoint(self.checkpoint, lambda card: resolve_task(card.task, card.model), data=data,
                                    runs=runs, project=project, name=name)

    # --- predict ---------------------------------------------------------------------------------------------

    def predict(self, source: str | Path | list[str | Path], *, save: bool = False, project: str | Path = "runs",
                name: str = "predict", device: str = "auto", split: str | None = None,
                **options: Any) -> list[Classification] | list[Detections] | list[Segmentation]:
        """Classifiers: the Classification of each image (options: top_k, tta, ensemble=[more checkpoints]).
        Detectors: the Detections of each image, then of each video frame (`frame` set), with the options of
        `foveal predict` (conf, iou, classes, max_det, crop, margin). Segmenters: the Segmentation (class map) of each
        image, then of each frame (options: cutout, pixel_size); instance segmenters the Detections with masks."""
        return self.predict_run(source, save=save, project=project, name=name, device=device, split=split,
                                **options).all

    def predict_run(self, source: str | Path | list[str | Path], *, save: bool = False, project: str | Path = "runs",
                    name: str = "predict", device: str = "auto", split: str | None = None,
                    **options: Any) -> PredictRun:
        """As predict, with what the run left besides the results: unreadable files, the output folder, and its
        text, JSON and CSV forms (what `foveal predict` prints). With `split` ("test", "val"), the sources are data
        sets and the images of that split are predicted (a data.yaml's entry, or the data set's folder of that name)."""
        import inspect

        default_logging()
        pretrained = self.checkpoint is None and bool(self.model_kwargs.get("pretrained"))
        if not pretrained:
            self._need_checkpoint("predict")
        sources = list(source) if isinstance(source, (list, tuple)) else [source]
        if split is not None:
            from foveal.infer.sources import split_sources

            sources = split_sources(sources, split)
        predict = self.task_type.predict
        accepted = inspect.signature(predict).parameters
        unknown = [k for k in options if k not in accepted or k == "pretrained"]
        if unknown:
            raise FovealError(f"{', '.join(unknown)}: not an option of a {self.task_type.name} model ({self.name}); "
                              f"it takes {', '.join(k for k in list(accepted)[2:] if k != 'pretrained')}")
        extra = {"pretrained": True} if pretrained else {}
        return predict(self.name if pretrained else self.checkpoint, sources, save=save, project=project, name=name,
                       device=device, **extra, **options)

    def explain(self, source: str | Path | list[str | Path], *, save: bool = True, project: str | Path = "runs",
                name: str = "explain", device: str = "auto", **options: Any) -> list:
        """Why the model says what it says about each image. Classifiers: Grad-CAM of the top_k classes (or of
        `classes`), integrated gradients of the first, each stage's feature maps and the first layer's filters, as
        an Explanation per image (its maps over the photo's pixels); options top_k, classes, methods. Detectors and
        instance segmenters: Grad-CAM of each box's score, a BoxExplanation per image; options conf, iou,
        max_boxes. With `save`, pictures under <project>/<name>/."""
        import inspect

        default_logging()
        explain = self.task_type.explain
        if explain is None:
            raise FovealError(f"explain is not available for {self.task_type.name} models ({self.name}) yet; "
                              f"it explains classifiers and detectors")
        accepted = [k for k in inspect.signature(explain).parameters if k not in
                    ("model", "sources", "pretrained", "save", "project", "name", "device")]
        unknown = [k for k in options if k not in accepted]
        if unknown:
            raise FovealError(f"{', '.join(unknown)}: not an option of explain for a {self.task_type.name} model "
                              f"({self.name}); it takes {', '.join(accepted)}")
        pretrained = self.checkpoint is None and bool(self.model_kwargs.get("pretrained"))
        if not pretrained:
            self._need_checkpoint("explain")
        sources = list(source) if isinstance(source, (list, tuple)) else [source]
        return explain(self.name if pretrained else self.checkpoint, sources, pretrained=pretrained, save=save,
                       project=project, name=name, device=device, **options)

    def _check_resumes(self, path: Path, card: dict[str, Any]) -> None:
        """A run is resumed by a Model of its own task (and model, when one was named): another one would write
        into that run's folder."""
        theirs = resolve_task(card["task"], card["model"])
        if theirs is not self.task_type or (self._model_given and self.checkpoint is None and card["model"] != self.name):
            raise FovealError(f"cannot resume {path}: it holds a {theirs.name} run of {card['model']}, not a "
                              f"{self.task_type.name} run of {self.name}; resume it with foveal.Model({str(path.parent)!r})")

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


def _finished(run_dir: Path, ckpt: dict[str, Any]) -> bool:
    """Whether the run wrote its metrics.json after its last epoch (a kill between the two leaves the run to finish)."""
    try:
        return json.loads((run_dir / "metrics.json").read_text()).get("epochs") == len(ckpt["history"])
    except (OSError, ValueError):
        return False


def read_metrics(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / "metrics.json"
    if not path.is_file():
        raise FovealError(f"no metrics.json in {run_dir}: is it a finished foveal run folder?")
    return json.loads(path.read_text())
