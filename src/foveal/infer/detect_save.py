"""What `foveal predict` writes for detections: annotated images, one crop per object, CSV rows."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import torch

from foveal.engine.rundir import new_run_dir
from foveal.types import Detections
from foveal.viz.annotate import to_pil
from foveal.viz.boxes import draw_detections


def save_drawn(dets: Sequence[Detections], images: Sequence[torch.Tensor], folder: Path) -> Path:
    for i, (d, img) in enumerate(zip(dets, images)):
        draw_detections(img, d).convert("RGB").save(folder / f"{_stem(d, i)}.jpg", quality=92)
    return folder


def save_crops(dets: Sequence[Detections], images: Sequence[torch.Tensor], folder: Path, margin: float = 0.0) -> int:
    """crops/<class>/<image>_<n>.jpg for every object, its box grown by `margin` of its width and height on each
    side and clipped to the image. Returns the number written."""
    if margin < 0:
        from foveal.errors import FovealError

        raise FovealError(f"--margin is a fraction of the box size, 0 or more; got {margin}")
    n = 0
    for i, (d, img) in enumerate(zip(dets, images)):
        pil = to_pil(img)
        for k, ((x1, y1, x2, y2), c) in enumerate(zip(d.xyxy.tolist(), d.class_id.tolist())):
            mx, my = (x2 - x1) * margin, (y2 - y1) * margin
            box = (max(0, round(x1 - mx)), max(0, round(y1 - my)), min(pil.width, round(x2 + mx)), min(pil.height, round(y2 + my)))
            if box[2] <= box[0] or box[3] <= box[1]:
                continue
            out = folder / "crops" / d.classes[c]
            out.mkdir(parents=True, exist_ok=True)
            pil.crop(box).save(out / f"{_stem(d, i)}_{k}.jpg", quality=95)
            n += 1
    return n


def write_csv(dets: Sequence[Detections], path: Path) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["source", "frame", "class", "confidence", "x1", "y1", "x2", "y2"])
        for d in dets:
            frame = "" if d.frame is None else d.frame
            for (x1, y1, x2, y2), s, c in zip(d.xyxy.tolist(), d.confidence.tolist(), d.class_id.tolist()):
                w.writerow([d.source, frame, d.classes[c], f"{s:.4f}", f"{x1:.1f}", f"{y1:.1f}", f"{x2:.1f}", f"{y2:.1f}"])
    return path


def output_dir(project: str | Path, name: str) -> Path:
    return new_run_dir(project, name, False)


def _stem(d: Detections, i: int) -> str:
    stem = Path(d.source).stem if d.source else f"image{i}"
    return stem if d.frame is None else f"{stem}_{d.frame:06d}"
