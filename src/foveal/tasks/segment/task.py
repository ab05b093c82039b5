"""Semantic segmentation as a task of the engine: its data, model, loss (cross-entropy with the ignore index, optional
Dice), evaluation at each label image's own resolution, and report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.config import TrainConfig
from foveal.data.segmentation.loader import MaskLoader, train_transform
from foveal.data.segmentation.semantic import IGNORE, MaskSet, MaskSplits
from foveal.export.gates import Gate
from foveal.models.card import ModelCard
from foveal.models.segmentation import DEFAULT_ENCODER, FAMILIES
from foveal.tasks.base import Task, build_task_model, checked_val
from foveal.tasks.segment.defaults import DEFAULT_MODEL, DEFAULTS, SMALL_IMAGE, SMALL_IMAGE_MODEL
from foveal.tasks.segment.predict import SegmentPredictor, segment_loaded, segment_sources
from foveal.types import Segmentation

log = logging.getLogger("foveal")

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MAX_DEFAULT_SIZE = 512
STRIDE = 32  # encoders downsample by 32: inputs are multiples of it
MIN_CROP = 256  # a smaller crop holds too little of a scene: small images train whole
EVAL_LOGITS = 2 ** 26  # an evaluation batch's logits at most (256 MB in fp32): 4 photos of 81 classes at 384x480


@dataclass
class SegmentOutput:
    """One evaluation pass: the metrics, the pixel confusion matrix and each image's predicted class map."""

    metrics: dict[str, Any]
    confusion: np.ndarray
    preds: list[Segmentation]


class Logits(nn.Module):
    """A segmenter's class logits alone (torchvision's return a dict with an auxiliary output): what is exported."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from foveal.models.segmentation import logits

        return logits(self.model, x)


def input_size(cfg: TrainConfig, data: MaskSplits) -> tuple[int, int]:
    """(height, width) the network sees at evaluation and prediction: --img-size square, else the training images'
    full resolution (their largest height and width, the longer side at most 512, the ratio kept), each rounded up
    to a multiple of 32."""
    if cfg.img_size:
        h = w = int(cfg.img_size)
    else:
        h = max(im.shape[-2] for im in data.train.images)
        w = max(im.shape[-1] for im in data.train.images)
        shrink = min(1.0, MAX_DEFAULT_SIZE / max(h, w))
        h, w = h * shrink, w * shrink
    return _multiple(h), _multiple(w)


def train_size(cfg: TrainConfig, size: tuple[int, int]) -> tuple[int, int]:
    """The crops training sees: --train-scale of the input size's sides, but no side below MIN_CROP (an image smaller
    than that trains whole), rounded up to a multiple of 32."""
    return tuple(_multiple(max(side * cfg.train_scale, min(side, MIN_CROP))) for side in size)


def _multiple(side: float) -> int:
    return max(STRIDE, -(-int(round(side)) // STRIDE) * STRIDE)


def eval_batch(card: ModelCard, logits: int = EVAL_LOGITS) -> int:
    """Images per evaluation batch: up to 16, as many as keep one batch's logits within `logits` numbers."""
    return max(1, min(16, logits // (card.num_classes * card.input_size[0] * card.input_size[1])))


def dice_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int = IGNORE) -> torch.Tensor:
    """1 - the soft Dice of the classes present in the batch's truth, ignored pixels left out."""
    keep = (target != ignore_index).unsqueeze(1)
    probs = logits.float().softmax(1) * keep
    onehot = F.one_hot(target.clamp(max=logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2) * keep
    inter, total = (probs * onehot).sum((0, 2, 3)), (probs + onehot).sum((0, 2, 3))
    present = onehot.sum((0, 2, 3)) > 0
    return 1 - (2 * inter[present] / total[present].clamp(min=1e-6)).mean()


class SegmentTask(Task):
    name = card_task = "segment"
    fitness_key = "miou"
    default_model = DEFAULT_MODEL
    families = FAMILIES
    exports = True
    predictor = SegmentPredictor
    default_backbone = DEFAULT_ENCODER
    defaults = DEFAULTS
    predict = staticmethod(segment_sources)
    predict_loaded = staticmethod(segment_loaded)

    def __init__(self, cfg: TrainConfig, card: ModelCard, device: torch.device, channels_last: bool) -> None:
        super().__init__(cfg, card, device, channels_last)
        self.channels_last = channels_last
        self.mean = torch.tensor(card.mean, device=device).view(1, -1, 1, 1)
        self.std = torch.tensor(card.std, device=device).view(1, -1, 1, 1)

    # --- what a run starts from ------------------------------------------------------------------------------

    @staticmethod
    def load_data(cfg: TrainConfig) -> MaskSplits:
        from foveal.data.segmentation.dataset import load_semantic

        return load_semantic(cfg.data, max_size=cfg.img_size and 2 * cfg.img_size, val_split=cfg.val_split, seed=cfg.seed,
                             split=cfg.split)

    @classmethod
    def default_model_for(cls, cfg: TrainConfig, data: MaskSplits) -> str:
        """LR-ASPP, sized for a CPU, for photos; the U-Net for images of at most SMALL_IMAGE pixels at the input size,
        where its full-resolution decoder costs little and draws finer edges (96-px shapes in 10 epochs: mIoU above
        0.85 against LR-ASPP's 0.77, whose logits are at a stride of 8)."""
        h, w = input_size(cfg, data)
        return cls.default_model if h * w > SMALL_IMAGE else SMALL_IMAGE_MODEL

    @staticmethod
    def eval_split(splits, card):
        return checked_val(splits, card)

    @classmethod
    def make_card(cls, cfg: TrainConfig, data: MaskSplits) -> ModelCard:
        size = input_size(cfg, data)
        kwargs: dict[str, Any] = {}
        if cfg.model in cls.families:
            kwargs["backbone"] = cfg.backbone or cls.default_backbone
        elif cfg.backbone:
            from foveal.errors import FovealError

            raise FovealError(f"--backbone goes with {' or '.join(cls.families)}; {cfg.model} has its own backbone")
        return ModelCard("segment", cfg.model, data.classes, 3, size, IMAGENET_MEAN, IMAGENET_STD,
                         model_kwargs=kwargs, augmented=cfg.augment is not False)

    @classmethod
    def initial_model(cls, cfg: TrainConfig, card: ModelCard) -> nn.Module:
        """The segmenter; --pretrained gives the U-Net its encoder's ImageNet weights and a torchvision model its
        COCO (VOC labels) weights; --weights loads a local file over it."""
        return build_task_model(cfg, card, cls.families)

    def before_training(self, model: nn.Module, data: MaskSplits) -> None:
        pass

    # --- training ----------------------------------------------------------------------------------------------

    def loaders(self, model: nn.Module, data: MaskSplits) -> tuple[MaskLoader, MaskSet]:
        size = train_size(self.cfg, self.card.input_size)
        scale = self.cfg.train_scale if size != tuple(self.card.input_size) else 1.0  # small images: whole
        transform = None if self.cfg.augment is False else train_transform(size, scale)
        train = MaskLoader(data.train, self.cfg.batch_size, size, shuffle=True, seed=self.cfg.seed, device=self.device,
                           transform=transform)
        return train, self.val_loader(data.val)

    def val_loader(self, data: MaskSet) -> MaskSet:
        return data  # evaluation takes each image at its own size

    def new_tally(self) -> torch.Tensor:
        return torch.zeros(2, dtype=torch.float64, device=self.device)  # correct pixels, counted pixels

    def forward(self, model: nn.Module, images: torch.Tensor) -> torch.Tensor:
        from foveal.models.segmentation import logits

        x = (images - self.mean) / self.std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return logits(model, x)

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
        images, masks = batch
        out = self.forward(model, images)
        loss = F.cross_entropy(out.float(), masks, ignore_index=IGNORE)
        if self.cfg.dice:
            loss = loss + self.cfg.dice * dice_loss(out, masks)
        keep = masks != IGNORE
        correct = ((out.detach().argmax(1) == masks) & keep).sum()
        return loss, torch.stack([correct, keep.sum()]).double()

    @staticmethod
    def train_metrics(tally: torch.Tensor, seen: int) -> dict[str, float]:
        return {"train_pixel_accuracy": float(tally[0] / tally[1].clamp(min=1))}

    # --- evaluation ---------------------------------------------------------------------------------------------

    def evaluate(self, model: nn.Module, data: MaskSet) -> SegmentOutput:
        """mIoU, per-class IoU, pixel accuracy and Dice over every label image at its own resolution."""
        from foveal.tasks.segment.predict import class_maps
        from foveal.metrics.segmentation import confusion, segmentation_metrics

        maps = class_maps(model, self.card, data.images, self.device, batch_size=eval_batch(self.card),
                          amp=self.cfg.amp)
        n = self.card.num_classes
        cm = torch.zeros(n, n, dtype=torch.int64)
        for m, truth in zip(maps, data.masks):
            cm += confusion(m, truth, n)
        preds = [Segmentation(m.numpy(), self.card.classes, p) for m, p in
                 zip(maps, data.paths or [""] * len(maps))]
        return SegmentOutput(segmentation_metrics(cm.numpy(), self.card.classes), cm.numpy(), preds)

    # --- export ------------------------------------------------------------------------------------------------

    @staticmethod
    def export_network(model: nn.Module) -> nn.Module:
        return Logits(model)

    def export_inputs(self, split: MaskSet, limit: int, batch: int):
        from foveal.tasks.segment.predict import network_input

        images = split.images[:limit]
        for i in range(0, len(images), batch):
            yield network_input(images[i:i + batch], self.card)

    def export_gates(self, want: SegmentOutput, got: SegmentOutput, int8: bool) -> list[Gate]:
        """mIoU within 0.005 of eager's (int8: 0.02); the share of pixels given the same class, reported."""
        same = sum(int((a.class_map == b.class_map).sum()) for a, b in zip(want.preds, got.preds))
        pixels = sum(a.class_map.size for a in want.preds)
        return [Gate("pixels given eager's class", same / max(pixels, 1), None, at_least=True),
                Gate(f"mIoU {got.metrics['miou']:.4f} against eager's {want.metrics['miou']:.4f}: apart",
                     abs(got.metrics["miou"] - want.metrics["miou"]), 0.02 if int8 else 0.005)]

    def write_report(self, run_dir: Path, data: MaskSet, out: SegmentOutput, history: list[dict]) -> None:
        from foveal.tasks.segment.report import write_segmentation_report

        write_segmentation_report(run_dir, data, out, history)
