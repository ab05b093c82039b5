"""Pascal VOC layout: `Annotations/*.xml` beside `JPEGImages/`, optional `ImageSets/Main/<split>.txt`.

VOC's xmin..xmax are 1-based pixel indices, both ends included, so a box over pixel columns c0..c1 (0-based) is
xmin = c0 + 1, xmax = c1 + 1 and in pixel edges x1 = xmin - 1, x2 = xmax. Coordinates are written as exact decimals
(VOC tools read floats). The class order, which VOC does not store, is kept in `classes.txt` beside `Annotations/`;
without it the classes are the sorted object names.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from foveal.data.detection.annotations import BadLabels, BoxDataset, ImageBoxes, box_problem, link_or_copy
from foveal.data.images import UnreadableImage, open_regular
from foveal.errors import FovealError


def is_voc(path: Path) -> bool:
    return path.is_dir() and (path / "Annotations").is_dir()


def read_voc(root: str | Path, split: str | None = None) -> BoxDataset:
    root = Path(root)
    if not is_voc(root):
        raise FovealError(f"{root} is not a Pascal VOC folder: expected Annotations/ and JPEGImages/ inside")
    files = sorted((root / "Annotations").glob("*.xml"))
    if split and (root / "ImageSets" / "Main" / f"{split}.txt").is_file():
        ids = (root / "ImageSets" / "Main" / f"{split}.txt").read_text().split()
        files = [root / "Annotations" / f"{i}.xml" for i in ids]
    parsed, notes = [], []
    for f in files:
        try:
            with open_regular(f) as fh:  # a named pipe would block the parser
                parsed.append((f, ET.parse(fh).getroot()))
        except UnreadableImage as exc:
            notes.append(f"{f}: not readable XML ({exc.reason}); skipped")
        except (OSError, ET.ParseError) as exc:
            notes.append(f"{f}: not readable XML ({exc}); skipped")
    names_file = root / "classes.txt"
    if names_file.is_file():
        classes = tuple(line.strip() for line in names_file.read_text().splitlines() if line.strip())
    else:
        classes = tuple(sorted({o.findtext("name", "").strip() for _, r in parsed for o in r.iter("object")} - {""}))
    bad, items = BadLabels(), []
    for f, r in parsed:
        item = _item(root, f, r, classes, bad, notes)
        if item is not None:
            items.append(item)
    return BoxDataset(classes, items, notes + bad.notes(str(root / "Annotations")))


def _item(root: Path, f: Path, r: ET.Element, classes: tuple[str, ...], bad: BadLabels, notes: list[str]) -> ImageBoxes | None:
    image = root / "JPEGImages" / (r.findtext("filename") or f.with_suffix(".jpg").name).strip()
    if not image.is_file():
        notes.append(f"{f}: its image {image} does not exist; skipped")
        return None
    try:
        size = (int(float(r.findtext("size/height"))), int(float(r.findtext("size/width"))))
    except (TypeError, ValueError):
        notes.append(f"{f}: no <size><width>/<height>; skipped")
        return None
    boxes, labels = [], []
    for n, o in enumerate(r.iter("object"), 1):
        name = o.findtext("name", "").strip()
        where = f"{f}: object {n}"
        if name not in classes:
            bad.add(where, f"unknown class {name!r}")
            continue
        try:
            xmin, ymin, xmax, ymax = (float(o.findtext(f"bndbox/{k}")) for k in ("xmin", "ymin", "xmax", "ymax"))
        except (TypeError, ValueError):
            bad.add(where, "no numeric <bndbox> xmin/ymin/xmax/ymax")
            continue
        box = np.array([xmin - 1, ymin - 1, xmax, ymax])
        problem = box_problem(box, size)
        if problem:
            bad.add(where, problem)
            continue
        boxes.append(box)
        labels.append(classes.index(name))
    return ImageBoxes(image, size, np.array(boxes).reshape(-1, 4), np.array(labels, dtype=np.int64))


def write_voc(ds: BoxDataset, out: str | Path, split: str = "train") -> Path:
    out = Path(out)
    for sub in ("Annotations", "JPEGImages", "ImageSets/Main"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "classes.txt").write_text("\n".join(ds.classes) + "\n")
    ids = []
    for it in ds.items:
        link_or_copy(it.path, out / "JPEGImages" / it.path.name)
        ET.ElementTree(_xml(it, ds.classes)).write(out / "Annotations" / f"{it.path.stem}.xml")
        ids.append(it.path.stem)
    (out / "ImageSets" / "Main" / f"{split}.txt").write_text("\n".join(ids) + "\n")
    return out


def _xml(it: ImageBoxes, classes: tuple[str, ...]) -> ET.Element:
    r = ET.Element("annotation")
    ET.SubElement(r, "filename").text = it.path.name
    size = ET.SubElement(r, "size")
    for k, v in (("width", it.size[1]), ("height", it.size[0]), ("depth", 3)):
        ET.SubElement(size, k).text = str(v)
    for cls, (x1, y1, x2, y2) in zip(it.labels.tolist(), it.boxes.tolist()):
        o = ET.SubElement(r, "object")
        ET.SubElement(o, "name").text = classes[cls]
        ET.SubElement(o, "difficult").text = "0"
        b = ET.SubElement(o, "bndbox")
        for k, v in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(b, k).text = repr(float(v))
    return r
