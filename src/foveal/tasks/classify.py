"""Classification as a task of the engine: its loaders, its loss, its evaluation and its report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.config import TrainConfig
from foveal.data.augment import FlipTranslate, Normalize
from foveal.data.tensors import DataSplits, FeatureSet, ImageSet, TensorLoader
from foveal.data.views import EvalView, TrainView
from foveal.engine.transfer import cached_features, finetune_mode
from foveal.infer.tta import tta_probabilities
from foveal.models.head import head
from foveal.metrics.classification import classification_metrics
from foveal.models.card import ModelCard

log = logging.getLogger("foveal")


@dataclass
class EvalOutput:
    """What one evaluation pass produced: the metrics and the per-image probabilities behind them."""

    metrics: dict[str, Any]
    probs: torch.Tensor
    targets: torch.Tensor


class ClassifyTask:
    name = "classify"
    fitness_key = "accuracy"  # higher is better; picks best.pt and drives early stopping

    def __init__(self, cfg: TrainConfig, card: ModelCard, device: torch.device, channels_last: bool) -> None:
        self.cfg, self.card, self.device = cfg, card, device
        self.normalize = Normalize(card.mean, card.std, channels_last)
        self.criterion = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        self.features_time_s = 0.0  # --finetune head: the seconds spent computing the backbone's features

    def loaders(self, model: nn.Module, data: DataSplits) -> tuple[TensorLoader, TensorLoader]:
        """(train, val) loaders. With --finetune head they hold the frozen backbone's features, computed once."""
        if finetune_mode(self.cfg) != "head":
            return self.train_loader(data), self.val_loader(data.val)
        feats = []
        for split in (data.train, data.val):  # batches of 64: big batches of 224 px activations only cost memory
            view = EvalView(self.card)
            loader = TensorLoader(split, min(64, self.cfg.eval_batch_size), device=self.device, augment=view)
            f, seconds = cached_features(model, split.images, loader, self.normalize, self.card)
            feats.append(FeatureSet(f.to(self.device), split.labels, split.classes))
            self.features_time_s += seconds
        log.info("cached the frozen backbone's features (%d-d) of %d images in %.1fs", feats[0].images.shape[1],
                 len(feats[0]) + len(feats[1]), self.features_time_s)
        return (TensorLoader(feats[0], self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device),
                TensorLoader(feats[1], self.cfg.eval_batch_size, shuffle=False, device=self.device))

    def train_loader(self, data: DataSplits) -> TensorLoader:
        if self.card.resize_size is not None:  # transfer learning: crop + flip + policy to the card's input size
            augment = TrainView(self.card, self.cfg.auto_augment)
        elif self.cfg.augment:
            augment = FlipTranslate(flip=True, pad=max(1, data.train.size[0] // 16))
        else:
            augment = None
        return TensorLoader(data.train, self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device, augment=augment)

    def val_loader(self, data: ImageSet) -> TensorLoader:
        view = EvalView(self.card) if self.card.resize_size is not None else None
        return TensorLoader(data, self.cfg.eval_batch_size, shuffle=False, device=self.device, augment=view)

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
        cfg.tta, images (not cached features) are scored by the mean probability over flipped and shifted views."""
        was_training = model.training
        model.eval()
        logits, probs, targets = [], [], []
        for x, y in loader:
            if self.cfg.tta and not x.is_floating_point():
                probs.append(tta_probabilities(lambda v: self.forward(model, v), x, self.card.augmented).cpu())
            else:
                logits.append(self.forward(model, x).float().cpu())
            targets.append(y.cpu())
        model.train(was_training)
        if logits:
            scores = torch.cat(logits)
            return self.scored(F.softmax(scores, 1), torch.cat(targets), scores)
        out = self.scored(torch.cat(probs), torch.cat(targets))
        out.metrics["tta"] = True
        return out

    def scored(self, probs: torch.Tensor, targets: torch.Tensor, logits: torch.Tensor | None = None) -> EvalOutput:
        """Metrics of (N, C) probabilities; the loss from the logits, or from log-probabilities when there are none
        (they are logits whose softmax is the probabilities themselves)."""
        metrics = classification_metrics(probs, targets, self.card.classes)
        scores = logits if logits is not None else probs.clamp_min(1e-12).log()
        metrics["loss"] = float(self.criterion(scores, targets))
        return EvalOutput(metrics, probs, targets)

    def combine(self, outs: list[EvalOutput]) -> EvalOutput:
        """An ensemble's output: the mean of the members' probabilities, scored again."""
        return self.scored(torch.stack([o.probs for o in outs]).mean(0), outs[0].targets)

    def write_report(self, run_dir: Path, data: ImageSet, out: EvalOutput, history: list[dict]) -> None:
        from foveal.tasks.classify_report import write_classification_report

        write_classification_report(run_dir, data, out.probs, out.targets, self.card.classes, history)
