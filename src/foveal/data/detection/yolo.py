"""Ultralytics YOLO layout: `data.yaml` (path, train, val, names) and one `labels/.../<image>.txt` per image with
lines `class x_center y_center width height` normalised to 0-1 (or a polygon `class x1 y1 x2 y2 ...`, whose
bounds are the box). An image without a label file has no objects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

from foveal.data.detection.annotations import BadLabels, BoxDataset, ImageBoxes, link_or_copy
from foveal.data.images import UnreadableImage, image_size, is_image_file
from foveal.errors import FovealError


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise FovealError(f"cannot read {path}: {exc}") from None
    if not isinstance(spec, dict) or "names" not in spec or "train" not in spec:
        raise FovealError(f"{path} is not a YOLO data.yaml: expected keys 'names' and 'train' (and 'val')")
    return spec


def class_names(spec: dict, where: Path) -> tuple[str, ...]:
    names = spec["names"]
    if isinstance(names, dict):
        ids = sorted(int(k) for k in names)
        if ids != list(range(len(ids))):
            raise FovealError(f"{where}: names must be numbered 0..{len(ids) - 1}; got ids {ids[:5]}...")
        return tuple(str(names[k] if k in names else names[str(k)]) for k in ids)
    return tuple(str(n) for n in names)


def split_dirs(yaml_path: Path, spec: dict) -> dict[str, list[Path]]:
    """Image folders per split ('train', 'val', 'test' when given), resolved against `path` and the yaml's folder."""
    base = Path(spec.get("path") or ".")
    base = base if base.is_absolute() else (yaml_path.parent / base)
    out = {}
    for split in ("train", "val", "test"):
        entries = spec.get(split)
        if not entries:
            continue
        entries = entries if isinstance(entries, list) else [entries]
        out[split] = [Path(e) if Path(e).is_absolute() else base / e for e in entries]
    return out


def label_path(image: Path) -> Path:
    """images/.../x.jpg -> labels/.../x.txt (the last 'images' component becomes 'labels')."""
    parts = list(image.parts)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            return Path(*parts).with_suffix(".txt")
    return image.with_suffix(".txt")


def parse_line(line: str, num_classes: int, size: tuple[int, int]) -> tuple[int, np.ndarray, list | None] | str:
    """(class, pixel XYXY box, [flat pixel polygon] or None) of one label line, or why it is bad."""
    fields = line.split()
    if len(fields) < 5 or (len(fields) > 5 and len(fields) % 2 == 0):
        return f"expected 'class x y w h' or 'class x1 y1 x2 y2 ...'; got {len(fields)} fields"
    try:
        cls = int(fields[0])
        values = np.array([float(v) for v in fields[1:]], dtype=np.float64)
    except ValueError:
        return f"not numbers: {line.strip()[:60]!r}"
    if not 0 <= cls < num_classes:
        return f"unknown class id {cls} (the data has {num_classes} classes: 0..{num_classes - 1})"
    if not np.isfinite(values).all() or (values < -1e-6).any() or (values > 1 + 1e-6).any():
        return "coordinates are not normalised to 0-1"
    h, w = size
    polygon = None
    if len(values) == 4:
        cx, cy, bw, bh = values
        box = np.array([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2])
    else:
        xy = values.reshape(-1, 2)
        box = np.array([xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max()])
        polygon = [(np.clip(xy, 0, 1) * np.array([w, h])).ravel().tolist()]
    if box[2] <= box[0] or box[3] <= box[1]:
        return "the box has no area"
    box = np.clip(box, 0, 1) * np.array([w, h, w, h])
    return cls, box, polygon


def read_yolo(yaml_path: str | Path) -> dict[str, BoxDataset]:
    """The splits of a YOLO data set; bad label lines and label files without an image are reported and skipped."""
    yaml_path = Path(yaml_path)
    spec = read_yaml(yaml_path)
    classes = class_names(spec, yaml_path)
    out = {}
    seen: dict[tuple[Path, ...], BoxDataset] = {}
    for split, dirs in split_dirs(yaml_path, spec).items():
        key = tuple(d.resolve() for d in dirs)  # coco128's val is its train: read (and later decode) it once
        out[split] = seen[key] if key in seen else seen.setdefault(key, _read_split(split, dirs, classes))
    if "train" not in out:
        raise FovealError(f"{yaml_path}: no train images")
    return out


def _read_split(split: str, dirs: list[Path], classes: tuple[str, ...]) -> BoxDataset:
    bad, notes, items = BadLabels(), [], []
    for d in dirs:
        if not d.is_dir():
            raise FovealError(f"{split} image folder not found: {d}")
        images = sorted(p for p in d.rglob("*") if p.is_file() and is_image_file(p))
        for img in images:
            try:
                size = image_size(img)
            except UnreadableImage as exc:
                notes.append(f"{exc}; skipped")
                continue
            items.append(_read_labels(img, size, classes, bad))
        label_dir = label_path(d / "x.jpg").parent
        if label_dir.is_dir():
            stems = {p.relative_to(d).with_suffix("") for p in images}
            orphans = sorted(p for p in label_dir.rglob("*.txt") if p.relative_to(label_dir).with_suffix("") not in stems)
            notes += [f"{p}: a label file without an image; skipped" for p in orphans]
    return BoxDataset(classes, items, notes + bad.notes(f"{split} labels"))


def _read_labels(img: Path, size: tuple[int, int], classes: tuple[str, ...], bad: BadLabels) -> ImageBoxes:
    boxes, labels, segments = [], [], []
    file = label_path(img)
    if file.is_file():
        for n, line in enumerate(file.read_text().splitlines(), 1):
            if not line.strip():
                continue
            parsed = parse_line(line, len(classes), size)
            if isinstance(parsed, str):
                bad.add(f"{file}:{n}", parsed)
            else:
                labels.append(parsed[0])
                boxes.append(parsed[1])
                segments.append(parsed[2])
    return ImageBoxes(img, size, np.array(boxes).reshape(-1, 4), np.array(labels, dtype=np.int64),
                      segments if any(s is not None for s in segments) else None)


def write_yolo(splits: dict[str, BoxDataset], out: str | Path) -> Path:
    """out/images/<split>/, out/labels/<split>/*.txt and out/data.yaml. Images are linked (copied where links fail)."""
    out = Path(out)
    classes = next(iter(splits.values())).classes
    spec: dict = {"path": ".", "names": dict(enumerate(classes))}
    for split, ds in splits.items():
        (out / "images" / split).mkdir(parents=True, exist_ok=True)
        (out / "labels" / split).mkdir(parents=True, exist_ok=True)
        for it in ds.items:
            link_or_copy(it.path, out / "images" / split / it.path.name)
            (out / "labels" / split / it.path.name).with_suffix(".txt").write_text(_label_text(it))
        spec[split] = f"images/{split}"
    spec.setdefault("val", spec.get("train"))
    (out / "data.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return out / "data.yaml"


def _label_text(it: ImageBoxes) -> str:
    h, w = it.size
    lines = []
    for cls, (x1, y1, x2, y2) in zip(it.labels.tolist(), it.boxes.tolist()):
        cx, cy, bw, bh = (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h
        lines.append(" ".join([str(cls), *(_num(v) for v in (cx, cy, bw, bh))]))
    return "\n".join(lines) + ("\n" if lines else "")


def _num(v: float) -> str:
    """8 decimals without trailing zeros: 6-decimal labels come back as written, float noise stays out."""
    return f"{v:.8f}".rstrip("0").rstrip(".") or "0"
