"""One entry point from a data spec (a name or a path) to DataSplits."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from foveal.data.images import resize
from foveal.data.named import get_dataset, list_datasets
from foveal.data.tensors import DataSplits, ImageSet, split_off
from foveal.data.views import PhotoStore
from foveal.errors import FovealError, unknown_name


def _looks_like_path(spec: str) -> bool:
    return any(ch in spec for ch in "/\\") or spec.startswith(".") or Path(spec).suffix != ""


def load_data(
    spec: str | Path,
    *,
    root: str | Path | None = None,
    val_split: float | None = None,
    img_size: int | None = None,
    seed: int = 42,
    fraction: float = 1.0,
    photos: PhotoStore | None = None,
    split: str = "val",
) -> DataSplits:
    """A named data set (`fashion-mnist`, `digits`, ...) or a path (image-folder tree, CSV + images); with
    `fraction` < 1, a stratified part of the training split (the validation split stays whole). With img_size, images
    are resized to img_size x img_size; otherwise they keep their size, except that with `photos` (for a pretrained
    card) images larger than its side or of mixed sizes are stored as it makes them.
    `split="test"`: the labelled test split in the place of the validation split."""
    data = _load(str(spec), root, val_split, img_size, seed, photos, split)
    if fraction < 1:
        _, part = split_off(data.train, fraction, seed)
        data = DataSplits(data.name, part, data.val, data.notes + [f"training on {len(part)} of {len(data.train)} images"])
    return data


def _load(spec: str, root, val_split, img_size, seed, photos, split) -> DataSplits:
    info = get_dataset(spec)
    if info is not None:
        if split != "val" and not info.test:
            raise FovealError(f"{info.name} has no labelled {split} split; evaluate its validation split (--split val)")
        data = info.load(root=root, val_split=val_split, seed=seed, **({"split": split} if info.test else {}))
        if not img_size and photos and max(data.train.size) > photos.side:
            return _map_splits(data, photos)
        return resize_splits(data, img_size) if img_size else data
    if Path(spec).exists():
        from foveal.data.folder import load_path_data

        return load_path_data(spec, val_split=val_split, img_size=img_size, seed=seed, photos=photos, split=split)
    if _looks_like_path(spec):
        raise FovealError(f"data path not found: {spec}")
    raise unknown_name("data set", spec, [d.name for d in list_datasets()])


def resize_splits(data: DataSplits, img_size: int) -> DataSplits:
    """Both splits at img_size x img_size, through the same resize that prediction applies to a single image."""
    return _map_splits(data, partial(resize, size=(img_size, img_size)))


def _map_splits(data: DataSplits, fit) -> DataSplits:
    def mapped(s: ImageSet) -> ImageSet:
        return ImageSet(fit(s.images), s.labels, s.classes, s.paths)

    return DataSplits(data.name, mapped(data.train), mapped(data.val), data.notes)
