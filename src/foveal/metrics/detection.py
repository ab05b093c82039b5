"""COCO detection and instance mask metrics through pycocotools (the reference implementation), a detection confusion
matrix."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence

import numpy as np

from foveal.types import Detections

COCO_KEYS = ("map", "map50", "map75", "map_small", "map_medium", "map_large",
             "mar1", "mar10", "mar100", "mar_small", "mar_medium", "mar_large")
NOT_APPLICABLE = -1.0  # pycocotools' figure for a size range that has no object in the truth; metrics.json keeps it


def metric_text(value: float) -> str:
    """A metric as printed: 4 decimals, or n/a for pycocotools' not-applicable -1."""
    return "n/a" if value == NOT_APPLICABLE else f"{value:.4f}"


def coco_documents(preds: Sequence[Detections], truths: Sequence[Detections],
                   rles: tuple[Sequence[list[dict]], Sequence[list[dict]]] | None = None) -> tuple[dict, list[dict]]:
    """The ground truth as a COCO instances document and the predictions as a COCO results list (image ids 1..,
    category ids 1.., boxes [x, y, w, h] in pixels). With `rles` (per image, each prediction's and each truth's COCO
    RLE mask), every entry carries its mask as `segmentation` and a truth's area is its mask's, as in COCO."""
    from pycocotools import mask as mask_utils

    classes = truths[0].classes if truths else ()
    pred_rles, truth_rles = rles if rles is not None else (None, None)
    images, anns, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, truths), 1):
        h, w = t.image_size
        images.append({"id": i, "height": int(h), "width": int(w)})
        for k, ((x1, y1, x2, y2), c) in enumerate(zip(t.xyxy.tolist(), t.class_id.tolist())):
            ann = {"id": len(anns) + 1, "image_id": i, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                   "area": (x2 - x1) * (y2 - y1), "iscrowd": 0}
            if truth_rles is not None:
                rle = truth_rles[i - 1][k]
                ann.update(segmentation=rle, area=float(mask_utils.area(rle)))
            anns.append(ann)
        for k, ((x1, y1, x2, y2), c, s) in enumerate(zip(p.xyxy.tolist(), p.class_id.tolist(), p.confidence.tolist())):
            res = {"image_id": i, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1], "score": s}
            if pred_rles is not None:
                res["segmentation"] = pred_rles[i - 1][k]
            results.append(res)
    cats = [{"id": i + 1, "name": n} for i, n in enumerate(classes)]
    return {"images": images, "annotations": anns, "categories": cats}, results


def coco_eval(gt_doc: dict, results: list[dict], iou_type: str = "bbox"):
    """pycocotools' COCOeval ("bbox" or "segm") over in-memory documents, evaluated and accumulated (its printing
    silenced)."""
    import copy

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_doc
        gt.createIndex()
        # loadRes rewrites a result's bbox from its mask and adds fields: it gets its own copy
        dt = gt.loadRes(copy.deepcopy(results)) if results else COCO()
        if not results:
            dt.dataset = {"images": gt_doc["images"], "annotations": [], "categories": gt_doc["categories"]}
            dt.createIndex()
        ev = COCOeval(gt, dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def detection_metrics(preds: Sequence[Detections], truths: Sequence[Detections]) -> tuple[dict, np.ndarray]:
    """COCO mAP@[.5:.95], mAP@.5, mAP@.75, AP by size, AR@1/10/100 and AR by size (-1 where no object qualifies, as
    COCO reports it), per-class AP; and the precision at IoU .5 on COCO's 101 recall points per class, (101, C)."""
    gt_doc, results = coco_documents(preds, truths)
    metrics, pr50 = _summary(coco_eval(gt_doc, results), truths[0].classes)
    metrics["images"], metrics["objects"] = len(truths), int(sum(len(t) for t in truths))
    return metrics, pr50


def instance_metrics(preds: Sequence[Detections], truths: Sequence[Detections], pred_rles: Sequence[list[dict]],
                     truth_rles: Sequence[list[dict]]) -> tuple[dict, np.ndarray]:
    """COCO box and mask metrics of instance predictions: the box metrics under detection_metrics' names, the mask
    ones prefixed `mask_` (mask_map, mask_map50, ..., per_class_mask_ap); and the masks' precision at IoU .5 per class,
    (101, C). Areas (for AP by size) are the true masks', as in COCO."""
    gt_doc, results = coco_documents(preds, truths, (pred_rles, truth_rles))
    classes = truths[0].classes
    # each evaluation gets results of its own kind, as COCO's result files are: pycocotools takes a result's area
    # (which decides whether an unmatched one counts in AP by size) from its box when it has one, else from its mask
    only = lambda drop: [{k: v for k, v in r.items() if k != drop} for r in results]
    box, _ = _summary(coco_eval(gt_doc, only("segmentation"), "bbox"), classes)
    mask, pr50 = _summary(coco_eval(gt_doc, only("bbox"), "segm"), classes)
    metrics = {**{f"mask_{k}": v for k, v in mask.items() if k != "per_class_ap"}, **box,
               "per_class_mask_ap": mask["per_class_ap"]}
    metrics["images"], metrics["objects"] = len(truths), int(sum(len(t) for t in truths))
    return metrics, pr50


def _summary(ev, classes: Sequence[str]) -> tuple[dict, np.ndarray]:
    metrics = {k: float(v) for k, v in zip(COCO_KEYS, ev.stats)}
    precision = ev.eval["precision"]  # (iou thresholds, 101 recall points, classes, area ranges, max dets)
    per_class = {}
    for k, name in enumerate(classes):
        p = precision[:, :, k, 0, -1]
        per_class[name] = float(p[p > -1].mean()) if (p > -1).any() else -1.0
    metrics["per_class_ap"] = per_class
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
