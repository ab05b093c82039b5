"""Detection at prediction time: a trained detector on image files, folders or decoded images, with confidence and
NMS thresholds, a class filter and per-class counts."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from foveal.errors import FovealError
from foveal.infer.sources import CheckpointPredictor
from foveal.models.detection import NMS_IOU, set_postprocess
from foveal.types import Detections

log = logging.getLogger("foveal")

DEFAULT_CONF, DEFAULT_IOU = 0.25, NMS_IOU


class DetectPredictor(CheckpointPredictor):
    task, kind = "detect", "detector"

    def class_ids(self, names: Sequence[str] | None) -> list[int] | None:
        """Class names (or ids) to keep, checked against the card."""
        if not names:
            return None
        ids = []
        for n in names:
            if n in self.card.classes:
                ids.append(self.card.classes.index(n))
            elif str(n).isdigit() and int(n) < self.card.num_classes:
                ids.append(int(n))
            else:
                raise FovealError(f"--classes: {n!r} is not a class of this model ({', '.join(self.card.classes[:8])}"
                                  f"{', ...' if self.card.num_classes > 8 else ''})")
        return ids

    @torch.inference_mode()
    def detect(self, images: list[torch.Tensor], *, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
               classes: Sequence[str] | None = None, max_det: int | None = None, sources: Sequence[str] = ()) -> list[Detections]:
        """Detections for decoded uint8 (C, H, W) images of any size (grey ones as RGB), boxes in their own pixels."""
        if not 0 <= conf <= 1 or not 0 < iou <= 1:
            raise FovealError(f"--conf must be in [0, 1] and --iou in (0, 1]; got {conf} and {iou}")
        set_postprocess(self.model, conf=conf, iou=iou, max_det=max_det or self.card.model_kwargs.get("max_det", 100))
        keep = self.class_ids(classes)
        out = []
        for i in range(0, len(images), self.batch_size):
            batch = [_rgb(im).to(self.device, torch.float32).div_(255) for im in images[i:i + self.batch_size]]
            for j, (img, o) in enumerate(zip(batch, self.model(batch))):
                src = sources[i + j] if i + j < len(sources) else ""
                det = self.convert(o, tuple(img.shape[-2:]), src)
                out.append(det if keep is None else det[[c in keep for c in det.class_id.tolist()]])
        return out

    def convert(self, out: dict[str, torch.Tensor], size: tuple[int, int], source: str) -> Detections:
        """The model's output for one image as foveal's Detections."""
        from foveal.tasks.detect import to_detections

        return to_detections(out, self.card.classes, size, source)

    def detect_frames(self, frames: Iterable[torch.Tensor], source: str = "", **kw) -> Iterator[tuple[torch.Tensor, Detections]]:
        """(frame, its detections) for a stream of decoded frames (a video), batch by batch; `frame` numbers them."""
        from foveal.infer.video import predict_frames

        return predict_frames(frames, lambda batch: self.detect(batch, sources=[source] * len(batch), **kw), self.batch_size)

    def predict(self, sources: Iterable[str | Path], **kw) -> tuple[list[Detections], list[torch.Tensor], list[tuple[str, str]]]:
        """(detections, decoded images, unreadable files) for files and folders; unreadable ones are skipped."""
        from foveal.infer.predictor import read_sources

        paths, images, failed = read_sources(sources, channels=3)
        return self.detect(images, sources=[str(p) for p in paths], **kw), images, failed


class InstancePredictor(DetectPredictor):
    """An instance segmenter (Mask R-CNN) at prediction time: Detections that carry each object's mask."""

    task, kind = "segment", "segmenter"
    instances = True

    def convert(self, out: dict[str, torch.Tensor], size: tuple[int, int], source: str) -> Detections:
        from foveal.tasks.instance import to_instances

        return to_instances(out, self.card.classes, size, source)


def _rgb(image: torch.Tensor) -> torch.Tensor:
    return image.expand(3, -1, -1) if image.shape[0] == 1 else image
