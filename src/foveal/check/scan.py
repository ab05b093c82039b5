"""What a data set holds, file by file, without decoding: the splits, each file's label (classification) or boxes
(detection, segmentation), and the label problems the readers found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from foveal.data.images import is_image_file
from foveal.errors import FovealError

SPLIT_DIRS = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}


@dataclass
class Item:
    path: Path
    split: str
    label: int | None = None  # classification: the index into the class list
    boxes: np.ndarray | None = None  # detection: (k, 4) XYXY pixels
    box_labels: np.ndarray | None = None  # detection: (k,) class indices


@dataclass
class Scan:
    name: str
    kind: str  # "classify" or "detect" (boxes and masks)
    classes: tuple[str, ...]
    items: list[Item]
    notes: list[str] = field(default_factory=list)  # what the readers skipped or found wrong, one line each

    def splits(self) -> list[str]:
        return list(dict.fromkeys(it.split for it in self.items))


def _class_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _images(folder: Path) -> list[Path]:
    return sorted(f for f in folder.rglob("*") if f.is_file() and is_image_file(f) and not f.name.startswith("."))


def scan_folder(root: Path) -> Scan:
    """root/<split>/<class>/* (splits train, val or valid, test), or root/<class>/* as one split."""
    split_dirs = [d for d in _class_dirs(root) if d.name.lower() in SPLIT_DIRS and _class_dirs(d)]
    trees = [(SPLIT_DIRS[d.name.lower()], d) for d in split_dirs] or [("all", root)]
    classes = sorted({c.name for _, tree in trees for c in _class_dirs(tree)})
    if len(classes) < 2:
        raise FovealError(f"found {len(classes)} class folder(s) in {root}; expected root/<class>/* or "
                          f"root/train/<class>/* with at least two classes")
    index = {c: i for i, c in enumerate(classes)}
    items = [Item(f, split, index[c.name]) for split, tree in trees for c in _class_dirs(tree) for f in _images(c)]
    notes = [f"{split}: no folder for class {c!r}" for split, tree in trees
             for c in sorted(set(classes) - {d.name for d in _class_dirs(tree)})]
    return Scan(root.name, "classify", tuple(classes), items, notes)


def scan_boxes(path: Path) -> Scan:
    """A YOLO data.yaml, COCO .json or VOC folder, through foveal's readers (they report bad label lines)."""
    from foveal.data.detection.formats import read_boxes

    splits = read_boxes(path)
    first = next(iter(splits.values()))
    items, notes = [], []
    for split, ds in splits.items():
        notes += [f"{split}: {n}" for n in ds.notes]
        items += [Item(it.path, split, boxes=it.boxes, box_labels=it.labels) for it in ds.items]
    return Scan(path.parent.name if path.is_file() else path.name, "detect", tuple(first.classes), items, notes)


def scan(path: str | Path) -> Scan:
    path = Path(path)
    if not path.exists():
        raise FovealError(f"data path not found: {path}")
    if path.is_file() or (path / "data.yaml").is_file() or (path / "Annotations").is_dir():
        return scan_boxes(path)
    return scan_folder(path)
