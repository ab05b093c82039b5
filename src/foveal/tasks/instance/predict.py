"""Instance segmentation at prediction time: a Mask R-CNN's objects with their masks on images, folders and videos;
drawn masks and outlines, and RGBA cut-outs of one class."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from foveal.infer.sources import PredictRun, split_videos
from foveal.tasks.detect.predict import DEFAULT_CONF, DEFAULT_IOU, DetectPredictor, to_detections
from foveal.tasks.segment.predict import check_pixel_size, class_id, text_lines
from foveal.types import Detections


MASK_THRESHOLD = 0.5  # a pixel belongs to an object where its mask probability reaches this (torchvision's, COCO's)


def instance_masks(out: dict[str, torch.Tensor]) -> np.ndarray:
    """Bool (N, H, W) masks of a Mask R-CNN's output for one image (probabilities thresholded at 0.5), in the order
    of to_detections' objects."""
    return (out["masks"][out["labels"] > 0, 0] >= MASK_THRESHOLD).cpu().numpy()


def to_instances(out: dict[str, torch.Tensor], classes: tuple[str, ...], image_size: tuple[int, int],
                 source: str = "") -> Detections:
    """A Mask R-CNN's output for one image as Detections with their (N, H, W) masks."""
    det = to_detections(out, classes, image_size, source)
    return Detections(det.xyxy, det.confidence, det.class_id, classes, image_size, instance_masks(out), source)


class InstancePredictor(DetectPredictor):
    """An instance segmenter (Mask R-CNN) at prediction time: Detections that carry each object's mask."""

    task, kind = "segment", "segmenter"
    reduces = False  # each object's mask is in the decoded image's pixels

    def convert(self, out: dict[str, torch.Tensor], size: tuple[int, int], source: str) -> Detections:
        return to_instances(out, self.card.classes, size, source)


def instance_sources(checkpoint: Path, sources: list[str | Path], *, save: bool = False, cutout: str | None = None,
                     pixel_size: float | None = None, conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU,
                     max_det: int | None = None, agnostic_nms: bool = False, project: str | Path = "runs",
                     name: str = "predict", device: str = "auto") -> PredictRun:
    """An instance segmenter over image files, folders and video files, keeping objects at least `conf` confident (NMS
    at `iou`, at most `max_det`); with `save`, images with each object's mask tinted and outlined in its class colour,
    box and label (<stem>.png) and drawn videos (<stem>.mp4); with `cutout` (a class name), <stem>_<class>.png with
    everything but that class's objects transparent."""
    from foveal.infer.video import run_video
    from foveal.tasks.base import output_folder
    from foveal.viz.boxes import draw_detections
    from foveal.viz.masks import cutout as cut

    check_pixel_size(pixel_size)
    predictor = InstancePredictor.from_checkpoint(checkpoint, device)
    keep = class_id(predictor.card.classes, cutout)
    folder = output_folder(project, name) if save or cutout else None
    stills, videos = split_videos(sources)
    kw = dict(conf=conf, iou=iou, max_det=max_det, agnostic_nms=agnostic_nms)
    run, images = instance_loaded(predictor, stills, pixel_size=pixel_size, **kw)
    run.folder = folder
    for i, (det, img) in enumerate(zip(run.images, images)):
        stem = Path(det.source).stem if det.source else f"image{i}"
        if save:
            draw_detections(img, det).convert("RGB").save(folder / f"{stem}.png")
        if keep is not None:
            cut(img, det.class_union(keep)).save(folder / f"{stem}_{det.classes[keep]}.png")
    run.add_videos(videos, lambda path: run_video(
        path, lambda frames: predictor.detect_frames(frames, source=str(path), **kw), save_dir=folder if save else None,
        draw=lambda frame, det: np.asarray(draw_detections(frame, det).convert("RGB"))))
    return run


def instance_loaded(predictor: InstancePredictor, sources: Iterable[str | Path], *, pixel_size: float | None = None,
                    conf: float = DEFAULT_CONF, iou: float = DEFAULT_IOU, max_det: int | None = None,
                    agnostic_nms: bool = False) -> tuple[PredictRun, list[torch.Tensor]]:
    """(the run, the decoded images) of image files by a loaded instance segmenter: what `foveal predict` and
    `foveal serve` answer. Unreadable files are in the run's `failed`."""
    check_pixel_size(pixel_size)
    run, sources = PredictRun(options={"pixel_size": pixel_size}, lines=text_lines), list(sources)
    if not sources:
        return run, []
    run.images, images, run.failed = predictor.predict(sources, conf=conf, iou=iou, max_det=max_det,
                                                       agnostic_nms=agnostic_nms)
    return run, images
