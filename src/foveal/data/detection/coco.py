"""COCO instances JSON: `images` (id, file_name, width, height), `categories` (id, name) and `annotations`
(image_id, category_id, bbox [x, y, width, height] in pixels, iscrowd). Class order follows category id.
`file_name` is resolved against the JSON's folder, then its `images/` subfolder, then `images_dir`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from foveal.data.detection.annotations import BadLabels, BoxDataset, ImageBoxes, box_problem
from foveal.errors import FovealError


def read_coco(path: str | Path, images_dir: str | Path | None = None) -> BoxDataset:
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise FovealError(f"cannot read COCO JSON {path}: {exc}") from None
    if not isinstance(doc, dict) or not {"images", "annotations", "categories"} <= set(doc):
        raise FovealError(f"{path} is not a COCO instances file: expected keys images, annotations, categories")
    cats = sorted(doc["categories"], key=lambda c: c["id"])
    index = {c["id"]: i for i, c in enumerate(cats)}
    classes = tuple(str(c["name"]) for c in cats)
    roots = [path.parent, path.parent / "images", *([Path(images_dir)] if images_dir else [])]
    by_image: dict[int, list[dict]] = {}
    for a in doc["annotations"]:
        by_image.setdefault(a["image_id"], []).append(a)
    bad, notes, items, crowd = BadLabels(), [], [], 0
    for im in doc["images"]:
        file = next((r / im["file_name"] for r in roots if (r / im["file_name"]).is_file()), None)
        if file is None:
            notes.append(f"{path}: image {im['file_name']!r} not found under {', '.join(map(str, roots))}; skipped")
            continue
        size = (int(im["height"]), int(im["width"]))
        boxes, labels, segments = [], [], []
        for a in by_image.get(im["id"], []):
            if a.get("iscrowd", 0):
                crowd += 1
                continue
            where = f"{path}: annotation {a.get('id', '?')} of {im['file_name']}"
            if a.get("category_id") not in index:
                bad.add(where, f"unknown category id {a.get('category_id')}")
                continue
            x, y, w, h = (float(v) for v in a["bbox"])
            box = np.array([x, y, x + w, y + h])
            problem = box_problem(box, size)
            if problem:
                bad.add(where, problem)
                continue
            boxes.append(np.clip(box, 0, [size[1], size[0], size[1], size[0]]))
            labels.append(index[a["category_id"]])
            segments.append(a.get("segmentation") or None)  # polygons [[x, y, ...], ...] or an RLE dict
        items.append(ImageBoxes(file, size, np.array(boxes).reshape(-1, 4), np.array(labels, dtype=np.int64),
                                segments if any(s is not None for s in segments) else None))
    if crowd:
        notes.append(f"{path}: {crowd} crowd annotation(s) left out, as in COCO training")
    return BoxDataset(classes, items, notes + bad.notes(str(path)))


def coco_dict(ds: BoxDataset, relative_to: Path | None = None) -> dict:
    """A COCO instances document of a BoxDataset: image ids 1.., category ids 1.. in class order."""
    images, annotations = [], []
    for i, it in enumerate(ds.items, 1):
        name = os.path.relpath(it.path, relative_to) if relative_to else it.path.name
        images.append({"id": i, "file_name": name, "height": it.size[0], "width": it.size[1]})
        for cls, (x1, y1, x2, y2) in zip(it.labels.tolist(), it.boxes.tolist()):
            annotations.append({"id": len(annotations) + 1, "image_id": i, "category_id": cls + 1,
                                "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(ds.classes)]
    return {"images": images, "annotations": annotations, "categories": categories}


def write_coco(ds: BoxDataset, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(coco_dict(ds, relative_to=out.parent.resolve())))
    return out
