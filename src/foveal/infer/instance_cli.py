"""`foveal predict` for an instance segmenter (Mask R-CNN): per object its class, confidence, box, pixel area (and
physical area with --pixel-size) and RLE mask; per class the area of its objects' union; drawn masks and outlines,
RGBA cut-outs of one class, images, folders and videos."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from foveal.infer.sources import PredictRun
from foveal.types import Detections


def instance_dict(det: Detections, pixel_size: float | None = None, masks: bool = True) -> dict[str, Any]:
    """What JSON output holds for one image or frame: Detections.to_dict's boxes and counts, each object's pixels,
    share of the image, area in mm² (with `pixel_size` in mm) and RLE mask, and the same per class (the union of its
    objects, so overlapping objects are counted once)."""
    from foveal.infer.segment_cli import area_entry

    out = det.to_dict()
    for obj, m in zip(out["objects"], det.mask):
        obj.update(area_entry(m, pixel_size, masks))
    classes = []
    for name in det.counts():
        c = det.classes.index(name)
        classes.append({"class": name, "class_id": c, **area_entry(class_union(det, c), pixel_size, masks)})
    out["classes"] = sorted(classes, key=lambda e: -e["pixels"])
    return out


def class_union(det: Detections, class_id: int) -> np.ndarray:
    """(H, W) bool: the pixels of every object of one class."""
    return det.mask[det.class_id == class_id].any(0) if len(det) else np.zeros(det.image_size, dtype=bool)


def instance_sources(predictor, sources: list[str | Path], *, save: bool, keep: int | None, conf: float, iou: float,
                     max_det: int | None, folder: Path | None) -> PredictRun:
    """An instance segmenter over image files, folders and video files; with `save`, images with each object's mask
    tinted and outlined in its class colour, box and label (<stem>.png) and drawn videos (<stem>.mp4); with `keep`
    (a class id), <stem>_<class>.png with everything but that class's objects transparent."""
    from foveal.infer.sources import split_videos
    from foveal.infer.video import run_video
    from foveal.viz.boxes import draw_detections
    from foveal.viz.masks import cutout

    stills, videos = split_videos(sources)
    kw = dict(conf=conf, iou=iou, max_det=max_det)
    run = PredictRun(folder=folder)
    if stills:
        run.images, images, run.failed = predictor.predict(stills, **kw)
        for i, (det, img) in enumerate(zip(run.images, images)):
            stem = Path(det.source).stem if det.source else f"image{i}"
            if save:
                draw_detections(img, det).convert("RGB").save(folder / f"{stem}.png")
            if keep is not None:
                cutout(img, class_union(det, keep)).save(folder / f"{stem}_{det.classes[keep]}.png")
    run.add_videos(videos, lambda path: run_video(
        path, lambda frames: predictor.detect_frames(frames, source=str(path), **kw), save_dir=folder if save else None,
        draw=lambda frame, det: np.asarray(draw_detections(frame, det).convert("RGB"))))
    return run


def describe(det: Detections, pixel_size: float | None) -> str:
    """One line of text output: the objects per class with the area they cover."""
    from foveal.infer.segment_cli import describe_area

    if not len(det):
        return "no objects"
    parts = []
    for name, n in sorted(det.counts().items(), key=lambda kv: -kv[1]):
        pixels = int(class_union(det, det.classes.index(name)).sum())
        parts.append(f"{n} {name} ({describe_area(pixels, det.mask[0].size, pixel_size)})")
    return f"{len(det)} object(s): " + ", ".join(parts)
