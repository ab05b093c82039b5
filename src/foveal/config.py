"""Typed run configuration: defaults < YAML file < command line (dotted overrides); saved with every run.

`None` means "the model's or the data's default".
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from foveal.errors import FovealError

OPTIMIZERS = ("sgd", "adam", "adamw", "muon")
SCHEDULES = ("constant", "cosine", "onecycle")
AMP_MODES = ("auto", "bf16", "off")
NORMALIZE = ("unit", "dataset")
FINETUNE = ("head", "full", "gradual")
AUTO_AUGMENT = ("trivial", "rand", "none")


@dataclass
class TrainConfig:
    task: str = "classify"
    model: str = "tinyvgg"
    data: str = "digits"
    data_root: str | None = None
    val_split: float | None = None  # fraction held out when the data has no val/test split
    fraction: float = 1.0  # train on this stratified fraction of the training split (quick experiments)
    img_size: int | None = None  # resize images to this square size; None keeps the data's size
    epochs: int = 3
    batch_size: int = 32
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    muon_lr: float = 0.06  # --optimizer muon: the convolution filters' learning rate (engine/muon.py)
    norm_lr: float = 1.0  # learning rate of batch norm's trainable parameters as a multiple of lr (airbench: 64)
    lookahead: bool = False  # airbench's lookahead of weights: an average of the last steps' weights (engine/lookahead.py)
    normalize: str | None = None  # unit ([0, 1], as ToTensor) or dataset (its mean/std); None: the model's default
    augment: bool | None = None  # classify: batched flip + translate (off unless asked); detect: v2 box-aware policy (on)
    flip: bool = True  # classify: --augment and TTA mirror images (off for digits and text, which a mirror changes)
    translate: int | None = None  # classify: --augment's largest shift in pixels; None: a sixteenth of the image side
    cutout: int = 0  # classify: --augment also blanks a random square of this side (pixels) in each image; 0: off
    alternate_flip: bool = False  # classify: --augment mirrors each image in every other epoch (airbench), not by a coin
    hidden: int | None = None  # hidden width of the seed models
    pretrained: bool = False  # start from the model's pretrained (ImageNet) weights
    weights: str | None = None  # start from a local state dict or .safetensors file
    finetune: str | None = None  # head | full | gradual; None: full when starting from weights
    backbone_lr: float = 0.1  # full/gradual: the backbone's learning rate as a fraction of lr
    backbone: str | None = None  # detect: the classification backbone of fasterrcnn/retinanet/fcos (efficientnet_lite0)
    max_det: int = 100  # detect: boxes kept per image (1 = single-object localisation)
    dice: float = 0.0  # segment: weight of the Dice loss added to cross-entropy (0: cross-entropy alone)
    head_epochs: int = 5  # full/gradual: epochs fitting the new head on cached backbone features before any layer moves
    folds: int | None = None  # K-fold cross-validation: K models and their out-of-fold score
    tta: bool = False  # evaluate with test-time augmentation (flips and shifted crops averaged)
    auto_augment: str = "trivial"  # transfer learning's train-time policy on top of crop + flip: trivial | rand | none
    seed: int = 42
    deterministic: bool = False
    device: str = "auto"
    amp: str = "auto"
    channels_last: bool | None = None  # None: on for convolutional models
    recipe: str | None = None  # classify: a speed recipe (fast, fast-long) fills in the model and schedule for the data
    time_limit: float | None = None  # minutes: after each epoch, as many more epochs as fit (the schedule follows)
    patience: int | None = None  # early stopping: evaluations without improvement
    # evaluate every N epochs and the last (and the first when N <= epochs: Trainer._evaluates); a detector's is costly
    val_period: int = 1
    eval_batch_size: int = 1024
    project: str = "runs"
    name: str | None = None
    exist_ok: bool = False

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
        if self.normalize is not None:
            choice("normalize", NORMALIZE)
        if self.finetune is not None:
            choice("finetune", FINETUNE)
            if not (self.pretrained or self.weights):
                raise FovealError(f"finetune={self.finetune!r} needs starting weights: add --pretrained or --weights FILE")
        choice("auto_augment", AUTO_AUGMENT)
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
        if self.dice < 0:
            raise FovealError(f"dice is a loss weight, 0 or more; got {self.dice}")
        for key in ("epochs", "batch_size", "eval_batch_size", "val_period"):
            if int(getattr(self, key)) < 1:
                raise FovealError(f"{key} must be at least 1; got {getattr(self, key)}")
        if not self.lr > 0:
            raise FovealError(f"lr must be positive; got {self.lr}")
        if int(self.cutout) < 0:
            raise FovealError(f"cutout is the side of a square in pixels, 0 or more; got {self.cutout}")
        if self.translate is not None and int(self.translate) < 0:
            raise FovealError(f"translate is a shift in pixels, 0 or more; got {self.translate}")
        if not self.muon_lr > 0:
            raise FovealError(f"muon_lr must be positive; got {self.muon_lr}")
        if not self.norm_lr > 0:
            raise FovealError(f"norm_lr is a multiple of lr, above 0; got {self.norm_lr}")
        if not 0 <= self.label_smoothing < 1:
            raise FovealError(f"label_smoothing must be in [0, 1); got {self.label_smoothing}")
        if not 0 < self.fraction <= 1:
            raise FovealError(f"fraction must be in (0, 1]; got {self.fraction}")
        if self.val_split is not None and not 0 < self.val_split < 1:
            raise FovealError(f"val_split must be between 0 and 1; got {self.val_split}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        path.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))

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


TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    # torchvision's detection references: SGD with momentum and weight decay, a short warm-up, a decaying schedule;
    # lr 0.01 at batch 8 (theirs: 0.02 at 16)
    "detect": {"optimizer": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "schedule": "cosine",
               "warmup_epochs": 0.5, "batch_size": 8},
    # segmentation: AdamW with a cosine decay, the usual recipe for a U-Net on a pretrained encoder
    "segment": {"optimizer": "adamw", "lr": 1e-3, "weight_decay": 1e-4, "schedule": "cosine", "warmup_epochs": 0.5,
                "batch_size": 8},
}
DEFAULT_MODELS = {"classify": "tinyvgg", "detect": "fcos", "segment": "unet"}
