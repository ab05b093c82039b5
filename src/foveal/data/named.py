"""Named data sets: torchvision's (downloaded when online, or read from --data-root), scikit-learn's digits,
and the synthetic shapes."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from foveal.data.catalog import DATASETS, DatasetEntry
from foveal.data.tensors import DataSplits, ImageSet, split_off
from foveal.errors import FovealError

log = logging.getLogger("foveal")

Loader = Callable[..., DataSplits]  # loader(root=, val_split=, seed=[, split=]) -> DataSplits


@dataclass(frozen=True, kw_only=True)
class DatasetInfo(DatasetEntry):
    load: Loader


_DATASETS: dict[str, DatasetInfo] = {}


def register_dataset(name: str):
    """Register the loader of a data set listed in data/catalog.py (its description, classes and shape are there)."""

    def wrap(load: Loader) -> Loader:
        if name in _DATASETS:
            raise ValueError(f"data set name {name!r} is already registered")
        if name not in DATASETS:
            raise ValueError(f"data set {name!r} is not in data/catalog.py's DATASETS")
        _DATASETS[name] = DatasetInfo(**vars(DATASETS[name]), load=load)
        return load

    return wrap


def list_datasets() -> list[DatasetInfo]:
    return list(_DATASETS.values())


def get_dataset(name: str) -> DatasetInfo | None:
    return _DATASETS.get(name.lower())


def default_root(name: str) -> Path:
    base = Path(os.environ.get("FOVEAL_DATA", Path.home() / ".cache" / "foveal" / "datasets"))
    return base / name


# --- torchvision data sets ----------------------------------------------------------------------------------

_TV_DIRS = {"fashion-mnist": "FashionMNIST", "mnist": "MNIST", "cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}


def torchvision_root(name: str, root: str | Path | None) -> Path:
    """The folder to hand torchvision: --data-root itself, or its <name>/ subfolder if that holds the files."""
    if root is None:
        return default_root(name)
    root = Path(root)
    if not root.exists():
        raise FovealError(f"--data-root {root} does not exist")
    for candidate in (root, root / name):
        if (candidate / _TV_DIRS[name]).exists():
            return candidate
    return root


def _torchvision_split(name: str, cls_name: str, root: Path, train: bool) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    import torchvision.datasets as tvd

    cls = getattr(tvd, cls_name)
    try:
        ds = cls(str(root), train=train, download=True)
    except (RuntimeError, OSError) as err:
        reason = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise FovealError(
            f"{name} is not in {root} and could not be downloaded ({reason}); "
            f"pass --data-root DIR holding torchvision's {cls_name} files ({_TV_DIRS[name]}/ under DIR)"
        ) from None
    images = torch.as_tensor(np.asarray(ds.data))
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return images.contiguous(), torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64), list(ds.classes)


def _torchvision_loader(name: str, cls_name: str) -> Loader:
    def load(*, root: str | Path | None = None, val_split: float | None = None, seed: int = 42,
             split: str = "val") -> DataSplits:
        if root is not None and name.startswith("cifar") and (Path(root) / "train").is_dir():
            from foveal.data.folder import load_path_data  # an image-folder copy (e.g. CIFAR-10 as JPEG files)

            return load_path_data(root, val_split=val_split, seed=seed, split=split)
        tv_root = torchvision_root(name, root)
        x, y, classes = _torchvision_split(name, cls_name, tv_root, train=True)
        if val_split is not None and split == "val":  # hold out part of train; the test split stays untouched
            train, val = split_off(ImageSet(x, y, classes), val_split, seed)
        else:
            train = ImageSet(x, y, classes)
            xt, yt, _ = _torchvision_split(name, cls_name, tv_root, train=False)
            val = ImageSet(xt, yt, classes)
        return DataSplits(name, train, val)

    return load


for _name, _cls in [("fashion-mnist", "FashionMNIST"), ("mnist", "MNIST"), ("cifar10", "CIFAR10"),
                   ("cifar100", "CIFAR100")]:
    register_dataset(_name)(_torchvision_loader(_name, _cls))


# --- offline data sets --------------------------------------------------------------------------------------


@register_dataset("digits")
def load_digits(*, root: str | Path | None = None, val_split: float | None = None, seed: int = 42) -> DataSplits:
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    images = torch.as_tensor(np.round(d.images * (255 / 16)).astype(np.uint8)).unsqueeze(1)
    data = ImageSet(images, torch.as_tensor(d.target), [str(c) for c in d.target_names])
    train, val = split_off(data, 0.2 if val_split is None else val_split, seed)
    return DataSplits("digits", train, val)


@register_dataset("shapes")
def load_shapes_named(*, root: str | Path | None = None, val_split: float | None = None, seed: int = 42) -> DataSplits:
    from foveal.data.shapes import load_shapes

    return load_shapes(seed=seed)
