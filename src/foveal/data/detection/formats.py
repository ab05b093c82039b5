"""Read any of the three box formats by path, and convert between them (`foveal convert`)."""

from __future__ import annotations

import logging
from pathlib import Path

from foveal.data.detection.annotations import BoxDataset
from foveal.data.detection.coco import read_coco, write_coco
from foveal.data.detection.voc import is_voc, read_voc, write_voc
from foveal.data.detection.yolo import read_yolo, write_yolo
from foveal.errors import FovealError

FORMATS = ("yolo", "coco", "voc")

log = logging.getLogger("foveal")


def format_of(path: Path) -> str | None:
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return "yolo"
    if path.suffix == ".json" and path.is_file():
        return "coco"
    if is_voc(path):
        return "voc"
    if path.is_dir() and (path / "data.yaml").is_file():
        return "yolo"
    return None


def read_boxes(path: str | Path) -> dict[str, BoxDataset]:
    """Splits of a box data set: YOLO data.yaml (or its folder), COCO JSON (one split, used for both), or a VOC folder
    (ImageSets/Main/train.txt and val.txt when present, else one split)."""
    path = Path(path)
    if not path.exists():
        raise FovealError(f"data path not found: {path}")
    kind = format_of(path)
    if kind == "yolo":
        return read_yolo(path if path.is_file() else path / "data.yaml")
    if kind == "coco":
        ds = read_coco(path)
        return {"train": ds, "val": ds}
    if kind == "voc":
        sets = path / "ImageSets" / "Main"
        splits = {s: read_voc(path, s) for s in ("train", "val") if (sets / f"{s}.txt").is_file()}
        return splits or {"train": read_voc(path)}
    raise FovealError(f"{path}: not a box data set; expected a YOLO data.yaml, a COCO .json or a VOC folder "
                      "(Annotations/ + JPEGImages/)")


def convert(src: str | Path, to: str, out: str | Path, split: str | None = None) -> Path:
    """Write the boxes of `src` in format `to` (yolo, coco or voc) at `out`. COCO and VOC hold one split: `split`,
    or the first one (train)."""
    if to not in FORMATS:
        raise FovealError(f"--to must be one of {', '.join(FORMATS)}; got {to!r}")
    splits = read_boxes(src)
    if split is not None and split not in splits:
        raise FovealError(f"{src} has no split {split!r}; it has {', '.join(splits)}")
    if to == "yolo":
        chosen = {split: splits[split]} if split else _distinct(splits)
        report(chosen.values())
        return write_yolo(chosen, out)
    one = splits[split or next(iter(splits))]
    report([one])
    return write_coco(one, out) if to == "coco" else write_voc(one, out, split or "train")


def report(datasets) -> None:
    """Log what the readers skipped in these splits (bad label lines by file:line, label files without an image,
    unreadable images), as training reports it; a split read once for two names is reported once."""
    seen: set[int] = set()
    for ds in datasets:
        if id(ds) not in seen:
            seen.add(id(ds))
            for note in ds.notes:
                log.warning(note)


def _distinct(splits: dict[str, BoxDataset]) -> dict[str, BoxDataset]:
    """Splits that hold the same images (coco128's train is its val) are written once."""
    out: dict[str, BoxDataset] = {}
    for name, ds in splits.items():
        if not any([i.path for i in ds.items] == [i.path for i in o.items] for o in out.values()):
            out[name] = ds
    return out
