"""Instance outlines: YOLO-seg and COCO polygons are read beside their boxes, rasterised by pycocotools, and multi-part
YOLO-seg rings are cut back into their parts, so mask areas match the shoelace areas."""

from __future__ import annotations

import json

import numpy as np
import pytest

from foveal.data.detection.coco import read_coco
from foveal.data.detection.yolo import read_yolo
from foveal.data.segmentation.instances import polygon_area, rasterize, split_rings


def test_a_square_and_an_rle_rasterise_exactly():
    square = [10, 10, 30, 10, 30, 20, 10, 20]  # 20 x 10 pixels
    assert polygon_area(square) == 200
    mask = rasterize([square], (40, 50))
    assert mask.shape == (40, 50) and mask.sum() == 200 and mask[10:20, 10:30].all()
    from pycocotools import mask as mask_utils

    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    assert np.array_equal(rasterize(rle, (40, 50)), mask)
    uncompressed = {"size": [40, 50], "counts": [10 * 40 + 10] + [10, 30] * 19 + [10, 40 * 50 - (10 * 40 + 10) - 20 * 40 + 30]}
    assert rasterize(uncompressed, (40, 50)).sum() == 200


def test_a_ring_joined_by_a_bridge_splits_into_its_parts():
    a = [[0, 0], [10, 0], [10, 10], [0, 10]]
    b = [[20, 0], [30, 0], [30, 10], [20, 10]]
    # Ultralytics' merge: a from its link point, over the bridge into b, round b, back over the bridge, rest of a
    ring = [a[1], a[2], a[3], a[0], a[1], b[0], b[1], b[2], b[3], b[0], a[1]]
    flat = [v for p in ring for v in p]
    parts = split_rings(flat)
    assert sorted(len(p) // 2 for p in parts) == [4, 4]
    assert polygon_area(flat) == pytest.approx(200)
    assert rasterize([flat], (20, 40)).sum() == 200


def test_yolo_seg_and_coco_polygons_are_read(tmp_path, shared_data):
    ds = read_yolo(shared_data / "coco128-seg" / "data.yaml")["train"]
    with_segments = [it for it in ds.items if it.segments]
    assert len(with_segments) >= 120 and all(len(it.segments) == len(it.labels) for it in with_segments)
    it = with_segments[0]
    mask = rasterize(it.segments[0], it.size)
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = it.boxes[0]
    assert xs.min() >= x1 - 1 and xs.max() <= x2 + 1 and ys.min() >= y1 - 1 and ys.max() <= y2 + 1  # inside its box
    from PIL import Image

    Image.new("RGB", (50, 40)).save(tmp_path / "a.jpg")
    doc = {"images": [{"id": 1, "file_name": "a.jpg", "width": 50, "height": 40}],
           "categories": [{"id": 1, "name": "thing"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 20, 10], "iscrowd": 0,
                            "segmentation": [[10, 10, 30, 10, 30, 20, 10, 20]]}]}
    (tmp_path / "a.json").write_text(json.dumps(doc))
    item = read_coco(tmp_path / "a.json").items[0]
    assert rasterize(item.segments[0], item.size).sum() == 200


def test_coco128_seg_areas_match_the_shoelace_formula(shared_data):
    """The issue's check, as far as the pixel grid allows: objects over 500 px within 2% (3 thin ones of 602, 8-13 px
    thick on average, differ by 2.0-3.1%, the grid's own error at their outline: see docs/benchmarks.md)."""
    rows = []
    for it in read_yolo(shared_data / "coco128-seg" / "data.yaml")["train"].items:
        for seg in it.segments or []:
            area = polygon_area(seg[0])
            if area > 500:
                rows.append((area, rasterize(seg, it.size).sum()))
    assert len(rows) > 500
    rel = np.array([abs(m - a) / a for a, m in rows])
    assert np.median(rel) < 0.005
    assert (rel <= 0.02).mean() > 0.99 and rel.max() < 0.04


def test_instance_data_keeps_one_mask_per_box(shared_data):
    """coco128-seg decoded with masks: one mask per box at its image's (shrunk) size, inside its box; shapes too."""
    import torch

    from foveal.data.detection.dataset import load_detection

    data = load_detection(shared_data / "coco128-seg" / "data.yaml", max_size=320, masks=True)
    assert len(data.train) == 128 and data.train.masks is not None
    for img, boxes, masks in zip(data.train.images, data.train.boxes, data.train.masks):
        assert masks.dtype == torch.bool and masks.shape == (len(boxes), *img.shape[-2:])
        for b, m in zip(boxes, masks):
            ys, xs = torch.nonzero(m, as_tuple=True)
            if not len(xs):  # one object of coco128-seg, 1 x 1 px once shrunk to 320, falls between pixel centres
                assert (b[2:] - b[:2]).max() < 2
                continue
            assert xs.min() >= b[0] - 2 and xs.max() < b[2] + 2 and ys.min() >= b[1] - 2 and ys.max() < b[3] + 2
    shapes = load_detection("shapes", masks=True)
    assert all(m.shape == (len(b), 96, 96) for m, b in zip(shapes.val.masks, shapes.val.boxes))


def test_boxes_only_data_is_refused_for_instances(shared_data):
    from foveal.data.detection.dataset import load_detection
    from foveal.errors import FovealError

    with pytest.raises(FovealError, match="needs object outlines"):
        load_detection(shared_data / "coco128" / "data.yaml", masks=True)


def test_transforms_move_masks_with_their_boxes():
    import torch

    from foveal.data.detection.dataset import shapes_detection
    from foveal.data.detection.loader import DetectionLoader, train_transform

    data = shapes_detection(n_train=24, n_val=2, masks=True)
    loader = DetectionLoader(data.train, 8, shuffle=True, transform=train_transform())
    torch.manual_seed(0)
    for epoch in range(3):
        for images, targets in loader.epoch(epoch):
            for img, t in zip(images, targets):
                assert t["masks"].shape == (len(t["boxes"]), *img.shape[-2:])
                for b, m in zip(t["boxes"], t["masks"]):  # a crop may cut a mask inside its clipped box, never outside
                    ys, xs = torch.nonzero(m, as_tuple=True)
                    assert xs.min() >= b[0] - 1 and xs.max() < b[2] + 1 and ys.min() >= b[1] - 1 and ys.max() < b[3] + 1
