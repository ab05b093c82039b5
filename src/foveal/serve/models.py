"""The models a server holds: each loaded once with its task's predictor, described by its card, and asked to predict
image files with the options of `foveal predict`, so that its JSON is `foveal predict --format json`'s."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from foveal.errors import FovealError

FORMATS = {".pt": "pytorch", ".onnx": "onnx", ".xml": "openvino"}
RUN_FILES = ("best", "last")  # a checkpoint named so is called after its run folder


@dataclass
class ServedModel:
    name: str
    path: Path
    task: Any  # the task class (tasks.base.Task)
    predictor: Any  # the task's predictor, loaded

    @property
    def card(self):
        return self.predictor.card

    @property
    def options(self) -> dict[str, inspect.Parameter]:
        """The options a request may set: the keyword arguments of the task's predict_loaded."""
        params = inspect.signature(self.task.predict_loaded).parameters
        return {k: p for k, p in params.items() if p.kind is p.KEYWORD_ONLY and k != "keep_pixels"}

    def info(self) -> dict[str, Any]:
        card = self.card
        return {"name": self.name, "task": self.task.name, "model": card.model, "format": model_format(self.path),
                "file": str(self.path), "classes": list(card.classes), "input_size": list(card.input_size),
                "options": {k: p.default for k, p in self.options.items()}}

    def parse_options(self, query: dict[str, str]) -> dict[str, Any]:
        """The query's prediction options as their types (the defaults' types: conf a float, classes a list, ...);
        one the task does not take is refused in one line."""
        accepted, out = self.options, {}
        for key, text in query.items():
            if key not in accepted:
                raise FovealError(f"{key}: not an option of {self.name} (a {self.task.name} model); "
                                  f"it takes {', '.join(accepted) or 'none'}")
            out[key] = parse_value(key, text, accepted[key].default)
        return out

    def predict(self, files: Sequence[Path], options: dict[str, Any], draw: bool = False):
        """(the PredictRun, the decoded images) of image files, as `foveal predict` makes them; with `draw`, images are
        decoded whole (drawn at their own size)."""
        kw = dict(options)
        if draw and "keep_pixels" in inspect.signature(self.task.predict_loaded).parameters:
            kw["keep_pixels"] = True
        return self.task.predict_loaded(self.predictor, list(files), **kw)


def parse_value(key: str, text: str, default: Any) -> Any:
    """`text` as the type of `default`: bool, int, float or a comma-separated list (None: a float, as conf and
    pixel_size take, but max_det an int and classes a list)."""
    if isinstance(default, bool):
        kind, cast = "true or false", as_bool
    elif isinstance(default, int) or key == "max_det":
        kind, cast = "a whole number", int
    elif isinstance(default, float) or default is None and key != "classes":
        kind, cast = "a number", float
    else:
        return [c.strip() for c in text.split(",") if c.strip()]
    try:
        return cast(text)
    except ValueError:
        raise FovealError(f"{key}: expected {kind}; got {text!r}") from None


def as_bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(text)
    return text.lower() in ("true", "1")


def model_format(path: Path) -> str:
    return FORMATS.get(path.suffix.lower(), path.suffix.lstrip("."))


def default_name(path: Path) -> str:
    """runs/pets/best.pt -> pets; runs/pets/best_int8.onnx -> pets_int8; det.onnx -> det; runs/pets (a run folder)
    -> pets."""
    stem = path.stem
    if path.is_dir():
        return path.name
    if stem in RUN_FILES:
        return path.parent.name
    if stem.split("_", 1)[0] in RUN_FILES:
        return f"{path.parent.name}_{stem.split('_', 1)[1]}"
    return stem


def load_models(specs: Sequence[str], device: str = "cpu") -> dict[str, ServedModel]:
    """Each `path` or `name=path` loaded with its task's predictor, by name."""
    from foveal.engine.checkpoint import load_model, resolve_checkpoint
    from foveal.tasks import resolve_task

    if not specs:
        raise FovealError("no model to serve: pass --model with a checkpoint, run folder or exported file")
    models: dict[str, ServedModel] = {}
    for spec in specs:
        name, _, where = spec.rpartition("=") if "=" in spec else ("", "", spec)
        path = resolve_checkpoint(where)
        name = name or default_name(Path(where))
        if name in models:
            raise FovealError(f"two models are called {name!r} ({models[name].path} and {path}); name them as "
                              f"name=path")
        model, card, _ = load_model(path)
        task = resolve_task(card.task, card.model)
        if task.predict_loaded is None:
            raise FovealError(f"{path}: a {task.name} model; foveal serve predicts with classifiers, detectors and "
                              f"segmenters")
        models[name] = ServedModel(name, path, task, task.predictor(model, card, device))
    return models
