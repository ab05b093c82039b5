"""Semantic segmentation data: images beside label images whose pixels are class ids (or palette colours), in the
layouts people have on disk, decoded once into memory.

Layouts (the first that matches):
- CamVid/SegNet: `train/`, `trainannot/`, `val/`, `valannot/` (and `test/`, `testannot/`);
- Pascal VOC: `JPEGImages/` + `SegmentationClass/` with `ImageSets/Segmentation/train.txt` and `val.txt`;
- a folder of `images/` beside `masks/` (or `labels/`, `annotations/`), at the top or under `train/` and `val/`.

Class names come from `classes.txt` beside them (one per line; `name R G B` lines make it a colour palette for RGB
label images), else VOC's 21 names for the VOC layout, CamVid's 11 for that layout, else `class0..` by the ids seen.
IGNORE (255) marks pixels that count nowhere (VOC's object borders, CamVid's `void`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from foveal.data.splits import Splits
from foveal.data.images import IMAGE_EXTENSIONS, UnreadableImage, open_regular, read_image, resize
from foveal.errors import FovealError

IGNORE = 255
VOC_CLASSES = ("background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor")
CAMVID_CLASSES = ("sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian",
                  "bicyclist")  # SegNet's labelling; id 11 is void
CAMVID_VOID = 11
MASK_DIRS = ("masks", "labels", "annotations", "SegmentationClass")


@dataclass
class MaskSet:
    images: list[torch.Tensor]  # uint8 (3, H, W), sizes vary
    masks: list[torch.Tensor]  # uint8 (H, W) class ids, IGNORE where nothing counts
    classes: tuple[str, ...]
    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class MaskSplits(Splits):
    train: MaskSet
    val: MaskSet


@dataclass
class Pairs:
    """(image, label image) paths of one split, before decoding."""

    items: list[tuple[Path, Path]]
    notes: list[str] = field(default_factory=list)


def read_classes(root: Path, layout: str) -> tuple[tuple[str, ...] | None, dict[tuple[int, int, int], int] | None]:
    """(class names, colour -> id palette or None) from classes.txt, else the layout's own list (None: from ids)."""
    f = root / "classes.txt"
    if f.is_file():
        names, palette = [], {}
        for n, line in enumerate(f.read_text().splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) == 4 and all(p.isdigit() for p in parts[1:]):
                palette[tuple(int(p) for p in parts[1:])] = len(names)
            elif len(parts) != 1:
                raise FovealError(f"{f}:{n}: expected 'name' or 'name R G B', got {line!r}")
            names.append(parts[0])
        if palette and len(palette) != len(names):
            raise FovealError(f"{f}: give a colour on every line or on none")
        return tuple(names), palette or None
    return {"voc": VOC_CLASSES, "camvid": CAMVID_CLASSES}.get(layout), None


def _images(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.iterdir()) if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")}


def _pair(images: Path, masks: Path) -> Pairs:
    """Images matched to label images by file stem; one without its partner is reported."""
    imgs, labs = _images(images), _images(masks)
    notes = [f"{imgs[s]}: no label image in {masks}; skipped" for s in imgs if s not in labs]
    notes += [f"{labs[s]}: a label image without an image; skipped" for s in labs if s not in imgs]
    return Pairs([(imgs[s], labs[s]) for s in imgs if s in labs], notes)


def _mask_dir(folder: Path) -> Path | None:
    return next((folder / d for d in MASK_DIRS if (folder / d).is_dir()), None)


def find_pairs(root: Path) -> tuple[str, dict[str, Pairs]]:
    """(layout, split -> pairs) of a semantic segmentation folder."""
    if (root / "train").is_dir() and (root / "trainannot").is_dir():
        splits = {s: _pair(root / s, root / f"{s}annot") for s in ("train", "val", "test")
                  if (root / s).is_dir() and (root / f"{s}annot").is_dir()}
        return "camvid", splits
    if (root / "JPEGImages").is_dir() and (root / "SegmentationClass").is_dir():
        sets = root / "ImageSets" / "Segmentation"
        every = _pair(root / "JPEGImages", root / "SegmentationClass")
        if not (sets / "train.txt").is_file():
            return "voc", {"train": every}
        by_stem = {i.stem: (i, m) for i, m in every.items}
        out = {}
        for s in ("train", "val"):
            if (sets / f"{s}.txt").is_file():
                ids = (sets / f"{s}.txt").read_text().split()
                out[s] = Pairs([by_stem[i] for i in ids if i in by_stem],
                               [f"{sets / f'{s}.txt'}: {i}: no image or no label image; skipped" for i in ids if i not in by_stem])
        return "voc", out
    for base in (root, root / "train"):
        masks = _mask_dir(base)
        if (base / "images").is_dir() and masks is not None:
            splits = {"train": _pair(base / "images", masks)}
            for v in ("val", "valid", "test"):  # the first is the val split (test/ only when there is no other)
                vm = _mask_dir(root / v) if (root / v).is_dir() else None
                if vm is not None and (root / v / "images").is_dir():
                    pairs = _pair(root / v / "images", vm)
                    splits.setdefault("val", pairs)
                    if v == "test":
                        splits["test"] = pairs
            return "folder", splits
    raise FovealError(f"{root}: expected a segmentation folder: images/ beside masks/ (or labels/), CamVid's "
                      f"train/ + trainannot/, or VOC's JPEGImages/ + SegmentationClass/")


def read_mask(path: Path, palette: dict[tuple[int, int, int], int] | None, layout: str) -> np.ndarray:
    """A label image as (H, W) uint8 class ids. Palette ('P') PNGs give their indices (VOC); RGB ones are mapped
    through the palette of classes.txt; grey ones are the ids themselves. Only a regular file is read (a named pipe
    would block): anything else raises UnreadableImage."""
    with open_regular(path) as f, Image.open(f) as im:
        if im.mode == "P" or im.mode == "L" or (im.mode.startswith("I") and palette is None):
            ids = np.asarray(im if im.mode in ("P", "L") else im.convert("I"))
            if ids.dtype != np.uint8:
                if ids.max(initial=0) > 255:
                    raise ValueError(f"class id {int(ids.max())} does not fit in a label image's 0..255")
                ids = ids.astype(np.uint8)
        elif palette is None:
            raise ValueError(f"a {im.mode} label image needs a colour palette in classes.txt ('name R G B' lines)")
        else:
            rgb = np.asarray(im.convert("RGB")).astype(np.int32)
            key = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
            ids = np.full(key.shape, IGNORE, dtype=np.uint8)
            known = np.zeros(key.shape, dtype=bool)
            for (r, g, b), c in palette.items():
                hit = key == ((r << 16) | (g << 8) | b)
                ids[hit], known = c, known | hit
            if not known.all():
                k = key[~known][0]
                raise ValueError(f"colour ({k >> 16}, {(k >> 8) & 255}, {k & 255}) is not in the palette of classes.txt")
    if layout == "camvid":
        ids = np.where(ids == CAMVID_VOID, IGNORE, ids).astype(np.uint8)
    return ids


def decode_pairs(pairs: Pairs, classes: tuple[str, ...] | None, palette, layout: str,
                 max_size: int | None = None) -> tuple[list[torch.Tensor], list[torch.Tensor], list[str], list[str]]:
    """Decoded (images, masks, paths, notes). A label image whose size differs from its image, that holds ids outside
    the class list, or that cannot be read is reported by path and skipped."""
    images, masks, paths, notes = [], [], [], list(pairs.notes)
    for img_path, mask_path in pairs.items:
        try:
            img = read_image(img_path, channels=3)
            ids = read_mask(mask_path, palette, layout)
        except (UnreadableImage, ValueError, OSError) as exc:
            notes.append(f"{exc.path if isinstance(exc, UnreadableImage) else mask_path}: {exc}; skipped")
            continue
        if ids.shape != tuple(img.shape[-2:]):
            notes.append(f"{mask_path}: label image is {ids.shape[1]}x{ids.shape[0]}, its image {img_path.name} is "
                         f"{img.shape[-1]}x{img.shape[-2]}; skipped")
            continue
        if classes is not None:
            bad = np.unique(ids[(ids != IGNORE) & (ids >= len(classes))])
            if len(bad):
                notes.append(f"{mask_path}: class id(s) {', '.join(map(str, bad[:5]))} outside the {len(classes)} "
                             f"classes; skipped")
                continue
        mask = torch.from_numpy(ids.copy())
        if max_size and max(mask.shape) > max_size:
            s = max_size / max(mask.shape)
            size = (max(1, round(mask.shape[0] * s)), max(1, round(mask.shape[1] * s)))
            img, mask = resize(img, size), resize_mask(mask, size)
        images.append(img)
        masks.append(mask)
        paths.append(str(img_path))
    return images, masks, paths, notes


def resize_mask(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest-neighbour resize of (..., H, W) class ids: no blended ids between classes."""
    if tuple(mask.shape[-2:]) == tuple(size):
        return mask
    from torchvision.transforms.v2 import InterpolationMode
    from torchvision.transforms.v2 import functional as TF

    return TF.resize(mask.unsqueeze(0) if mask.dim() == 2 else mask, list(size),
                     interpolation=InterpolationMode.NEAREST_EXACT).reshape(*mask.shape[:-2], *size)


def read_semantic(root: str | Path, *, max_size: int | None = None, val_split: float = 0.2,
                  seed: int = 0, split: str = "val") -> MaskSplits:
    """A semantic segmentation folder decoded into memory (train and val; without a val split, `val_split` of the
    images held out by a seeded shuffle); `split="test"`: its test split in the place of val."""
    root = Path(root)
    if not root.is_dir():
        raise FovealError(f"data path not found: {root}")
    layout, pairs = find_pairs(root)
    if split != "val":
        if split not in pairs:
            raise FovealError(f"{root} has no labelled {split} split (CamVid's {split}/ + {split}annot/, or "
                              f"{split}/images/ + {split}/masks/); it has {', '.join(pairs)}")
        pairs = {"train": pairs["train"], "val": pairs[split]}
    classes, palette = read_classes(root, layout)
    decoded = {s: decode_pairs(p, classes, palette, layout, max_size) for s, p in pairs.items() if s in ("train", "val")}
    notes = [n for d in decoded.values() for n in d[3]]
    if classes is None:  # ids as seen, up to the largest
        top = max((int(m[m != IGNORE].max()) for d in decoded.values() for m in d[1] if (m != IGNORE).any()), default=0)
        classes = tuple(f"class{i}" for i in range(top + 1))
    train = MaskSet(*decoded["train"][:2], classes, decoded["train"][2])
    if "val" in decoded:
        val = MaskSet(*decoded["val"][:2], classes, decoded["val"][2])
    else:
        train, val = split_holdout(train, val_split, seed)
    return MaskSplits(root.name, train, val, notes)


def split_holdout(data: MaskSet, fraction: float, seed: int) -> tuple[MaskSet, MaskSet]:
    n = len(data)
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    k = max(1, round(n * fraction)) if n > 1 else 0
    pick = lambda idx: MaskSet([data.images[i] for i in idx], [data.masks[i] for i in idx], data.classes,  # noqa: E731
                               [data.paths[i] for i in idx] if data.paths else [])
    return pick(sorted(order[k:])), pick(sorted(order[:k]))
