"""Instance outlines to masks: COCO polygons and RLE (and YOLO-seg polygons, read as pixel polygons) rasterised by
pycocotools, the reference COCO's own evaluation uses, so training masks and evaluated masks agree."""

from __future__ import annotations

import numpy as np
import torch

from foveal.errors import FovealError


def rasterize(segment: list | dict, size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of one object: a list of flat pixel polygons [x1, y1, x2, y2, ...] (their union) or a COCO
    RLE dict (compressed or uncompressed counts)."""
    from pycocotools import mask as mask_utils

    h, w = size
    if isinstance(segment, dict):
        rle = mask_utils.frPyObjects(segment, h, w) if isinstance(segment.get("counts"), list) else segment
    else:
        polys = [ring for p in segment for ring in split_rings(p)]
        if not polys:
            raise FovealError("a polygon needs at least 3 points")
        rle = mask_utils.merge(mask_utils.frPyObjects(polys, h, w))
    mask = mask_utils.decode(rle)
    return (mask[..., 0] if mask.ndim == 3 else mask).astype(bool)


def object_masks(item) -> tuple[torch.Tensor, int]:
    """(bool (k, H, W) masks at the annotation's size, how many objects had no outline and fill their box) of one
    image's objects (an ImageBoxes)."""
    h, w = item.size
    out = torch.zeros((len(item.labels), h, w), dtype=torch.bool)
    segments = item.segments or [None] * len(item.labels)
    box_only = 0
    for k, (seg, (x1, y1, x2, y2)) in enumerate(zip(segments, item.boxes.tolist())):
        if seg:
            out[k] = torch.from_numpy(rasterize(seg, (h, w)))
        else:
            box_only += 1
            out[k, int(y1):max(int(y1) + 1, round(y2)), int(x1):max(int(x1) + 1, round(x2))] = True
    return out, box_only


def split_rings(polygon: list[float], decimals: int = 3) -> list[list[float]]:
    """The simple loops of a flat polygon that touches itself. Ultralytics' YOLO-seg labels join the parts of a
    multi-part COCO object into one ring by bridges walked there and back, so a vertex repeats where a part closes;
    cutting the ring at each repeat gives back the parts (bridges fall out as loops of under 3 points)."""
    xy = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    rings, stack, seen = [], [], {}
    for p in xy:
        key = tuple(np.round(p, decimals))
        if key in seen:  # a loop closes here: cut it off the walk
            start = seen[key]
            loop = stack[start:]
            del stack[start + 1:]
            for q in loop[1:]:
                seen.pop(tuple(np.round(q, decimals)), None)
            if len(loop) >= 3:
                rings.append(np.asarray(loop).ravel().tolist())
        else:
            seen[key] = len(stack)
            stack.append(p)
    if len(stack) >= 3:
        rings.append(np.asarray(stack).ravel().tolist())
    return rings


def polygon_area(polygon: list[float]) -> float:
    """The area inside a flat pixel polygon [x1, y1, x2, y2, ...]: the shoelace formula over each of its simple loops
    (see split_rings), summed."""
    total = 0.0
    for ring in split_rings(polygon):
        xy = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        total += abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2
    return float(total)
