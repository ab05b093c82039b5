"""What `foveal predict --save / --crop` writes for detections: annotated images and one crop per object."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch

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


def _stem(d: Detections, i: int) -> str:
    stem = Path(d.source).stem if d.source else f"image{i}"
    return stem if d.frame is None else f"{stem}_{d.frame:06d}"
