"""Classification as a task of the engine: its loaders, its loss, its evaluation and its report."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.data.augment import FlipTranslate, Normalize, shift_pixels
from foveal.data.tensors import DataSplits, FeatureSet, ImageSet, TensorLoader
from foveal.data.views import EvalView, TrainView
from foveal.export.gates import Gate
from foveal.metrics.calibration import fit_temperature, scaled_probabilities
from foveal.metrics.classification import classification_metrics
from foveal.models.card import ModelCard
from foveal.models.head import head
from foveal.tasks.base import Task, check_classes
from foveal.tasks.classify import transfer
from foveal.tasks.classify.defaults import DEFAULT_MODEL, DEFAULTS, FINETUNE_DEFAULTS, PRETRAINED_MODEL
from foveal.tasks.classify.explain import explain_sources
from foveal.tasks.classify.predict import Predictor, classify_loaded, classify_sources
from foveal.tasks.classify.transfer import cached_features, finetune_mode, fit_head
from foveal.tasks.classify.tta import tta_views

log = logging.getLogger("foveal")
WHITEN_IMAGES = 5000  # training images a whitening first layer is fitted on


@dataclass
class EvalOutput:
    """What one evaluation pass produced: the metrics and the per-image probabilities behind them, and the logits
    they came from, (V, N, C) for V test-time-augmentation views, before the card's temperature (None for an
    ensemble's)."""

    metrics: dict[str, Any]
    probs: torch.Tensor
    targets: torch.Tensor
    logits: torch.Tensor | None = None


class ClassifyTask(Task):
    name = card_task = "classify"
    fitness_key = "accuracy"
    default_model = DEFAULT_MODEL
    defaults = DEFAULTS
    finetune_defaults = FINETUNE_DEFAULTS
    pretrained_model = PRETRAINED_MODEL
    ensembles = True
    calibrates = True
    exports = True
    predictor = Predictor
    predict = staticmethod(classify_sources)
    predict_loaded = staticmethod(classify_loaded)
    explain = staticmethod(explain_sources)

    @classmethod
    def run_defaults(cls, cfg: TrainConfig) -> dict[str, Any]:
        return {**cls.defaults, **(cls.finetune_defaults if transfer.uses_weights(cfg) else {})}

    @staticmethod
    def load_data(cfg: TrainConfig) -> DataSplits:
        from foveal.data import load_data

        return load_data(cfg.data, root=cfg.data_root, val_split=cfg.val_split, seed=cfg.seed, fraction=cfg.fraction, split=cfg.split,
                         **transfer.data_sizes(cfg))

    @staticmethod
    def eval_split(splits: DataSplits, card: ModelCard) -> ImageSet:
        """The validation split, checked against the card's classes and brought to its input size."""
        from foveal.data.resolve import resize_splits
        from foveal.errors import FovealError

        check_classes(splits, card)
        if splits.val.channels != card.in_channels:
            raise FovealError(f"the data has {splits.val.channels}-channel images, the model expects {card.in_channels}")
        if card.resize_size is None and splits.val.size != card.input_size:  # (with a resize size, the eval view sizes)
            if card.input_size[0] != card.input_size[1]:
                raise FovealError(f"the data's images are {splits.val.size}, the model expects {card.input_size}")
            splits = resize_splits(splits, card.input_size[0])
        return splits.val

    @staticmethod
    def make_card(cfg: TrainConfig, data: DataSplits) -> ModelCard:
        """Transfer learning: the pretrained card with the data's classes. From scratch: the data's size and
        channels, with [0, 1] scaling or the data's mean/std as the model (or --normalize) asks."""
        from foveal.models.registry import get_model_spec

        if transfer.uses_weights(cfg):
            return transfer.transfer_card(cfg, data)
        normalize = cfg.normalize or get_model_spec(cfg.model).normalize
        if normalize == "unit":
            mean, std = (0.0,) * data.train.channels, (1.0,) * data.train.channels
        else:
            mean, std = data.train.mean_std()
        kwargs = {"hidden": cfg.hidden} if cfg.hidden else {}
        return ModelCard(cfg.task, cfg.model, data.classes, data.train.channels, data.train.size, mean, std,
                         model_kwargs=kwargs, augmented=bool(cfg.augment), flipped=cfg.flip)

    @staticmethod
    def initial_model(cfg: TrainConfig, card: ModelCard) -> nn.Module:
        return transfer.initial_model(cfg, card)

    def __init__(self, cfg: TrainConfig, card: ModelCard, device: torch.device, channels_last: bool) -> None:
        super().__init__(cfg, card, device, channels_last)
        self.normalize = Normalize(card.mean, card.std, channels_last)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.finetune = finetune_mode(cfg)  # prep_time_s: the seconds spent on the frozen backbone's features

    @classmethod
    def cross_validate(cls, cfg: TrainConfig, data: DataSplits, progress: bool = True) -> tuple[Path, dict[str, Any]]:
        from foveal.tasks.classify.folds import train_folds

        return train_folds(cfg, data, cls, progress=progress)

    # --- transfer learning: what trains in each epoch ----------------------------------------------------------

    def param_groups(self, model: nn.Module) -> list[dict]:
        return transfer.param_groups(self.cfg, model)

    def start_epoch(self, model: nn.Module, epoch: int) -> None:
        transfer.set_trainable(self.cfg, model, epoch)
        transfer.train_mode(self.cfg, model)

    def run_metrics(self) -> dict[str, Any]:
        return {"finetune": self.finetune, **({"features_time_s": self.prep_time_s} if self.prep_time_s else {})}

    def loaders(self, model: nn.Module, data: DataSplits) -> tuple[TensorLoader, TensorLoader]:
        """(train, val) loaders. With --finetune head they hold the frozen backbone's features, computed once."""
        if finetune_mode(self.cfg) != "head":
            return self.train_loader(data), self.val_loader(data.val)
        train, val = self.features(model, data.train), self.features(model, data.val)
        log.info("cached the frozen backbone's features (%d-d) of %d images in %.1fs", train.images.shape[1],
                 len(train) + len(val), self.prep_time_s)
        return (TensorLoader(train, self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device),
                TensorLoader(val, self.cfg.eval_batch_size, shuffle=False, device=self.device))

    def eval_batch(self) -> int:
        """cfg.eval_batch_size, capped at the pixels of 64 photos of 224 x 224: bigger batches of big inputs only cost
        memory (1,024 photos at 224 px need over 20 GB of activations) and run no faster."""
        h, w = self.card.input_size
        return max(1, min(self.cfg.eval_batch_size, (64 * 224 * 224) // (h * w)))

    def features(self, model: nn.Module, split: ImageSet) -> FeatureSet:
        """The frozen backbone's features of a split's eval view (kept on disk)."""
        loader = TensorLoader(split, self.eval_batch(), device=self.device, augment=EvalView(self.card))
        f, seconds = cached_features(model, split.images, loader, self.normalize, self.card)
        self.prep_time_s += seconds
        return FeatureSet(f.to(self.device), split.labels, split.classes)

    def before_training(self, model: nn.Module, data: DataSplits) -> None:
        if hasattr(model, "fit_whitening"):  # fastnet: its first layer whitens the training images' patches
            model.fit_whitening(self.normalize(data.train.images[:WHITEN_IMAGES].to(self.device)).float())
        if finetune_mode(self.cfg) in ("full", "gradual") and self.cfg.head_epochs:
            self.fit_head(model, data)

    def new_tally(self) -> torch.Tensor:
        return torch.zeros((), dtype=torch.int64, device=self.device)

    @staticmethod
    def train_metrics(tally: torch.Tensor, seen: int) -> dict[str, float]:
        return {"train_accuracy": int(tally) / seen}

    def fit_head(self, model: nn.Module, data: DataSplits) -> None:
        """Before a full or gradual fine-tune moves any layer, fit the new head for cfg.head_epochs on the frozen
        backbone's cached features (fastai's fine_tune freezes for an epoch first; LP-FT). A random head's gradients
        would otherwise pull the pretrained features apart in the first steps."""
        feats = self.features(model, data.train)
        start = time.perf_counter()
        loader = TensorLoader(feats, self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device)
        fit_head(self.cfg, model, loader, self.criterion)
        self.prep_time_s += time.perf_counter() - start
        log.info("fitted the new head for %d epochs on the frozen backbone's features first", self.cfg.head_epochs)

    def train_loader(self, data: DataSplits) -> TensorLoader:
        if self.card.resize_size is not None:  # transfer learning: crop + flip + policy to the card's input size
            augment = TrainView(self.card, self.cfg.auto_augment, side_scale=self.cfg.train_scale)
        elif self.cfg.augment:
            augment = FlipTranslate(flip=self.cfg.flip, pad=shift_pixels(data.train.size[0], self.cfg.translate),
                                    alternate=self.cfg.alternate_flip, salt=self.cfg.seed, cutout=self.cfg.cutout,
                                    fill=[255 * m for m in self.card.mean])
        else:
            augment = None
        return TensorLoader(data.train, self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device, augment=augment)

    def val_loader(self, data: ImageSet) -> TensorLoader:
        view = EvalView(self.card) if self.card.resize_size is not None else None
        return TensorLoader(data, self.eval_batch(), shuffle=False, device=self.device, augment=view)

    def forward(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch: uint8 images through the whole model, or cached float features through its head."""
        if x.is_floating_point():
            return head(model)(x)
        return model(self.normalize(x))

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean loss, number of correct predictions) for one training batch."""
        x, y = batch
        logits = self.forward(model, x)
        return self.criterion(logits.float(), y), (logits.argmax(1) == y).sum()

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, loader: TensorLoader) -> EvalOutput:
        """Batched, in inference mode and fp32, so that a reloaded checkpoint reproduces these numbers exactly. With
        cfg.tta, images (not cached features) are scored by the mean probability over flipped and shifted views.
        The probabilities are those of the logits divided by the card's temperature."""
        was_training = model.training
        model.eval()
        logits, targets, tta = [], [], False
        for x, y in loader:
            if self.cfg.tta and not x.is_floating_point():
                tta = True
                views = tta_views(x, self.card.augmented, self.card.flipped)
                logits.append(torch.stack([self.forward(model, v.contiguous()).float().cpu() for v in views]))
            else:
                logits.append(self.forward(model, x).float().cpu()[None])
            targets.append(y.cpu())
        model.train(was_training)
        out = self.scored_logits(torch.cat(logits, 1), torch.cat(targets))
        if tta:
            out.metrics["tta"] = True
        return out

    def scored_logits(self, logits: torch.Tensor, targets: torch.Tensor, temperature: float | None = None) -> EvalOutput:
        """The output of (V, N, C) logits at `temperature` (default: the card's): the views' mean probability of
        softmax(logits / T). The metrics name a temperature other than 1."""
        t = self.card.temperature if temperature is None else temperature
        probs = scaled_probabilities(logits, t)
        out = self.scored(probs, targets, logits[0] / t if len(logits) == 1 else None)
        out.logits = logits
        if t != 1:
            out.metrics["temperature"] = t
        return out

    def calibrate(self, out: EvalOutput) -> tuple[EvalOutput, ModelCard]:
        """Temperature scaling (Guo et al. 2017; metrics/calibration.py): the temperature that minimises the NLL of
        `out`'s logits, `out` rescored at it with its loss, log loss and ECE at temperature 1 beside
        (`loss_uncalibrated`, ...), and the card that keeps it."""
        from foveal.errors import FovealError

        if out.logits is None:
            raise FovealError("a temperature is fitted to one model's logits; calibrate each member of an ensemble "
                              "on its own (an ensemble averages its members' calibrated probabilities)")
        t = fit_temperature(out.logits, out.targets)
        plain, fitted = (self.scored_logits(out.logits, out.targets, temperature) for temperature in (1.0, t))
        fitted.metrics["temperature"] = t
        fitted.metrics.update({f"{k}_uncalibrated": plain.metrics[k] for k in ("loss", "log_loss", "ece")})
        if "tta" in out.metrics:
            fitted.metrics["tta"] = out.metrics["tta"]
        self.card = replace(self.card, temperature=t)
        return fitted, self.card

    def scored(self, probs: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor | None = None) -> EvalOutput:
        """Metrics of (N, C) probabilities; the loss (in float64) from the logits, or from log-probabilities when
        there are none (they are logits whose softmax is the probabilities themselves)."""
        metrics = classification_metrics(probs, targets, self.card.classes)
        scores = logits if logits is not None else probs.clamp_min(1e-12).log()
        metrics["loss"] = float(self.criterion(scores.double(), targets))
        return EvalOutput(metrics, probs, targets)

    def combine(self, outs: list[EvalOutput]) -> EvalOutput:
        """An ensemble's output: the mean of the members' probabilities, scored again."""
        return self.scored(torch.stack([o.probs for o in outs]).mean(0), outs[0].targets)

    def export_inputs(self, split: ImageSet, limit: int, batch: int):
        part = ImageSet(split.images[:limit], split.labels[:limit], split.classes)
        loader = self.val_loader(part)
        loader.batch_size = batch
        for x, _ in loader:
            yield self.normalize(x)

    def export_gates(self, want: EvalOutput, got: EvalOutput, int8: bool) -> list[Gate]:
        """Top-1 agreement of at least 99.5% (fp32; reported for int8) and accuracy within 0.2 points (int8: 1)."""
        agree = float((want.probs.argmax(1) == got.probs.argmax(1)).double().mean())
        moved = 100 * abs(want.metrics["accuracy"] - got.metrics["accuracy"])
        return [Gate("top-1 agreement with eager", agree, None if int8 else 0.995, at_least=True),
                Gate(f"accuracy {100 * got.metrics['accuracy']:.2f}% against eager's {100 * want.metrics['accuracy']:.2f}%: "
                     "points apart", moved, 1.0 if int8 else 0.2)]

    def write_report(self, run_dir: Path, data: ImageSet, out: EvalOutput, history: list[dict]) -> None:
        from foveal.tasks.classify.report import write_classification_report

        write_classification_report(run_dir, data, out.probs, out.targets, self.card.classes, history)
