"""The named data sets as `foveal datasets` lists them, readable without torch: name, description, classes, image
shape and whether they need no network. Each has its loader in data/named.py, registered under the same name."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetEntry:
    name: str
    description: str
    num_classes: int
    shape: str
    offline: bool  # available with no network and no --data-root
    test: bool = False  # has a labelled test split: its loader takes split="test" and returns it as the val split


DATASETS = {entry.name: entry for entry in [
    DatasetEntry("fashion-mnist", "Zalando's clothing photos, 60,000 train + 10,000 test", 10, "1x28x28", False, test=True),
    DatasetEntry("mnist", "handwritten digits, 60,000 train + 10,000 test", 10, "1x28x28", False, test=True),
    DatasetEntry("cifar10", "tiny colour photos, 50,000 train + 10,000 test", 10, "3x32x32", False, test=True),
    DatasetEntry("cifar100", "tiny colour photos in 100 classes, 50,000 train + 10,000 test", 100, "3x32x32", False, test=True),
    DatasetEntry("digits", "scikit-learn's real 8x8 handwritten digits, 1,797 images (offline)", 10, "1x8x8", True),
    DatasetEntry("shapes", "synthetic circles, squares and triangles, 2,000 train + 500 val, 32x32 (offline)", 3,
                 "3x32x32", True),
]}


def list_datasets() -> list[DatasetEntry]:
    return list(DATASETS.values())
