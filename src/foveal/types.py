"""The task enum and the typed, validated results every task returns.

Boxes are XYXY in absolute pixels of the original image, with the image size alongside; no bare dicts
cross a module boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np


class Task(str, Enum):
    CLASSIFY = "classify"
    DETECT = "detect"
    SEGMENT = "segment"

    @classmethod
    def parse(cls, value: "str | Task") -> "Task":
        from foveal.errors import FovealError

        try:
            return cls(value)
        except ValueError:
            raise FovealError(
                f"unknown task {value!r}; expected one of {', '.join(t.value for t in cls)}"
            ) from None


@dataclass(frozen=True)
class Classification:
    """What one image shows: class probabilities, most likely first in `top`."""

    probs: np.ndarray  # (num_classes,) float32, sums to 1
    classes: tuple[str, ...]
    source: str = ""

    def __post_init__(self) -> None:
        probs = np.asarray(self.probs, dtype=np.float32)
        if probs.ndim != 1 or probs.shape[0] != len(self.classes):
            raise ValueError(f"probs must have shape ({len(self.classes)},), got {probs.shape}")
        object.__setattr__(self, "probs", probs)

    @property
    def class_id(self) -> int:
        return int(self.probs.argmax())

    @property
    def label(self) -> str:
        return self.classes[self.class_id]

    @property
    def confidence(self) -> float:
        return float(self.probs[self.class_id])

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.probs, kind="stable")[: min(k, len(self.classes))]
        return [(self.classes[i], float(self.probs[i])) for i in order]

    def to_dict(self, k: int = 5) -> dict:
        return {
            "source": self.source,
            "label": self.label,
            "confidence": self.confidence,
            "top": [{"label": name, "probability": p} for name, p in self.top(k)],
        }


@dataclass(frozen=True)
class Detections:
    """Objects in one image: parallel arrays, boxes XYXY in absolute pixels of an image of `image_size`."""

    xyxy: np.ndarray  # (N, 4) float32
    confidence: np.ndarray  # (N,) float32
    class_id: np.ndarray  # (N,) int64
    classes: tuple[str, ...]
    image_size: tuple[int, int]  # (height, width)
    mask: np.ndarray | None = None  # (N, H, W) bool, for instance segmentation
    source: str = ""
    frame: int | None = None  # the frame's index (from 0) when the source is a video

    def __post_init__(self) -> None:
        xyxy = np.asarray(self.xyxy, dtype=np.float32).reshape(-1, 4)
        n = len(xyxy)
        conf = np.asarray(self.confidence, dtype=np.float32).reshape(-1)
        cls = np.asarray(self.class_id, dtype=np.int64).reshape(-1)
        if len(conf) != n or len(cls) != n:
            raise ValueError(f"xyxy, confidence and class_id must have one row per box; got {n}, {len(conf)}, {len(cls)}")
        if n and ((xyxy[:, 2] < xyxy[:, 0]).any() or (xyxy[:, 3] < xyxy[:, 1]).any()):
            raise ValueError("boxes must be XYXY with x2 >= x1 and y2 >= y1")
        if n and ((cls < 0) | (cls >= len(self.classes))).any():
            raise ValueError(f"class_id must lie in [0, {len(self.classes)})")
        if self.mask is not None:
            mask = np.asarray(self.mask, dtype=bool)
            if mask.shape != (n, *self.image_size):
                raise ValueError(f"mask must have shape {(n, *self.image_size)}, got {mask.shape}")
            object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "xyxy", xyxy)
        object.__setattr__(self, "confidence", conf)
        object.__setattr__(self, "class_id", cls)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, keep: "np.ndarray | slice") -> "Detections":
        return Detections(
            self.xyxy[keep], self.confidence[keep], self.class_id[keep], self.classes, self.image_size,
            None if self.mask is None else self.mask[keep], self.source, self.frame,
        )

    def counts(self) -> dict[str, int]:
        ids, n = np.unique(self.class_id, return_counts=True)
        return {self.classes[i]: int(c) for i, c in zip(ids, n)}

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            **({} if self.frame is None else {"frame": self.frame}),
            "image_size": [int(v) for v in self.image_size],
            "counts": self.counts(),
            "objects": [
                {"class": self.classes[c], "class_id": int(c), "confidence": round(float(s), 4),
                 "box": [round(float(v), 2) for v in b]}
                for b, s, c in zip(self.xyxy, self.confidence, self.class_id)
            ],
        }


@dataclass(frozen=True)
class Segmentation:
    """A class id for every pixel of an image of `image_size` (height, width)."""

    class_map: np.ndarray  # (H, W) int64
    classes: tuple[str, ...]
    source: str = ""
    ignore_index: int = 255
    frame: int | None = None  # the frame's index (from 0) when the source is a video

    def __post_init__(self) -> None:
        class_map = np.asarray(self.class_map, dtype=np.int64)
        if class_map.ndim != 2:
            raise ValueError(f"class_map must be (H, W), got shape {class_map.shape}")
        object.__setattr__(self, "class_map", class_map)

    @property
    def image_size(self) -> tuple[int, int]:
        return tuple(self.class_map.shape)  # type: ignore[return-value]

    def areas(self) -> dict[str, int]:
        ids, n = np.unique(self.class_map, return_counts=True)
        return {self.classes[i]: int(c) for i, c in zip(ids, n) if 0 <= i < len(self.classes)}


Result = Classification | Detections | Segmentation


__all__ = ["Task", "Classification", "Detections", "Segmentation", "Result"]
