"""Object detection as a task of the engine: its data, model, loss, COCO evaluation and report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.data.detection.dataset import DetectionSet, DetectionSplits
from foveal.data.detection.loader import DetectionLoader, train_transform
from foveal.models.card import ModelCard
from foveal.models.detection import DEFAULT_BACKBONE, EVAL_CONF, FAMILIES, NMS_IOU, set_postprocess
from foveal.tasks.base import Task, build_task_model, checked_val
from foveal.tasks.detect.defaults import DEFAULT_MODEL, DEFAULTS
from foveal.export.gates import Gate
from foveal.tasks.detect.explain import explain_detector
from foveal.tasks.detect.predict import DetectPredictor, detect_loaded, detect_sources, inference_detector, to_detections
from foveal.types import Detections

log = logging.getLogger("foveal")

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
MAX_DEFAULT_SIZE = 640


@dataclass
class DetectOutput:
    """What one evaluation pass produced: the metrics, per-image predictions and truths, and the precision at IoU .5
    on COCO's 101 recall points per class."""

    metrics: dict[str, Any]
    preds: list[Detections]
    truths: list[Detections]
    pr50: Any


class DetectTask(Task):
    name = card_task = "detect"
    fitness_key = "map"
    families = FAMILIES  # the model names whose --backbone is a timm classifier
    default_backbone = DEFAULT_BACKBONE
    autocast = True  # bf16 where the CPU has it (the box losses still see fp32 boxes)
    default_model = DEFAULT_MODEL
    defaults = DEFAULTS
    predict = staticmethod(detect_sources)
    predict_loaded = staticmethod(detect_loaded)
    exports = True
    predictor = DetectPredictor
    explain = staticmethod(explain_detector)
    export_size_multiple = 32  # torchvision's detector transform pads each batch to multiples of 32

    def __init__(self, cfg: TrainConfig, card: ModelCard, device: torch.device, channels_last: bool) -> None:
        super().__init__(cfg, card, device, channels_last)
        self.loss_names: list[str] = []

    # --- what a run starts from ------------------------------------------------------------------------------

    @staticmethod
    def load_data(cfg: TrainConfig) -> DetectionSplits:
        from foveal.data.detection.dataset import load_detection

        return load_detection(cfg.data, max_size=cfg.img_size, seed=cfg.seed, split=cfg.split)

    @staticmethod
    def eval_split(splits, card):
        return checked_val(splits, card)

    @classmethod
    def make_card(cls, cfg: TrainConfig, data: DetectionSplits) -> ModelCard:
        size = cfg.img_size or min(MAX_DEFAULT_SIZE, max(max(im.shape[-2:]) for im in data.train.images))
        kwargs: dict[str, Any] = {"max_det": cfg.max_det}
        if cfg.model in cls.families:
            kwargs["backbone"] = cfg.backbone or cls.default_backbone
        elif cfg.backbone:
            from foveal.errors import FovealError

            raise FovealError(f"--backbone goes with {', '.join(cls.families)}; {cfg.model} has its own backbone")
        return ModelCard(cls.card_task, cfg.model, data.classes, 3, (size, size), IMAGENET_MEAN, IMAGENET_STD,
                         model_kwargs=kwargs, augmented=True)

    @classmethod
    def initial_model(cls, cfg: TrainConfig, card: ModelCard) -> nn.Module:
        """The detector; --pretrained gives a family its backbone's ImageNet weights and a torchvision detector its
        COCO weights; --weights loads a local file over it."""
        return build_task_model(cfg, card, cls.families)

    # --- training ----------------------------------------------------------------------------------------------

    def loaders(self, model: nn.Module, data: DetectionSplits) -> tuple[DetectionLoader, DetectionLoader]:
        return (DetectionLoader(data.train, self.cfg.batch_size, shuffle=True, seed=self.cfg.seed, device=self.device,
                                transform=None if self.cfg.augment is False else train_transform()),
                self.val_loader(data.val))

    def val_loader(self, data: DetectionSet) -> DetectionLoader:
        return DetectionLoader(data, min(self.cfg.eval_batch_size, 16), device=self.device)

    def new_tally(self) -> torch.Tensor:
        return torch.zeros((), dtype=torch.float64, device=self.device)  # grows to one entry per loss component

    def loss(self, model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of the detector's losses, each loss component times the batch size, to average over the epoch)."""
        images, targets = batch
        # labels shift by one (0 is the detector's background); anything else a target holds (an instance
        # segmenter's masks) goes to the model as it is
        losses = model(images, [{**t, "labels": t["labels"] + 1} for t in targets])
        self.loss_names = list(losses)
        parts = torch.stack([v.detach() for v in losses.values()]).double() * len(images)
        return sum(losses.values()), parts

    def train_metrics(self, tally: torch.Tensor, seen: int) -> dict[str, float]:
        return {f"train_{k}": float(v) / seen for k, v in zip(self.loss_names, tally)}

    # --- evaluation ---------------------------------------------------------------------------------------------

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, loader: DetectionLoader) -> DetectOutput:
        """COCO metrics of the detector on a loader, keeping boxes down to confidence 0.001 as COCO evaluation does,
        with NMS at IoU 0.6 as in prediction."""
        from foveal.metrics.detection import detection_metrics

        preds, truths, _ = self.predictions(model, loader)
        metrics, pr50 = detection_metrics(preds, truths)
        return DetectOutput(metrics, preds, truths, pr50)

    def predictions(self, model: nn.Module, loader: DetectionLoader, per_image=None) -> tuple[list, list, list]:
        """(predicted Detections, true Detections, and what `per_image(output, target)` returns for each image) over
        a loader, in eval mode, with COCO evaluation's confidence floor and NMS at IoU 0.6."""
        was_training = model.training
        model.eval()
        detector = inference_detector(model, self.card)
        set_postprocess(detector, conf=EVAL_CONF, iou=NMS_IOU)
        preds, truths, extras = [], [], []
        for images, targets in loader:
            for img, out, t in zip(images, detector(images), targets):
                size = tuple(img.shape[-2:])
                preds.append(to_detections(out, self.card.classes, size))
                truths.append(Detections(t["boxes"].cpu().numpy(), torch.ones(len(t["labels"])).numpy(),
                                         t["labels"].cpu().numpy(), self.card.classes, size))
                if per_image is not None:
                    extras.append(per_image(out, t))
        model.train(was_training)
        return preds, truths, extras

    # --- export ------------------------------------------------------------------------------------------------

    @staticmethod
    def export_network(model: nn.Module) -> nn.Module:
        """A single-stage detector up to its raw outputs (RawDetector); a two-stage one whole (WholeDetector)."""
        from foveal.models.split import RawDetector, WholeDetector, splits

        return RawDetector(model) if splits(model) else WholeDetector(model)

    def export_inputs(self, split: DetectionSet, limit: int, batch: int):
        """What the exported network takes: for a single-stage detector, its own transform of the images
        (normalised, resized, padded to multiples of 32); for a two-stage one (which does that inside), the float
        [0, 1] images, zero-padded at the bottom and right to the batch's largest."""
        from foveal.models.split import network_batch, splits

        template = self.card.build().eval()
        images = split.images[:limit]
        for i in range(0, len(images), batch):
            chunk = [im.float().div(255) for im in images[i:i + batch]]
            yield network_batch(template, chunk) if splits(template) else padded(chunk)

    def export_gates(self, want: DetectOutput, got: DetectOutput, int8: bool) -> list[Gate]:
        """mAP@.5 within 0.01 of eager's (int8: 0.03); eager's boxes of confidence 0.25 or more that the exported
        model finds too (same class, IoU 0.9 or more; matched by IoU, not by order), reported."""
        return [Gate("eager's boxes (conf >= 0.25) found again (same class, IoU >= 0.9)", matched_share(want.preds, got.preds),
                     None, at_least=True),
                Gate(f"mAP@.5 {got.metrics['map50']:.4f} against eager's {want.metrics['map50']:.4f}: apart",
                     abs(got.metrics["map50"] - want.metrics["map50"]), 0.03 if int8 else 0.01)]

    def write_report(self, run_dir: Path, data: DetectionSet, out: DetectOutput, history: list[dict]) -> None:
        from foveal.tasks.detect.report import write_detection_report

        write_detection_report(run_dir, data, out, history)


def padded(images: list[torch.Tensor]) -> torch.Tensor:
    """(C, H, W) images of different sizes as one (N, C, H, W) batch, zero-padded at the bottom and right."""
    h, w = max(im.shape[-2] for im in images), max(im.shape[-1] for im in images)
    out = images[0].new_zeros(len(images), images[0].shape[0], h, w)
    for o, im in zip(out, images):
        o[:, :im.shape[-2], :im.shape[-1]] = im
    return out


def matched_share(want: list[Detections], got: list[Detections], conf: float = 0.25, iou: float = 0.9) -> float:
    """The share of `want`'s boxes of confidence `conf` or more that have a box in `got` of the same class overlapping
    them by `iou` or more (each matched once, greedily by IoU); 1.0 where `want` has none."""
    from torchvision.ops import box_iou

    found = total = 0
    for w, g in zip(want, got):
        w, g = w[w.confidence >= conf], g[g.confidence >= conf * 0.5]
        total += len(w)
        if not len(w) or not len(g):
            continue
        overlap = box_iou(torch.from_numpy(w.xyxy), torch.from_numpy(g.xyxy))
        overlap[torch.from_numpy(w.class_id)[:, None] != torch.from_numpy(g.class_id)[None, :]] = 0
        while True:
            best = overlap.max()
            if best < iou:
                break
            i, j = divmod(int(overlap.argmax()), overlap.shape[1])
            found += 1
            overlap[i, :] = 0
            overlap[:, j] = 0
    return found / total if total else 1.0
