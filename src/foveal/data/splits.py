"""What detection and segmentation data sets share: a name, train and val splits, and what the readers skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from foveal.errors import FovealError


@dataclass
class Splits:
    """A detection or segmentation data set in memory: its name, train and val splits and what the readers skipped."""

    name: str
    train: Any
    val: Any
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for split in ("train", "val"):
            if len(getattr(self, split)) == 0:
                raise FovealError(f"data set {self.name!r} has no {split} images")

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes
