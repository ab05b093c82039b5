"""What the segment task loads: `shapes` (semantic masks with a background class) or a semantic folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from foveal.data.segmentation.semantic import MaskSet, MaskSplits, read_semantic
from foveal.errors import FovealError

SHAPES_SIZE = 96


def shape_masks(masks: list[np.ndarray], labels: list[np.ndarray], size: int) -> list[torch.Tensor]:
    """Per-image (H, W) class ids from the instance masks: 0 background, shape class + 1 inside an object."""
    out = []
    for m, lab in zip(masks, labels):
        ids = np.zeros((size, size), dtype=np.uint8)
        for mask, c in zip(m, lab):
            ids[mask] = c + 1
        out.append(torch.from_numpy(ids))
    return out


def shapes_semantic(n_train: int = 600, n_val: int = 150, size: int = SHAPES_SIZE, seed: int = 0) -> MaskSplits:
    """Synthetic scenes of 1-4 shapes with exact masks; classes background, circle, square, triangle."""
    from foveal.data.shapes import SHAPE_CLASSES, generate_shapes, split_seeds

    classes = ("background", *SHAPE_CLASSES)

    def to_set(n: int, s: int) -> MaskSet:
        sc = generate_shapes(n, size=size, seed=s, min_objects=1, max_objects=4)
        return MaskSet(list(sc.images), shape_masks(sc.masks, sc.labels, size), classes)

    train_seed, val_seed = split_seeds(seed)
    return MaskSplits("shapes", to_set(n_train, train_seed), to_set(n_val, val_seed),
                      [f"synthetic shapes: {n_train} train / {n_val} val scenes of {size}x{size}, 1-4 objects, seed {seed}"])


def load_semantic(spec: str | Path, *, max_size: int | None = None, val_split: float | None = None,
                  seed: int = 0, split: str = "val") -> MaskSplits:
    if str(spec) == "shapes":
        if split != "val":
            raise FovealError(f"shapes has no {split} split; evaluate its validation split (--split val)")
        return shapes_semantic(seed=seed)
    return read_semantic(spec, max_size=max_size, val_split=0.2 if val_split is None else val_split, seed=seed,
                         split=split)
