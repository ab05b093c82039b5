"""Box annotations independent of file format: what the YOLO, COCO and VOC readers return and their writers take.

Boxes are XYXY in absolute pixel edges of the image as displayed: (0, 0, w, h) covers a whole w x h image.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np



@dataclass
class ImageBoxes:
    """One image file and its objects (none is a valid image)."""

    path: Path
    size: tuple[int, int]  # (height, width)
    boxes: np.ndarray  # (k, 4) float64 XYXY pixels
    labels: np.ndarray  # (k,) int64 indices into the class list
    # per object, its outline when the format gives one: a list of flat pixel polygons [x1, y1, x2, y2, ...] or a
    # COCO RLE dict; None for an object (or a whole image) with a box only
    segments: list | None = None

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        if len(self.boxes) != len(self.labels):
            raise ValueError(f"{len(self.boxes)} boxes but {len(self.labels)} labels for {self.path}")
        if self.segments is not None and len(self.segments) != len(self.labels):
            raise ValueError(f"{len(self.segments)} segments but {len(self.labels)} labels for {self.path}")


@dataclass
class BoxDataset:
    """The images of one split with their boxes, the class names, and what the reader skipped."""

    classes: tuple[str, ...]
    items: list[ImageBoxes]
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def num_boxes(self) -> int:
        return sum(len(it.labels) for it in self.items)


class BadLabels:
    """Collects bad label lines (reported by file and line, then skipped) and says how many at the end."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, where: str, reason: str) -> None:
        self.lines.append(f"{where}: {reason}; skipped")

    def notes(self, what: str) -> list[str]:
        if not self.lines:
            return []
        return [*self.lines[:20], *([f"... and {len(self.lines) - 20} more"] if len(self.lines) > 20 else []),
                f"{what}: skipped {len(self.lines)} bad label(s)"]


def box_problem(box: np.ndarray, size: tuple[int, int], tol: float = 1e-3) -> str | None:
    """Why a pixel XYXY box cannot be used in an image of `size`, or None."""
    h, w = size
    x1, y1, x2, y2 = (float(v) for v in box)
    if not np.isfinite(box).all():
        return "coordinates are not finite"
    if x1 < -tol or y1 < -tol or x2 > w + tol or y2 > h + tol:
        return f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) lies outside the {w}x{h} image"
    if x2 <= x1 or y2 <= y1:
        return f"box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has no area"
    return None


def link_or_copy(src: Path, dst: Path) -> None:
    """Put an image beside converted labels without copying its bytes where the file system allows a link."""
    if dst.exists():
        return
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copy2(src, dst)
