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
