"""YOLO, COCO and VOC box labels: coco128 read as upstream describes it, conversion round trips, bad labels reported."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from foveal.data.detection.formats import convert, read_boxes
from foveal.data.detection.dataset import load_detection
from foveal.errors import FovealError


@pytest.fixture(scope="module")
def coco128(shared_data):
    return shared_data / "coco128" / "data.yaml"


def test_coco128_reads_as_upstream_describes_it(coco128):
    splits = read_boxes(coco128)
    train = splits["train"]
    assert len(train) == 128 and train.num_boxes == 929 and len(train.classes) == 80 and train.classes[0] == "person"
    assert sum(len(it.labels) == 0 for it in train.items) == 2  # 000000000250 and 000000000508 have no label file
    orphans = [n for n in train.notes if "a label file without an image" in n]
    assert len(orphans) == 2 and "000000000656" in orphans[0] + orphans[1]
    first = next(it for it in train.items if it.path.stem == "000000000009")
    # line 1: "45 0.479492 0.688771 0.955609 0.5955" in a 640x480 image
    assert first.size == (480, 640)
    np.testing.assert_allclose(first.boxes[0], [(0.479492 - 0.955609 / 2) * 640, (0.688771 - 0.5955 / 2) * 480,
                                                (0.479492 + 0.955609 / 2) * 640, (0.688771 + 0.5955 / 2) * 480], atol=1e-3)


def test_yolo_coco_voc_yolo_gives_back_the_same_boxes(coco128, tmp_path):
    coco = convert(coco128, "coco", tmp_path / "coco128.json")
    voc = convert(coco, "voc", tmp_path / "voc")
    yolo = convert(voc, "yolo", tmp_path / "yolo")
    before, after = read_boxes(coco128)["train"], read_boxes(yolo)["train"]
    assert after.classes == before.classes and len(after) == len(before) and after.num_boxes == 929
    for a, b in zip(before.items, after.items):
        assert a.path.name == b.path.name and a.size == b.size and (a.labels == b.labels).all()
        scale = np.array([a.size[1], a.size[0]] * 2)
        np.testing.assert_allclose(b.boxes / scale, a.boxes / scale, atol=1e-6)
    doc = json.loads(coco.read_text())
    assert len(doc["images"]) == 128 and len(doc["annotations"]) == 929 and doc["categories"][0] == {"id": 1, "name": "person"}


def test_bad_labels_are_reported_by_file_and_line_and_skipped(tmp_path):
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    for name in ("a", "b"):
        Image.new("RGB", (100, 50)).save(tmp_path / "images" / "train" / f"{name}.jpg")
    (tmp_path / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.2\n"      # good
        "7 0.5 0.5 0.2 0.2\n"      # unknown class id
        "1 50 25 20 10\n"          # pixels, not normalised
        "1 0.5 0.5\n"              # too few fields
        "1 0.5 0.5 0.0 0.2\n")     # no area
    (tmp_path / "labels" / "train" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [cat, dog]\n")
    ds = read_boxes(tmp_path / "data.yaml")["train"]
    assert ds.num_boxes == 1 and len(ds) == 2  # b.jpg has no label file: a valid image without objects
    text = "\n".join(ds.notes)
    assert "a.txt:2: unknown class id 7" in text and "a.txt:3: coordinates are not normalised" in text
    assert "a.txt:4:" in text and "a.txt:5: the box has no area" in text
    assert "ghost.txt: a label file without an image" in text and "skipped 4 bad label(s)" in text


def test_voc_and_coco_readers_refuse_what_they_cannot_use(tmp_path):
    with pytest.raises(FovealError, match="not a box data set"):
        read_boxes(tmp_path)
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(FovealError, match="not a COCO instances file"):
        read_boxes(tmp_path / "x.json")


def test_load_detection_decodes_coco128_and_shrinks_big_images(coco128):
    data = load_detection(coco128, max_size=320)
    assert len(data.train) == 128 and data.val is data.train
    assert max(max(im.shape[-2:]) for im in data.train.images) == 320
    i = next(i for i, p in enumerate(data.train.paths) if p.endswith("000000000009.jpg"))
    assert data.train.images[i].shape[-2:] == (240, 320)
    np.testing.assert_allclose(data.train.boxes[i][0].numpy(), (np.array([1.08, 187.69, 612.67, 473.53]) / 2), atol=0.05)


def test_a_data_yaml_test_split_in_the_place_of_val(tmp_path):
    for split, n in (("train", 2), ("test", 3)):
        (tmp_path / "images" / split).mkdir(parents=True)
        (tmp_path / "labels" / split).mkdir(parents=True)
        for i in range(n):
            Image.new("RGB", (64, 48)).save(tmp_path / "images" / split / f"{i}.jpg")
            (tmp_path / "labels" / split / f"{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\ntest: images/test\n"
                                        "names: [cat]\n")
    data = load_detection(tmp_path / "data.yaml", split="test")
    assert len(data.train) == 2 and len(data.val) == 3 and all("/test/" in p for p in data.val.paths)
    (tmp_path / "data.yaml").write_text("path: .\ntrain: images/train\nval: images/train\nnames: [cat]\n")
    with pytest.raises(FovealError, match="has no test split"):
        load_detection(tmp_path / "data.yaml", split="test")
