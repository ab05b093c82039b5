"""COCO metrics: foveal's in-memory pycocotools call against pycocotools reading COCO files written the documented
way, hand-checkable cases, and the detection confusion matrix."""

from __future__ import annotations

import numpy as np
import pytest

from foveal.metrics.detection import COCO_KEYS, detection_confusion, detection_metrics
from foveal.types import Detections

CLASSES = ("cat", "dog", "bird")


def _truth(boxes, labels, size=(100, 120)):
    return Detections(np.array(boxes, dtype=float).reshape(-1, 4), np.ones(len(labels)), labels, CLASSES, size)


def _random_case(seed: int, n_images: int = 20):
    rng = np.random.default_rng(seed)
    preds, truths = [], []
    for _ in range(n_images):
        k = int(rng.integers(0, 5))
        xy = rng.uniform(0, 60, (k, 2))
        wh = rng.uniform(5, 50, (k, 2))
        boxes = np.concatenate([xy, np.minimum(xy + wh, [119, 99])], 1)
        labels = rng.integers(0, 3, k)
        truths.append(_truth(boxes, labels))
        jitter = boxes + rng.normal(0, 4, boxes.shape)
        extra = int(rng.integers(0, 3))
        pb = np.concatenate([jitter, np.tile([10.0, 10, 30, 30], (extra, 1))])
        pb[:, 2:] = np.maximum(pb[:, 2:], pb[:, :2] + 1)
        pl = np.concatenate([np.where(rng.random(k) < 0.8, labels, rng.integers(0, 3, k)), rng.integers(0, 3, extra)])
        preds.append(Detections(pb, rng.random(len(pb)), pl, CLASSES, (100, 120)))
    return preds, truths


def test_metrics_agree_with_pycocotools_reading_coco_files(pycocotools_from_files):
    preds, truths = _random_case(0)
    ours, _ = detection_metrics(preds, truths)
    reference = pycocotools_from_files(preds, truths)
    for key, value in zip(COCO_KEYS, reference):
        assert ours[key] == pytest.approx(value, abs=1e-4), key
    assert 0.05 < ours["map50"] < 0.95  # an informative case, not all or nothing
    assert np.mean([v for v in ours["per_class_ap"].values()]) == pytest.approx(ours["map"], abs=1e-4)


def test_perfect_predictions_score_one_and_a_miss_lowers_recall():
    truths = [_truth([[10, 10, 50, 50], [60, 20, 100, 90]], [0, 1]), _truth([[5, 5, 30, 40]], [2])]
    perfect = [Detections(t.xyxy, np.full(len(t), 0.9), t.class_id, CLASSES, t.image_size) for t in truths]
    m, pr = detection_metrics(perfect, truths)
    assert m["map"] == pytest.approx(1.0) and m["map50"] == pytest.approx(1.0) and pr.shape == (101, 3)
    missing = [perfect[0], Detections(np.zeros((0, 4)), [], [], CLASSES, (100, 120))]
    m, _ = detection_metrics(missing, truths)
    assert m["per_class_ap"]["bird"] == 0.0 and m["per_class_ap"]["cat"] == pytest.approx(1.0)
    none = [Detections(np.zeros((0, 4)), [], [], CLASSES, (100, 120))] * 2
    assert detection_metrics(none, truths)[0]["map"] == 0.0  # no predictions at all is a score, not a crash


def test_confusion_matrix_counts_hits_confusions_misses_and_false_alarms():
    t = _truth([[10, 10, 50, 50], [60, 20, 100, 90], [0, 60, 20, 95]], [0, 1, 2])
    p = Detections([[11, 10, 50, 51], [60, 20, 100, 88], [70, 0, 90, 10], [0, 0, 5, 5]], [0.9, 0.8, 0.7, 0.1],
                   [0, 2, 1, 0], CLASSES, (100, 120))
    m = detection_confusion([p], [t])
    assert m[0, 0] == 1  # cat found
    assert m[1, 2] == 1  # the dog called a bird
    assert m[2, 3] == 1  # the bird missed: background column
    assert m[3, 1] == 1  # a dog box on nothing: background row
    assert m.sum() == 4  # the 0.1-confidence box is below the drawing threshold


def _random_masks(seed: int, n_images: int = 12, size=(60, 80)):
    """Truth masks (blobs) and predictions that are shifted, eroded, relabelled or spurious copies of them."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size[0], :size[1]]
    preds, truths = [], []
    for _ in range(n_images):
        k = int(rng.integers(1, 4))
        centres, radii = rng.uniform(15, 50, (k, 2)), rng.uniform(5, 14, k)
        tm = np.stack([(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r for (cx, cy), r in zip(centres, radii)])
        tl = rng.integers(0, 3, k)
        shift = rng.integers(-4, 5, (k, 2))
        pm = np.stack([np.roll(m, tuple(s), (0, 1)) for m, s in zip(tm, shift)])
        pm = np.concatenate([pm, np.roll(tm[:1], 25, 1)])  # a false alarm beside the first object
        pl = np.concatenate([np.where(rng.random(k) < 0.8, tl, rng.integers(0, 3, k)), rng.integers(0, 3, 1)])
        truths.append((tm, tl))
        preds.append((pm, pl, rng.random(len(pm))))
    return preds, truths


def _boxes(masks):
    from foveal.data.shapes import _tight_boxes

    return _tight_boxes(masks) if len(masks) else np.zeros((0, 4))


def test_mask_ap_agrees_with_torchmetrics():
    """Instance metrics: foveal's masks as COCO RLE through pycocotools, against torchmetrics' MeanAveragePrecision
    (its own conversion of the same masks) for masks and for boxes. torchmetrics' default thresholds are float32
    (0.55 becomes 0.55000001), so an IoU of exactly 0.55, common with pixel masks, counts on another side than in
    COCO: it is given COCO's own float64 thresholds."""
    import torch
    from torchmetrics.detection import MeanAveragePrecision

    from foveal.metrics.detection import instance_metrics
    from foveal.tasks.instance.task import encode

    preds, truths = _random_masks(1)
    size = truths[0][0].shape[1:]
    dets = [Detections(_boxes(m), s, c, CLASSES, size) for m, c, s in preds]
    trs = [Detections(_boxes(m), np.ones(len(c)), c, CLASSES, size) for m, c in truths]
    ours, pr50 = instance_metrics(dets, trs, [encode(m) for m, _, _ in preds], [encode(m) for m, _ in truths])
    assert 0.1 < ours["mask_map50"] < 0.95 and pr50.shape == (101, 3)
    for iou_type, prefix in (("segm", "mask_"), ("bbox", "")):
        ref = MeanAveragePrecision(iou_type=iou_type, backend="pycocotools", iou_thresholds=np.linspace(0.5, 0.95, 10).tolist(),
                                   rec_thresholds=np.linspace(0, 1, 101).tolist())
        ref.update([{"masks": torch.from_numpy(m), "boxes": torch.from_numpy(d.xyxy), "scores": torch.from_numpy(s),
                     "labels": torch.from_numpy(c)} for (m, c, s), d in zip(preds, dets)],
                   [{"masks": torch.from_numpy(m), "boxes": torch.from_numpy(t.xyxy), "labels": torch.from_numpy(c)}
                    for (m, c), t in zip(truths, trs)])
        got = ref.compute()
        for key, theirs in (("map", "map"), ("map50", "map_50"), ("map75", "map_75"), ("mar100", "mar_100")):
            assert ours[prefix + key] == pytest.approx(float(got[theirs]), abs=1e-6), (iou_type, key)


def test_mask_ap_agrees_with_pycocotools_reading_coco_files(tmp_path):
    import contextlib
    import io
    import json

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from foveal.metrics.detection import coco_documents, instance_metrics
    from foveal.tasks.instance.task import encode

    preds, truths = _random_masks(2)
    size = truths[0][0].shape[1:]
    dets = [Detections(_boxes(m), s, c, CLASSES, size) for m, c, s in preds]
    trs = [Detections(_boxes(m), np.ones(len(c)), c, CLASSES, size) for m, c in truths]
    rles = ([encode(m) for m, _, _ in preds], [encode(m) for m, _ in truths])
    ours, _ = instance_metrics(dets, trs, *rles)
    gt_doc, results = coco_documents(dets, trs, rles)
    text = lambda r: {**r, "segmentation": {**r["segmentation"], "counts": r["segmentation"]["counts"].decode()}}
    (tmp_path / "gt.json").write_text(json.dumps({**gt_doc, "annotations": [text(a) for a in gt_doc["annotations"]]}))
    (tmp_path / "dt.json").write_text(json.dumps([{k: v for k, v in text(r).items() if k != "bbox"} for r in results]))
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "gt.json"))
        ev = COCOeval(gt, gt.loadRes(str(tmp_path / "dt.json")), "segm")
        ev.evaluate(), ev.accumulate(), ev.summarize()
    for key, value in zip(COCO_KEYS, ev.stats):
        assert ours[f"mask_{key}"] == pytest.approx(value, abs=1e-9), key
