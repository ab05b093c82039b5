"""Image data sets on disk, decoded once to uint8 tensors and cached. Layouts, tried in this order:
(a) root/train/<class>/* with root/val|valid|validation/<class>/* (else root/test/<class>/*);
(b) a CSV of filename,label (the file, or a folder holding exactly one CSV and the images);
(c) root/<class>/*, split with ``val_split``."""

from __future__ import annotations

import csv
import logging
import os
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import torch

from foveal.data.cache import cache_root, load_splits, save_splits, source_key
from foveal.data.images import UnreadableImage, is_image_file, probe, read_image, resize
from foveal.data.tensors import DataSplits, ImageSet, split_off
from foveal.data.views import PhotoStore
from foveal.errors import FovealError

log = logging.getLogger("foveal")

DEFAULT_VAL_SPLIT = 0.2
_JUNK = frozenset({"__MACOSX", "Thumbs.db", "desktop.ini"})
_VAL_DIRS = ("val", "valid", "validation")
T = TypeVar("T")
_Item = tuple[int, Path, str]  # (group index, file, class name)
_LAYOUT_HELP = "expected root/<class>/*, root/train/<class>/* with root/val/<class>/*, or a CSV of filename,label"


@dataclass
class _Group:
    """Files of one split before decoding: 'train', 'val', or 'all' (to be split)."""

    split: str
    items: list[tuple[Path, str]]  # (file, class name)
    classes: list[str]
    where: dict[str, str]  # class -> where its images live, for messages


@dataclass
class _Plan:
    """What was found on disk, before decoding."""

    name: str
    base: Path  # folder the cache key's relative paths are taken from
    groups: list[_Group]
    files: list[Path]  # every file the data set depends on (cache key)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def load_path_data(
    path: str | Path, *, val_split: float | None = None, img_size: int | None = None, seed: int = 42,
    cache_dir: str | Path | None = None, photos: PhotoStore | None = None, split: str = "val",
) -> DataSplits:
    """Read an image data set from a folder or CSV into uint8 tensors, cached on disk. With img_size, every image is
    resized to img_size x img_size. Otherwise, with `photos` (for a pretrained card): images all of one size no
    larger than its side keep it, and any others are stored as it makes them; without: the most common size."""
    root = Path(path).expanduser()
    if not root.exists():
        raise FovealError(f"data path {str(path)!r} does not exist; {_LAYOUT_HELP}")
    if val_split is not None and not 0 < val_split < 1:
        raise FovealError(f"val_split must lie strictly between 0 and 1; got {val_split!r}")
    if img_size is not None and (isinstance(img_size, bool) or not isinstance(img_size, int) or img_size < 1):
        raise FovealError(f"img_size must be a positive whole number of pixels; got {img_size!r}")
    plan = _plan(root.resolve(), split)
    if val_split is not None and all(g.split != "all" for g in plan.groups):
        plan.notes.append(f"val_split={val_split} ignored: the data set has its own validation folder")
    stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in plan.name)[:40]
    args = {"base": str(plan.base), "img_size": img_size, "val_split": val_split, "seed": seed,
            **({"photos": [photos.side, *photos.crop, photos.method]} if photos else {}),
            **({"split": split} if split != "val" else {})}
    cache_file = cache_root(cache_dir) / f"{stem}-{source_key(plan.base, plan.files, args)}.pt"
    cached = load_splits(cache_file)
    if cached is not None:
        return cached
    data = _build(plan, img_size, DEFAULT_VAL_SPLIT if val_split is None else val_split, seed, photos)
    save_splits(cache_file, data, [f"skipped {p}: {r}" for p, r in plan.skipped])
    return data


def _ignored(name: str) -> bool:
    return name.startswith(".") or name in _JUNK


def _walk(folder: Path) -> list[Path]:
    """Every non-hidden file under folder, in sorted order."""
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        out += [Path(dirpath, f) for f in sorted(filenames) if not _ignored(f)]
    return out


def _subdirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and not _ignored(d.name))


def _pick(dirs: list[Path], names: tuple[str, ...]) -> Path | None:
    return next((d for name in names for d in dirs if d.name.lower() == name), None)


def _plan(root: Path, split: str = "val") -> _Plan:
    """Find the layout and list its files, without opening any image; `split="test"` takes the labelled test/ folder
    as the held-out split."""
    if split != "val" and not (root.is_dir() and _pick(_subdirs(root), ("train",))):
        raise FovealError(f"a labelled {split} split needs root/train/<class>/* beside root/{split}/<class>/*; "
                          f"{root} has no train/ folder")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise FovealError(f"expected an image folder or a .csv of filename,label; got the file {root}")
        return _csv_plan(root, [])
    dirs = _subdirs(root)
    train = _pick(dirs, ("train",))
    if train is not None and _subdirs(train):
        test = _pick(dirs, ("test",))  # Kaggle's test/ of unlabelled images is not a validation split
        held_out = _pick(dirs, _VAL_DIRS) or (test if test is not None and _subdirs(test) else None)
        if split == "test":
            if test is None or not _subdirs(test):
                raise FovealError(f"{root} has no labelled test split: expected {root}/test/<class>/* images")
            held_out = test
        plan = _Plan(root.name, root, [], [])
        _add_tree(plan, train, "train" if held_out else "all")
        if held_out is None:
            plan.notes.append(f"no val/ or test/ folder beside {train}: splitting train/ for validation")
        else:
            _add_tree(plan, held_out, "val")
            tr, va = (set(g.classes) for g in plan.groups)
            if tr != va:
                only = f"only in train {sorted(tr - va)}, only in val {sorted(va - tr)}"
                raise FovealError(f"classes differ between {train} and {held_out}: {only}")
        return plan
    csvs = [f for f in sorted(root.iterdir()) if f.is_file() and f.suffix.lower() == ".csv" and not _ignored(f.name)]
    if len(csvs) == 1:
        return _csv_plan(csvs[0], dirs)
    if len(csvs) > 1:
        names = ", ".join(f.name for f in csvs)
        raise FovealError(f"found {len(csvs)} CSV files in {root} ({names}); expected one: pass the labels CSV itself")
    if train is not None:
        raise FovealError(f"{train} holds no class folders; expected {train}/<class>/* images")
    if not dirs:
        n = sum(is_image_file(f) for f in _walk(root))
        found = f"{n} loose images and no class folders" if n else "no images"
        raise FovealError(f"found {found} in {root}; {_LAYOUT_HELP}")
    plan = _Plan(root.name, root, [], [])
    _add_tree(plan, root, "all")
    return plan


def _add_tree(plan: _Plan, folder: Path, split: str) -> None:
    """Add the class folders of `folder` (a tree of folder/<class>/*) as one group."""
    group = _Group(split, [], [], {})
    for class_dir in _subdirs(folder):
        group.classes.append(class_dir.name)
        group.where[class_dir.name] = str(class_dir)
        for f in _walk(class_dir):
            plan.files.append(f)
            if is_image_file(f):
                group.items.append((f, class_dir.name))
            else:
                plan.skipped.append((f, "not an image file (extension not one of jpg, png, bmp, gif, tif, webp)"))
    if split != "val" and len(group.classes) < 2:
        found = f"one class folder ({group.classes[0]!r})" if group.classes else "no class folders"
        raise FovealError(f"found {found} in {folder}; classification needs at least two classes")
    plan.groups.append(group)


def _read_csv(path: Path) -> tuple[list[tuple[int, str, str]], list[str]]:
    """(line number, file id, label) rows of a CSV with a header row (first column = file, second = label), and a
    note per row skipped: one without an id or a label, and a repeated id (the first row of an id is kept; a repeat
    with another label is named as a conflict)."""
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise FovealError(f"cannot read CSV {path}: {exc}; expected a UTF-8 text file of filename,label") from exc
    numbered = [(n, line) for n, line in enumerate(lines, 1) if line.strip()]
    if not numbered:
        raise FovealError(f"CSV {path} is empty; expected a header row and one filename,label row per image")
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(numbered[0][1], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    header = next(csv.reader([numbered[0][1]], dialect))
    if len([h for h in header if h.strip()]) < 2:
        raise FovealError(f"CSV {path} has no label column (header {header}); expected two columns: filename,label")
    rows, notes, first = [], [], {}
    for lineno, line in numbered[1:]:
        row = next(csv.reader([line], dialect), [])
        file_id, label = (row[0].strip(), row[1].strip()) if len(row) >= 2 else (row[0].strip() if row else "", "")
        if not file_id or not label:
            missing = "file name" if not file_id else "label"
            notes.append(f"skipped {path} line {lineno}: no {missing} in {line.strip()!r}; expected filename,label")
            continue
        key = _csv_id(file_id)
        if key in first:
            seen_line, seen_label = first[key]
            what = (f"repeats line {seen_line}" if label == seen_label else
                    f"is labelled {label!r} here and {seen_label!r} on line {seen_line}; the first is kept")
            notes.append(f"skipped {path} line {lineno}: id {file_id!r} {what}")
            continue
        first[key] = (lineno, label)
        rows.append((lineno, file_id, label))
    if not rows:
        raise FovealError(f"CSV {path} has a header but no usable rows; expected one filename,label row per image")
    return rows, notes


def _csv_id(file_id: str) -> str:
    return file_id.replace("\\", "/").removeprefix("./")


def _index(folder: Path, files: list[Path]) -> dict[str, Path]:
    """Image files under folder by relative path, with and without extension (Kaggle ids omit it)."""
    index: dict[str, Path] = {}
    for f in files:
        if is_image_file(f) and f.is_relative_to(folder):
            rel = f.relative_to(folder).as_posix()
            index[rel] = f
            index.setdefault(rel[: -len(f.suffix)], f)
    return index


def _csv_plan(path: Path, extra_dirs: list[Path]) -> _Plan:
    """Images named by a CSV, looked up in its folder, then <stem>/, then images/, then other subfolders. Rows whose
    file is missing are reported by line and skipped, as unreadable files of an image folder are."""
    rows, notes = _read_csv(path)
    ids = [_csv_id(i) for _, i, _ in rows]
    files = _walk(path.parent)
    candidates = list(dict.fromkeys([path.parent, path.parent / path.stem, path.parent / "images", *extra_dirs]))
    best, best_hits, best_index = path.parent, -1, {}
    for folder in (c for c in candidates if c.is_dir()):
        index = _index(folder, files)
        hits = sum(i in index for i in ids)
        if hits > best_hits:
            best, best_hits, best_index = folder, hits, index
    if best_hits <= 0:
        looked = ", ".join(str(c) for c in candidates if c.is_dir())
        raise FovealError(f"none of the {len(ids)} ids in {path} match an image file in {looked}; first: {ids[:3]}")
    kept, n_rows = [], len(rows) + len(notes)
    for (lineno, raw, label), i in zip(rows, ids):
        if i in best_index:
            kept.append((best_index[i], label))
        else:
            outside = Path(i).is_absolute() or ".." in Path(i).parts
            why = "it points outside the data folder" if outside else f"no image file of that name in {best}"
            notes.append(f"skipped {path} line {lineno}: {raw!r}: {why}")
    classes = sorted({label for _, label in kept}, key=_label_key)
    if len(classes) < 2:
        raise FovealError(f"CSV {path} has one label ({classes[0]!r}) in its usable rows; classification needs at "
                          "least two classes")
    group = _Group("all", kept, classes, dict.fromkeys(classes, f"the rows of {path}"))
    plan = _Plan(path.parent.name, path.parent, [group], [path] + [f for f in files if f.is_relative_to(best)])
    plan.notes.append(f"labels from {path.name}, images from {best}")
    if notes:
        plan.notes += [*notes, f"skipped {len(notes)} of {n_rows} rows of {path.name}"]
    return plan


def _label_key(label: str) -> tuple[int, int | str]:
    """Numeric labels sort as numbers (2 before 10); text labels sort alphabetically after them."""
    return (0, int(label)) if label.lstrip("-").isdigit() else (1, label)


def _run(plan: _Plan, items: list[_Item], fn: Callable[[int], T]) -> tuple[list[int], list[T]]:
    """fn(i) for every item in a thread pool; items it raises UnreadableImage on are skipped (recorded in
    plan.skipped)."""

    def call(i: int) -> T | UnreadableImage:
        try:
            return fn(i)
        except UnreadableImage as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, min(8, os.cpu_count() or 1))) as pool:
        results = list(pool.map(call, range(len(items))))
    for (_, f, _), r in zip(items, results):
        if isinstance(r, UnreadableImage):
            plan.skipped.append((f, r.reason))
    keep = [k for k, r in enumerate(results) if not isinstance(r, UnreadableImage)]
    for g, group in enumerate(plan.groups):  # every class must keep at least one image
        present = {items[k][2] for k in keep if items[k][0] == g}
        for c in group.classes:
            if c not in present:
                raise FovealError(f"class {c!r} has no usable images in {group.where[c]}; expected at least one")
    return keep, results  # type: ignore[return-value]


def _build(plan: _Plan, img_size: int | None, val_split: float, seed: int, photos: PhotoStore | None = None) -> DataSplits:
    """Read headers, choose size and channels, decode every image once, and split. What was skipped goes into the
    notes, which the command that loaded the data reports, once."""
    items = [(g, f, label) for g, group in enumerate(plan.groups) for f, label in group.items]
    n_found = len(items) + len(plan.skipped)
    keep, found = _run(plan, items, lambda i: probe(items[i][1]))
    items, infos = [items[k] for k in keep], [found[k] for k in keep]

    sizes = Counter((i.height, i.width) for i in infos)
    size = (img_size, img_size) if img_size else sizes.most_common(1)[0][0]
    fit = partial(resize, size=size)
    if not img_size and photos and (len(sizes) > 1 or max(size) > photos.side):
        size, fit = (photos.side, photos.side), photos
    channels = 1 if all(i.grey for i in infos) else 3
    images = torch.empty((len(items), channels, *size), dtype=torch.uint8)

    def decode(i: int) -> None:
        images[i] = fit(read_image(items[i][1], channels, reduce_to=size))

    keep, _ = _run(plan, items, decode)
    if len(keep) < len(items):
        items, images = [items[k] for k in keep], images[keep]
    n_resized = sum(n for s, n in sizes.items() if s != size)
    how = "resized (the aspect kept) and centre-cropped" if fit is photos else "resized"
    plan.notes.append(f"{len(items)} images as {channels}x{size[0]}x{size[1]}; {n_resized} {how}")
    sets = []
    for g, group in enumerate(plan.groups):
        idx = [k for k, item in enumerate(items) if item[0] == g]
        index = {c: j for j, c in enumerate(group.classes)}
        labels = torch.tensor([index[items[k][2]] for k in idx], dtype=torch.int64)
        part = images if len(idx) == len(items) else images[idx]  # no copy for a single group
        sets.append(ImageSet(part, labels, group.classes, [str(items[k][1]) for k in idx]))
    if plan.groups[0].split == "all":
        sets = list(split_off(sets[0], val_split, seed))
        plan.notes.append(f"split off {val_split:.0%} of each class for validation (seed {seed})")
    if plan.skipped:
        plan.notes += [f"skipped {p}: {r}" for p, r in plan.skipped]
        plan.notes.append(f"skipped {len(plan.skipped)} of {n_found} files that are not readable images")
    return DataSplits(plan.name, sets[0], sets[1], plan.notes)
