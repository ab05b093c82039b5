"""Typed run configuration: defaults (TrainConfig's, then the task's) < YAML file < command line (dotted overrides);
saved with every run. The one list of training settings: each field carries its help text and the tasks it applies
to, and the command line's options are made from them.

`None` means "the model's or the data's default".
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from foveal.errors import FovealError
from foveal.fileio import write_text_atomic

OPTIMIZERS = ("sgd", "adam", "adamw", "muon")
SCHEDULES = ("constant", "cosine", "onecycle")
AMP_MODES = ("auto", "bf16", "off")
NORMALIZE = ("unit", "dataset")
FINETUNE = ("head", "full", "gradual")
AUTO_AUGMENT = ("trivial", "rand", "none")
SPLITS = ("val", "test")
DIST_BACKENDS = ("gloo", "nccl")
LOGGERS = ("csv", "tensorboard", "mlflow")


def setting(default: Any, help: str = "", tasks: tuple[str, ...] = (), cli: bool = True, show_default: bool = True) -> Any:
    """A TrainConfig field with what the command line shows of it: its help, the tasks it applies to (none: every
    task), whether `foveal train` has an option for it (the others are set with --set KEY=VALUE or a config
    file) and whether its help shows the default (not where the help says what decides it). The CLI's options, their
    help and their validation all come from here."""
    return dataclasses.field(default=default, metadata={"help": help, "tasks": tasks, "cli": cli,
                                                        "show_default": show_default})


@dataclass
class TrainConfig:
    task: str = setting("classify", "classify, detect or segment (a Mask R-CNN's segment is instance segmentation). "
                                    "Default: the named model's own (fcos: detect); without --model, classify. With "
                                    "no --model, the task's default model trains.", show_default=False)
    model: str = setting("tinyvgg", "Model name (foveal models) or, with --resume, ignored.")
    data: str = setting("digits", "Data set name (foveal datasets) or a path: image folder, CSV.")
    data_root: str | None = setting(None, "Folder with a local copy of a named data set.")
    val_split: float | None = setting(None, "Hold out this fraction when the data has no val split.")
    split: str = setting("val", "The split evaluated: val, or test where the data has a labelled one (foveal val "
                                "--split test).", cli=False)
    fraction: float = setting(1.0, "Train on this fraction of the training images.")
    img_size: int | None = setting(None, "Resize images to this square size.")
    epochs: int = setting(3)
    batch_size: int = setting(32)
    optimizer: str = setting("sgd", "sgd, adam, adamw, or muon (convolution filters on Muon at --muon-lr, the rest on "
                                    "Nesterov SGD; for networks with batch norm after each convolution).")
    lr: float = setting(0.1, "Learning rate.")
    momentum: float = setting(0.0)
    weight_decay: float = setting(0.0)
    schedule: str = setting("constant", "constant, cosine or onecycle.")
    warmup_epochs: float = setting(0.0)
    label_smoothing: float = setting(0.0)
    muon_lr: float = setting(0.06, "--optimizer muon: the convolution filters' learning rate.")
    norm_lr: float = setting(1.0, "Normalisation layers' parameters (batch norm's shifts) learn at this multiple of "
                                  "--lr, at 1/X the weight decay (airbench's bias scaling).")
    lookahead: bool = setting(False, "Average the weights of the last steps as training ends (airbench's lookahead).")
    normalize: str | None = setting(None, "unit ([0, 1], as ToTensor) or dataset (its mean/std); default: the model's.")
    augment: bool | None = setting(None, "Train-time augmentation: classify, batched flip + translate (off by default); "
                                         "detect, flip, crop, zoom, colour (on).")
    flip: bool = setting(True, "--augment and --tta mirror images (off for digits and text).", ("classify",))
    translate: int | None = setting(None, "--augment's largest random shift in pixels (default: a sixteenth of the "
                                          "image side).", ("classify",))
    cutout: int = setting(0, "--augment also blanks a random square of this side (pixels) in each image; 0: off.",
                          ("classify",), cli=False)
    alternate_flip: bool = setting(False, "--augment mirrors each image in every other epoch (airbench), not by a coin.",
                                   ("classify",), cli=False)
    hidden: int | None = setting(None, "Hidden width of the seed models.")
    pretrained: bool | None = setting(None, "Start from pretrained weights: a classifier's ImageNet weights, a "
                                            "detector's or segmenter's backbone's (a torchvision detector's or "
                                            "segmenter's own COCO weights). Default: on for detectors and segmenters "
                                            "whose backbone's weights ship offline (efficientnet_lite0; lite1 and "
                                            "lite2 with the weights extra), off otherwise; "
                                            "--no-pretrained (or --weights none) trains from scratch.")
    weights: str | None = setting(None, "Start from a local state dict (.pt/.pth) or .safetensors file.")
    finetune: str | None = setting(None, "With weights: head (frozen backbone, cached features), full or gradual.")
    backbone_lr: float = setting(0.1, "full/gradual: the backbone's lr as a fraction of --lr.")
    backbone: str | None = setting(None, "The timm backbone of fcos/retinanet/fasterrcnn/unet (default "
                                         "efficientnet_lite0).", ("detect", "segment"))
    max_det: int = setting(100, "Boxes kept per image (1: single-object localisation).", ("detect",))
    dice: float = setting(0.0, "Weight of a Dice loss added to cross-entropy.", ("segment",))
    head_epochs: int = setting(5, "full/gradual: epochs fitting the new head on cached backbone features first "
                                  "(0: none).")
    folds: int | None = setting(None, "K-fold cross-validation: K models on stratified folds, out-of-fold score.")
    tta: bool = setting(False, "Evaluate with test-time augmentation (flips and shifted crops).")
    calibrate: bool = setting(False, "After training, fit one temperature to the best weights' validation logits "
                                     "(temperature scaling) and keep it in best.pt: val, predict and submissions then "
                                     "give calibrated probabilities.", ("classify",))
    auto_augment: str = setting("trivial", "Transfer learning's train policy after crop + flip: trivial, rand or none.")
    train_scale: float = setting(1.0, "Train on crops of this fraction of the model's input side (0.8: 179 px for "
                                      "224), evaluate at the input size: transfer learning, and semantic "
                                      "segmentation (default 0.6 there).", ("classify", "segment"))
    seed: int = setting(42)
    deterministic: bool = setting(False)
    device: str = setting("auto", "auto (cuda, then mps, then cpu), cpu, cuda, mps.")
    amp: str = setting("auto", "auto, bf16 or off.")
    dist_backend: str | None = setting(None, "Several processes (--nproc, torchrun): gloo or nccl; default gloo on CPU, "
                                             "nccl on CUDA.", show_default=False)
    dist_timeout: float = setting(30.0, "Several processes: minutes a process waits for the others in one exchange "
                                        "(rank 0's evaluations included) before the job ends.", cli=False)
    channels_last: bool | None = setting(None, "None: on for convolutional models.", cli=False)
    recipe: str | None = setting(None, "A speed recipe picking the network and schedule for the data (fast, "
                                       "fast-long; foveal models --recipes).", ("classify",))
    time_limit: float | None = setting(None, "Minutes to train: after each epoch, as many more epochs as fit, the "
                                             "schedule adjusted.")
    patience: int | None = setting(None, "Early stopping after this many evaluations without improvement.")
    val_period: int = setting(1, "Evaluate every N epochs and the last (and the first, when N is no more than "
                                 "--epochs; under --time-limit the first only times a tenth of the data).")
    eval_batch_size: int = setting(1024, cli=False)
    logger: str = setting("csv", "Experiment logs, comma-separated: csv (results.csv, always written), tensorboard "
                                 "(event files in the run folder; pip install 'foveal[tensorboard]') or mlflow (a "
                                 "run in MLFLOW_TRACKING_URI, else in <project>/mlflow.db; pip install 'foveal[mlflow]').")
    project: str = setting("runs", "Folder of run folders.")
    name: str | None = setting(None, "Run folder name (default: the model name); never overwrites.")
    exist_ok: bool = setting(False, cli=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def choice(key: str, allowed: tuple[str, ...]) -> None:
            value = getattr(self, key)
            if value not in allowed:
                raise FovealError(f"{key} must be one of {', '.join(allowed)}; got {value!r}")

        choice("optimizer", OPTIMIZERS)
        choice("schedule", SCHEDULES)
        choice("amp", AMP_MODES)
        if self.dist_backend is not None:
            choice("dist_backend", DIST_BACKENDS)
        if self.normalize is not None:
            choice("normalize", NORMALIZE)
        if self.finetune is not None:
            choice("finetune", FINETUNE)
            if not (self.pretrained or self.weights):
                raise FovealError(f"finetune={self.finetune!r} needs starting weights: add --pretrained or --weights FILE")
        choice("auto_augment", AUTO_AUGMENT)
        unknown = [n for n in str(self.logger).split(",") if n.strip() not in LOGGERS]
        if unknown:
            raise FovealError(f"logger must be one or more of {', '.join(LOGGERS)}, comma-separated; got {unknown[0]!r}")
        choice("split", SPLITS)
        if self.recipe is not None:
            from foveal.recipes import get_recipe

            get_recipe(self.recipe)
        if self.folds is not None and int(self.folds) < 2:
            raise FovealError(f"folds must be at least 2; got {self.folds}")
        if self.time_limit is not None and self.time_limit <= 0:
            raise FovealError(f"time_limit is in minutes and must be positive; got {self.time_limit}")
        if self.max_det < 1:
            raise FovealError(f"max_det is the number of boxes kept per image, 1 or more; got {self.max_det}")
        if self.head_epochs < 0:
            raise FovealError(f"head_epochs is a number of epochs, 0 or more; got {self.head_epochs}")
        if not 0 <= self.backbone_lr <= 1:
            raise FovealError(f"backbone_lr is a fraction of lr in [0, 1]; got {self.backbone_lr}")
        if not 0.25 <= self.train_scale <= 1:
            raise FovealError(f"train_scale is a fraction of the model's input side in [0.25, 1]; got {self.train_scale}")
        if self.dice < 0:
            raise FovealError(f"dice is a loss weight, 0 or more; got {self.dice}")
        for key in ("epochs", "batch_size", "eval_batch_size", "val_period"):
            if int(getattr(self, key)) < 1:
                raise FovealError(f"{key} must be at least 1; got {getattr(self, key)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise FovealError(f"lr must be a positive finite number; got {self.lr}")
        if int(self.cutout) < 0:
            raise FovealError(f"cutout is the side of a square in pixels, 0 or more; got {self.cutout}")
        if self.translate is not None and int(self.translate) < 0:
            raise FovealError(f"translate is a shift in pixels, 0 or more; got {self.translate}")
        if not (self.muon_lr > 0 and math.isfinite(self.muon_lr)):
            raise FovealError(f"muon_lr must be a positive finite number; got {self.muon_lr}")
        if not (self.norm_lr > 0 and math.isfinite(self.norm_lr)):
            raise FovealError(f"norm_lr is a multiple of lr, above 0 and finite; got {self.norm_lr}")
        if not 0 <= self.label_smoothing < 1:
            raise FovealError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")
        if not 0 < self.fraction <= 1:
            raise FovealError(f"fraction must be in (0, 1]; got {self.fraction}")
        if self.val_split is not None and not 0 < self.val_split < 1:
            raise FovealError(f"val_split must be between 0 and 1; got {self.val_split}")
        if self.img_size is not None and int(self.img_size) < 1:
            raise FovealError(f"img_size is the side of the square images in pixels, 1 or more; got {self.img_size}")
        check_run_folder(self.project, self.name)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        write_text_atomic(path, yaml.safe_dump(self.to_dict(), sort_keys=False))

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise FovealError(f"unknown config key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(known))}")
        return cls(**{k: _coerce(cls, k, v) for k, v in values.items()})

    @classmethod
    def load(cls, path: "str | Path | None" = None, overrides: "dict[str, Any] | None" = None,
             defaults: "dict[str, Any] | None" = None) -> "TrainConfig":
        """Defaults (the task's over the class's), then the YAML file, then the overrides (keys may be dotted)."""
        values: dict[str, Any] = dict(defaults or {})
        if path is not None:
            p = Path(path)
            if not p.is_file():
                raise FovealError(f"config file not found: {p}")
            loaded = yaml.safe_load(p.read_text()) or {}
            if not isinstance(loaded, dict):
                raise FovealError(f"config file {p} must hold a mapping of keys to values; got {type(loaded).__name__}")
            values.update(_flatten(loaded))
        values.update(_flatten(overrides or {}))
        return cls.from_dict(values)


def check_run_folder(project: "str | Path", name: str | None) -> None:
    """`<project>/<name>` can be a run folder: `name` is one folder's name and `project` is a folder or can be made
    one (no file in its place or above it)."""
    if name is not None and (str(name) in ("", ".", "..") or any(sep in str(name) for sep in "/\\")):
        raise FovealError(f"name is the name of one folder inside --project, without / or \\; got {name!r}")
    for path in (Path(project), *Path(project).parents):
        if path.exists():
            if not path.is_dir():
                raise FovealError(f"project is the folder that holds the run folders; {path} is a file")
            return


def file_keys(path: "str | Path | None") -> set[str]:
    """The settings a YAML config file gives (they win over a recipe's, as the command line's do)."""
    if path is None or not Path(path).is_file():
        return set()
    loaded = yaml.safe_load(Path(path).read_text()) or {}
    return set(_flatten(loaded)) if isinstance(loaded, dict) else set()


def _flatten(values: dict[str, Any]) -> dict[str, Any]:
    """`{"train": {"lr": 0.1}}` and `{"train.lr": 0.1}` both become `{"lr": 0.1}`: sections are for reading only."""
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value))
        else:
            flat[str(key).rsplit(".", 1)[-1].replace("-", "_")] = value
    return flat


def _coerce(cls: type, key: str, value: Any) -> Any:
    """Turn command-line strings into the field's type (`"0.1"` -> 0.1, `"none"` -> None)."""
    if not isinstance(value, str):
        return value
    kind = next(f.type for f in fields(cls) if f.name == key)
    if value.lower() in ("none", "null") and "None" in str(kind):
        return None
    try:
        if "bool" in str(kind):
            if value.lower() in ("1", "true", "yes", "on"):
                return True
            if value.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError
        if str(kind).startswith("int"):
            return int(value)
        if str(kind).startswith("float"):
            return float(value)
    except ValueError:
        raise FovealError(f"{key} expects {kind}; got {value!r}") from None
    return value


def parse_overrides(items: list[str]) -> dict[str, str]:
    """`["lr=0.1", "model.hidden=64"]` -> `{"lr": "0.1", "model.hidden": "64"}`."""
    out = {}
    for item in items:
        if "=" not in item:
            raise FovealError(f"overrides look like key=value; got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out
