"""What every task gives the engine and the API (the Task base class, with the defaults most tasks keep), and the
helpers several tasks share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.errors import FovealError, short_list
from foveal.models.card import ModelCard


class Task:
    """One task of the engine. The Trainer, the evaluation of checkpoints and `Model` talk to a task only through
    these names; a subclass fills in those marked as its own."""

    name = ""  # its key in tasks.TASKS
    card_task = ""  # what its models' cards record as their task (an instance segmenter's say `segment`)
    fitness_key = ""  # the metric that picks best.pt and drives early stopping; higher is better
    autocast = True  # bf16 autocast where the device supports it
    default_model = ""  # the model trained when none is named
    pretrained_model = ""  # the one with --pretrained, where it differs
    defaults: dict[str, Any] = {}  # training settings over TrainConfig's own (optimizer, lr, schedule, batch size)
    finetune_defaults: dict[str, Any] = {}  # over `defaults`, for a run that fine-tunes pretrained weights
    ensembles = False  # whether `combine` averages several models' evaluations
    calibrates = False  # whether `calibrate` fits a temperature (--calibrate)
    families: tuple[str, ...] = ()  # the model names built on a timm backbone (--backbone)
    default_backbone = ""  # the families' backbone when --backbone is not given
    exports = False  # whether `foveal export` takes its models (export_network, export_inputs, export_gates)
    predictor: Any = None  # its predictor class: from_checkpoint(path, device=...), then predict(files)
    # (a loaded predictor, image files, **options) -> (PredictRun, decoded images): `predict`'s work on files, which
    # `foveal serve` calls with a predictor it keeps loaded; its keyword arguments are the options a request may set
    predict_loaded: Any = None
    explain: Any = None  # (model, sources, *, pretrained, save, project, name, device, **options) -> explanations
    export_size_multiple: int | None = None  # an exported file's height and width: any multiple of this (None: the card's)

    def __init__(self, cfg: TrainConfig, card: ModelCard, device: torch.device, channels_last: bool) -> None:
        self.cfg, self.card, self.device = cfg, card, device
        self.prep_time_s = 0.0  # seconds spent before or beside the epochs that count as training time

    @classmethod
    def claims(cls, model: str) -> bool:
        """Whether this task takes `model` when it is asked for under its card_task (see tasks.resolve_task)."""
        return False

    # --- what a run starts from (its own): load_data, eval_split, make_card, initial_model -----------------------

    @classmethod
    def default_model_for(cls, cfg: TrainConfig, data) -> str:
        """The model trained on `data` when none is named (the task's default; a task may choose by the data)."""
        return cls.default_model

    @classmethod
    def pretrained_by_default(cls, cfg: TrainConfig) -> bool:
        """Whether a run that does not say starts from pretrained weights: a family whose backbone's ImageNet weights
        ship offline does; weights that would need a download never start by default."""
        if cfg.model not in cls.families:
            return False
        from foveal.models.pretrained import ships_offline

        return ships_offline(cfg.backbone or cls.default_backbone)

    @classmethod
    def run_defaults(cls, cfg: TrainConfig) -> dict[str, Any]:
        """The training settings a run of this config starts from, under the user's: the task's defaults, and over
        them its fine-tuning defaults where the run fine-tunes pretrained weights."""
        return dict(cls.defaults)

    def before_training(self, model: nn.Module, data) -> None:
        """Work on the starting model before the first epoch (fitting a layer to the data)."""

    # --- training: loaders, loss, new_tally, train_metrics are its own ------------------------------------------

    def param_groups(self, model: nn.Module) -> list[dict]:
        """The optimizer's parameter groups: every trainable parameter at the run's learning rate."""
        return [{"params": [p for p in model.parameters() if p.requires_grad]}]

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        """Put the model in training mode for this epoch (a pure function of the epoch, so a resumed run matches)."""
        model.train()

    @classmethod
    def cross_validate(cls, cfg: TrainConfig, data, progress: bool = True) -> tuple[Path, dict[str, Any]]:
        """--folds K: K models on K folds of the data and their out-of-fold score; (run folder, metrics)."""
        raise FovealError(f"--folds is for classifiers; a {cls.name} model trains on its train split")

    def run_metrics(self) -> dict[str, Any]:
        """What the task adds to a finished run's metrics.json."""
        return {"finetune": None}

    # --- evaluation: evaluate, val_loader, write_report are its own ---------------------------------------------

    def combine(self, outs: list):
        """An ensemble's evaluation output from its members'."""
        raise FovealError(f"ensembles of {self.name} models are not supported; evaluate one checkpoint at a time")

    def calibrate(self, out) -> tuple[Any, ModelCard]:
        """--calibrate: the evaluation output `out` rescored with what is fitted on it, and the card that keeps it."""
        raise FovealError(f"--calibrate fits a classifier's temperature; a {self.name} model has none to fit")


    # --- export: what `foveal export` writes to a file and checks (for tasks with `exports`) ---------------------

    @staticmethod
    def export_network(model: nn.Module) -> nn.Module:
        """The part of a trained model that goes into an exported file: from the normalised float batch to the raw
        outputs that the task's own post-processing reads."""
        return model

    def export_inputs(self, split, limit: int, batch: int):
        """What `export_network` takes, for the first `limit` images of a split, `batch` images at a time, prepared
        as evaluation and prediction prepare them (int8 calibration, the tensor gates, `foveal benchmark`)."""
        raise FovealError(f"exporting {self.name} models is not supported yet")

    def export_gates(self, want, got, int8: bool) -> list:
        """How far the exported network's evaluation `got` may be from the eager one's `want` (export.gates.Gate)."""
        raise FovealError(f"exporting {self.name} models is not supported yet")


def check_classes(splits, card: ModelCard) -> None:
    """Evaluating a checkpoint on data: its classes must be the model's, in the same order."""
    if tuple(splits.classes) != tuple(card.classes):
        raise FovealError(f"the data {splits.name!r} has classes {short_list(splits.classes)}, the model was trained on "
                          f"{short_list(card.classes)}")


def checked_val(splits, card: ModelCard):
    """The validation split of detection or segmentation data, its classes checked against the model's."""
    check_classes(splits, card)
    return splits.val


def build_task_model(cfg: TrainConfig, card: ModelCard, families: tuple[str, ...]) -> nn.Module:
    """A detector's or segmenter's starting model: --pretrained gives a foveal family (`families`) its backbone's
    ImageNet weights and a torchvision model its own (COCO) weights; --weights loads a local file over it."""
    from foveal.models.registry import create_model

    extra = {}
    if cfg.pretrained:
        extra = {"pretrained_backbone": True} if card.model in families else {"pretrained": True}
    model = create_model(card.model, num_classes=card.num_classes, in_channels=3, img_size=card.input_size,
                         **card.model_kwargs, **extra)
    if cfg.weights:
        from foveal.models.pretrained import load_weights_file

        load_weights_file(model, cfg.weights)
    return model.train()


def output_folder(project: str | Path, name: str) -> Path:
    """A new `<project>/<name>` folder for drawn predictions (never overwriting one)."""
    from foveal.engine.rundir import new_run_dir

    return new_run_dir(project, name)
