"""The in-memory detection set the task trains on: decoded images of any size with their boxes and labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from foveal.data.detection.annotations import BoxDataset
from foveal.data.images import UnreadableImage, read_image, resize
from foveal.errors import FovealError
from foveal.data.splits import Splits

SHAPES_SIZE = 96


@dataclass
class DetectionSet:
    images: list[torch.Tensor]  # uint8 (3, H, W), sizes vary
    boxes: list[torch.Tensor]  # float32 (k, 4) XYXY pixels of the image as stored
    labels: list[torch.Tensor]  # int64 (k,)
    classes: tuple[str, ...]
    paths: list[str] = field(default_factory=list)
    masks: list[torch.Tensor] | None = None  # instance segmentation: bool (k, H, W) per image, one per box

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class DetectionSplits(Splits):
    train: DetectionSet
    val: DetectionSet


def decode(ds: BoxDataset, max_size: int | None = None, masks: bool = False) -> tuple[DetectionSet, list[str]]:
    """Decode every image (RGB), shrunk so that its longer side is at most max_size, boxes scaled alike; an image that
    cannot be decoded is reported by path and skipped. With `masks`, each object's outline rasterised at the
    annotation's size (an object given by its box alone fills its box) and resized with its image."""
    images, boxes, labels, paths, notes, object_masks, box_only = [], [], [], [], [], [], 0
    for it in ds.items:
        try:
            img = read_image(it.path, channels=3)
        except UnreadableImage as exc:
            notes.append(f"{exc}; skipped")
            continue
        b = torch.as_tensor(it.boxes, dtype=torch.float32)
        h, w = img.shape[-2:]
        if (h, w) != tuple(it.size):  # the annotation's size is the reference: scale its boxes to the pixels
            b = b * torch.tensor([w / it.size[1], h / it.size[0]] * 2)
        if max_size and max(h, w) > max_size:
            s = max_size / max(h, w)
            img = resize(img, (max(1, round(h * s)), max(1, round(w * s))))
            b = b * torch.tensor([img.shape[-1] / w, img.shape[-2] / h] * 2)
        if masks:
            from foveal.data.segmentation.instances import object_masks as rasterise_objects

            m, n_box = rasterise_objects(it)
            box_only += n_box
            object_masks.append(resize_masks(m, tuple(img.shape[-2:])))
        images.append(img)
        boxes.append(b)
        labels.append(torch.as_tensor(it.labels, dtype=torch.int64))
        paths.append(str(it.path))
    if box_only:
        notes.append(f"{box_only} object(s) without an outline: each one's box serves as its mask")
    return DetectionSet(images, boxes, labels, ds.classes, paths, object_masks if masks else None), notes


def resize_masks(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bool (k, H, W) masks resized to `size` by nearest neighbour (unchanged when already that size)."""
    if not len(masks):
        return torch.zeros((0, *size), dtype=torch.bool)
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    import torch.nn.functional as F

    return F.interpolate(masks[:, None].to(torch.uint8), size=size, mode="nearest-exact")[:, 0].bool()


def shapes_detection(n_train: int = 600, n_val: int = 150, size: int = SHAPES_SIZE, seed: int = 0,
                     masks: bool = False) -> DetectionSplits:
    """Synthetic scenes of 1-4 circles, squares and triangles with exact boxes (and with `masks`, exact instance
    masks); train and val from two seeds."""
    from foveal.data.shapes import SHAPE_CLASSES, generate_shapes, split_seeds

    def to_set(n: int, s: int) -> DetectionSet:
        sc = generate_shapes(n, size=size, seed=s, min_objects=1, max_objects=4)
        return DetectionSet(list(sc.images), [torch.from_numpy(b).float() for b in sc.boxes],
                            [torch.from_numpy(lab) for lab in sc.labels], SHAPE_CLASSES,
                            masks=[torch.from_numpy(m) for m in sc.masks] if masks else None)

    train_seed, val_seed = split_seeds(seed)
    return DetectionSplits("shapes", to_set(n_train, train_seed), to_set(n_val, val_seed),
                           [f"synthetic shapes: {n_train} train / {n_val} val scenes of {size}x{size}, 1-4 objects, seed {seed}"])


def load_detection(spec: str | Path, *, max_size: int | None = None, seed: int = 0, masks: bool = False,
                   split: str = "val") -> DetectionSplits:
    """`shapes` or a YOLO data.yaml / COCO JSON / VOC folder, decoded into memory; with `masks`, each object's mask too
    (instance segmentation); `split="test"`: the data's test split (a data.yaml's `test:`) in the place of val."""
    from foveal.data.detection.formats import read_boxes

    if str(spec) == "shapes":
        if split != "val":
            raise FovealError(f"shapes has no {split} split; evaluate its validation split (--split val)")
        return shapes_detection(seed=seed, masks=masks)
    splits = read_boxes(spec)
    train_boxes = splits["train"]
    if split != "val" and split not in splits:
        raise FovealError(f"{spec} has no {split} split (a data.yaml names it as `{split}:`); it has "
                          f"{', '.join(splits)}")
    val_boxes = splits.get(split, train_boxes)
    if val_boxes.classes != train_boxes.classes:
        raise FovealError(f"{spec}: train and val have different class lists")
    if masks and not any(it.segments for it in train_boxes.items):
        raise FovealError(f"{spec}: instance segmentation needs object outlines (YOLO-seg polygons, COCO segmentation); "
                          f"this data has boxes only")
    train, notes_t = decode(train_boxes, max_size, masks)
    val, notes_v = (train, []) if val_boxes is train_boxes else decode(val_boxes, max_size, masks)
    notes = train_boxes.notes + notes_t + ([] if val_boxes is train_boxes else val_boxes.notes + notes_v)
    name = Path(spec).parent.name if Path(spec).suffix in (".yaml", ".yml") else Path(spec).stem
    return DetectionSplits(name, train, val, notes)
