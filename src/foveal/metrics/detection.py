"""COCO detection metrics through pycocotools (the reference implementation), a detection confusion matrix."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from foveal.types import Detections

COCO_KEYS = ("map", "map50", "map75", "map_small", "map_medium", "map_large",
             "mar1", "mar10", "mar100", "mar_small", "mar_medium", "mar_large")


def coco_documents(preds: Sequence[Detections], truths: Sequence[Detections]) -> tuple[dict, list[dict]]:
    """The ground truth as a COCO instances document and the predictions as a COCO results list (image ids 1..,
    category ids 1.., boxes [x, y, w, h] in pixels)."""
    classes = truths[0].classes if truths else ()
    images, anns, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, truths), 1):
        h, w = t.image_size
        images.append({"id": i, "height": int(h), "width": int(w)})
        for (x1, y1, x2, y2), c in zip(t.xyxy.tolist(), t.class_id.tolist()):
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                         "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
        for (x1, y1, x2, y2), c, s in zip(p.xyxy.tolist(), p.class_id.tolist(), p.confidence.tolist()):
            results.append({"image_id": i, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s})
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
    return {"images": images, "annotations": anns, "categories": cats}, results


def coco_eval(gt_doc: dict, results: list[dict]):
    """pycocotools' COCOeval over in-memory documents, evaluated and accumulated (its printing silenced)."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        dt = gt.loadRes(results) if results else COCO()
        if not results:
            dt.dataset = {"images": gt_doc["images"], "annotations": [], "categories": gt_doc["categories"]}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def detection_metrics(preds: Sequence[Detections], truths: Sequence[Detections]) -> tuple[dict, np.ndarray]:
    """COCO mAP@[.5:.95], mAP@.5, mAP@.75, AP by size, AR@1/10/100 and AR by size (-1 where no object qualifies, as
    COCO reports it), per-class AP; and the precision at IoU .5 on COCO's 101 recall points per class, (101, C)."""
    classes = truths[0].classes
    gt_doc, results = coco_documents(preds, truths)
    ev = coco_eval(gt_doc, results)
    metrics = {k: float(v) for k, v in zip(COCO_KEYS, ev.stats)}
    precision = ev.eval["precision"]  # (iou thresholds, 101 recall points, classes, area ranges, max dets)
    per_class = {}
    for k, name in enumerate(classes):
        p = precision[:, :, k, 0, -1]
        per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else -1.0
    metrics["per_class_ap"] = per_class
    metrics["images"], metrics["objects"] = len(truths), int(sum(len(t) for t in truths))
    return metrics, precision[0, :, :, 0, -1]


def box_iou_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import torch
    from torchvision.ops import box_iou

    return box_iou(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def detection_confusion(preds: Sequence[Detections], truths: Sequence[Detections], conf: float = 0.25,
                        iou: float = 0.5) -> np.ndarray:
    """(C + 1) x (C + 1) counts, rows the true class and columns the predicted one, the last index the background:
    a missed object is (class, background), a box on nothing is (background, class). Pairs are matched greedily by
    IoU >= iou, highest first, class-agnostic."""
    n = len(truths[0].classes)
    m = np.zeros((n + 1, n + 1), dtype=np.int64)
    for p, t in zip(preds, truths):
        p = p[p.confidence >= conf]
        used_p, used_t = set(), set()
        if len(p) and len(t):
            ious = box_iou_np(t.xyxy, p.xyxy)
            for ti, pi in sorted(zip(*np.nonzero(ious >= iou)), key=lambda ij: -ious[ij]):
                if ti not in used_t and pi not in used_p:
                    used_t.add(ti), used_p.add(pi)
                    m[t.class_id[ti], p.class_id[pi]] += 1
        for ti in set(range(len(t))) - used_t:
            m[t.class_id[ti], n] += 1
        for pi in set(range(len(p))) - used_p:
            m[n, p.class_id[pi]] += 1
    return m
