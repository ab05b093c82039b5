"""Instance segmentation as a task of the engine: a detector that also gives each object its mask (Mask R-CNN), its
data (boxes with masks), loss, COCO box and mask evaluation, and report. Its models' cards say task `segment`: a
user asks for `--task segment --model maskrcnn` and tasks.resolve_task makes it this task."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.data.detection.dataset import DetectionSet, DetectionSplits
from foveal.data.detection.loader import DetectionLoader
from foveal.export.gates import Gate
from foveal.models.instance import INSTANCE_FAMILIES, is_instance_model
from foveal.tasks.detect.task import DetectOutput, DetectTask
from foveal.tasks.instance.defaults import DEFAULT_MODEL, DEFAULTS
from foveal.tasks.instance.predict import InstancePredictor, instance_masks, instance_loaded, instance_sources
from foveal.types import Detections

EVAL_BATCH = 4  # each kept box comes back as a full-image float mask: small batches keep evaluation's memory low


@dataclass
class InstanceOutput(DetectOutput):
    """An evaluation pass of an instance segmenter: DetectOutput's (boxes, scores and classes of each prediction,
    the truths) plus every prediction's and truth's mask as COCO RLE, image by image."""

    pred_rles: list[list[dict]]
    truth_rles: list[list[dict]]


def encode(masks: np.ndarray) -> list[dict]:
    """COCO RLEs (bytes counts, as pycocotools makes them) of bool (k, H, W) masks."""
    from pycocotools import mask as mask_utils

    if not len(masks):
        return []
    return mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


def decode(rles: list[dict], size: tuple[int, int]) -> np.ndarray:
    """Bool (k, H, W) masks of COCO RLEs."""
    from pycocotools import mask as mask_utils

    if not rles:
        return np.zeros((0, *size), dtype=bool)
    return mask_utils.decode(list(rles)).transpose(2, 0, 1).astype(bool)


class InstanceTask(DetectTask):
    name, card_task = "instance", "segment"
    predictor = InstancePredictor
    fitness_key = "mask_map"
    families = INSTANCE_FAMILIES
    default_model = DEFAULT_MODEL
    defaults = DEFAULTS
    predict = staticmethod(instance_sources)
    predict_loaded = staticmethod(instance_loaded)

    @classmethod
    def claims(cls, model: str) -> bool:
        return is_instance_model(model)

    @staticmethod
    def load_data(cfg: TrainConfig) -> DetectionSplits:
        from foveal.data.detection.dataset import load_detection

        return load_detection(cfg.data, max_size=cfg.img_size, seed=cfg.seed, masks=True, split=cfg.split)

    def val_loader(self, data: DetectionSet) -> DetectionLoader:
        return DetectionLoader(data, min(self.cfg.eval_batch_size, EVAL_BATCH), device=self.device)

    @torch.inference_mode()
    def evaluate(self, model: nn.Module, loader: DetectionLoader) -> InstanceOutput:
        """COCO box and mask metrics (boxes down to confidence 0.001, NMS at IoU 0.6, masks at 0.5)."""
        from foveal.metrics.detection import instance_metrics

        def rles(out, target):
            return encode(instance_masks(out)), encode(target["masks"].cpu().numpy().astype(bool))

        preds, truths, pairs = self.predictions(model, loader, rles)
        pred_rles, truth_rles = [p for p, _ in pairs], [t for _, t in pairs]
        metrics, pr50 = instance_metrics(preds, truths, pred_rles, truth_rles)
        return InstanceOutput(metrics, preds, truths, pr50, pred_rles, truth_rles)

    def export_gates(self, want: InstanceOutput, got: InstanceOutput, int8: bool) -> list[Gate]:
        """The detector's gates on the boxes, and the masks' mAP@.5 within the boxes' tolerance."""
        return [*super().export_gates(want, got, int8),
                Gate(f"mask mAP@.5 {got.metrics['mask_map50']:.4f} against eager's {want.metrics['mask_map50']:.4f}: "
                     "apart", abs(got.metrics["mask_map50"] - want.metrics["mask_map50"]), 0.03 if int8 else 0.01)]

    def write_report(self, run_dir: Path, data: DetectionSet, out: InstanceOutput, history: list[dict]) -> None:
        """The detection report (boxes' PR curve, confusion matrix, per-class box AP), per-class mask AP, and the
        validation grid with the predicted masks drawn."""
        import json

        from foveal.tasks.detect.report import write_detection_report

        n = min(16, len(data))
        shown = [Detections(p.xyxy, p.confidence, p.class_id, p.classes, p.image_size, decode(r, p.image_size))
                 for p, r in zip(out.preds[:n], out.pred_rles[:n])]
        write_detection_report(run_dir, data, out, history, shown)
        (run_dir / "per_class_mask_ap.json").write_text(json.dumps(out.metrics["per_class_mask_ap"], indent=2))
