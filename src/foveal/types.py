"""The typed, validated results every task returns, each with its JSON form (`to_dict`, `to_json`), its one line of
text (`summary`) and its picture (`plot`, `save`, and the PNG a notebook shows): what `foveal predict` prints and
(later) the server answers.

Boxes are XYXY in absolute pixels of the original image, with the image size alongside; no bare dicts
cross a module boundary.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from PIL import Image


def rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO's run-length encoding of a (H, W) bool mask ({"size": [H, W], "counts": str}), as pycocotools writes it."""
    from pycocotools import mask as mask_utils

    enc = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in enc["size"]], "counts": enc["counts"].decode("ascii")}


def area_entry(mask: np.ndarray, pixel_size: float | None = None, with_rle: bool = True) -> dict[str, Any]:
    """A (H, W) bool region's pixel count, share of the image, area in mm² (with `pixel_size`, the side of one pixel
    in mm) and RLE mask."""
    pixels = int(mask.sum())
    entry: dict[str, Any] = {"pixels": pixels, "fraction": round(pixels / mask.size, 6)}
    if pixel_size:
        entry["area_mm2"] = round(pixels * pixel_size ** 2, 6)
    if with_rle:
        entry["rle"] = rle(mask)
    return entry


def describe_area(pixels: int, total: int, pixel_size: float | None) -> str:
    """'12.3% (1234 px, 308.5 mm²)' of a region of `pixels` in an image of `total`."""
    mm = f", {pixels * pixel_size ** 2:.6g} mm²" if pixel_size else ""
    return f"{pixels / total:.1%} ({pixels} px{mm})"


def describe_counts(counts: dict[str, int]) -> str:
    """'3 car, 1 person': counts per class, most first."""
    return ", ".join(f"{n} {c}" for c, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "nothing"


class Shown:
    """What every result shares: JSON text, a picture on its image, saving either, and a notebook's view of it."""

    source: str

    def to_dict(self) -> dict:
        raise NotImplementedError

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(**kwargs), indent=2)

    def plot(self, image: Any = None) -> "Image.Image":
        """The result drawn on `image` (a path, PIL image, uint8 array or tensor; default: the file it was made from)."""
        from foveal.viz.results import draw

        return draw(self, image)

    def save(self, path: str | Path, image: Any = None) -> Path:
        """Write the result: `.json` its to_dict, an image file (.png, .jpg) its plot."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            path.write_text(self.to_json())
        else:
            self.plot(image).save(path)
        return path

    def _repr_png_(self) -> bytes | None:
        """A notebook shows the picture when the image it was made from can be read, else the text repr."""
        import os

        if not (self.source and os.path.isfile(self.source)):
            return None
        buffer = io.BytesIO()
        self.plot().save(buffer, format="PNG")
        return buffer.getvalue()


@dataclass(frozen=True)
class Classification(Shown):
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

    def summary(self, k: int = 3) -> str:
        return ", ".join(f"{label} {p:.1%}" for label, p in self.top(k))


@dataclass(frozen=True)
class Detections(Shown):
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

    def rescaled(self, image_size: tuple[int, int]) -> "Detections":
        """The same objects in the same picture at another resolution, (height, width): boxes scaled to it. Masks are
        not rescaled: detections with masks are refused."""
        if tuple(image_size) == tuple(self.image_size):
            return self
        if self.mask is not None:
            raise ValueError("detections with masks cannot be rescaled")
        sy, sx = image_size[0] / self.image_size[0], image_size[1] / self.image_size[1]
        return Detections(self.xyxy * np.array([sx, sy, sx, sy], dtype=np.float32), self.confidence, self.class_id,
                          self.classes, (int(image_size[0]), int(image_size[1])), None, self.source, self.frame)

    def counts(self) -> dict[str, int]:
        ids, n = np.unique(self.class_id, return_counts=True)
        return {self.classes[i]: int(c) for i, c in zip(ids, n)}

    def class_union(self, class_id: int) -> np.ndarray:
        """(H, W) bool: the pixels of every object of one class (instance segmentation)."""
        if not len(self):
            return np.zeros(self.image_size, dtype=bool)
        return self.mask[self.class_id == class_id].any(0)

    def to_dict(self, pixel_size: float | None = None, masks: bool = True) -> dict:
        """Boxes and counts; with instance masks also each object's pixels, share of the image, area in mm² (with
        `pixel_size` in mm) and RLE mask, and the same per class (the union of its objects, so overlapping objects
        are counted once)."""
        out = {
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
        if self.mask is None:
            return out
        for obj, m in zip(out["objects"], self.mask):
            obj.update(area_entry(m, pixel_size, masks))
        classes = []
        for name in self.counts():
            c = self.classes.index(name)
            classes.append({"class": name, "class_id": c, **area_entry(self.class_union(c), pixel_size, masks)})
        out["classes"] = sorted(classes, key=lambda e: -e["pixels"])
        return out

    def summary(self, pixel_size: float | None = None) -> str:
        """The objects per class; with instance masks, with the area they cover."""
        if self.mask is None:
            return f"{len(self)} object(s): {describe_counts(self.counts())}"
        if not len(self):
            return "no objects"
        parts = []
        for name, n in sorted(self.counts().items(), key=lambda kv: -kv[1]):
            pixels = int(self.class_union(self.classes.index(name)).sum())
            parts.append(f"{n} {name} ({describe_area(pixels, self.mask[0].size, pixel_size)})")
        return f"{len(self)} object(s): " + ", ".join(parts)


@dataclass(frozen=True)
class Segmentation(Shown):
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

    def to_dict(self, pixel_size: float | None = None, masks: bool = True) -> dict:
        """Per class its pixel count, share of the image, area in mm² (with `pixel_size` in mm) and RLE mask."""
        classes = []
        for name, _ in sorted(self.areas().items(), key=lambda kv: -kv[1]):
            c = self.classes.index(name)
            classes.append({"class": name, "class_id": c, **area_entry(self.class_map == c, pixel_size, masks)})
        return {"source": self.source, **({} if self.frame is None else {"frame": self.frame}),
                "image_size": [int(v) for v in self.image_size], "classes": classes}

    def summary(self, pixel_size: float | None = None) -> str:
        total = self.class_map.size
        return ", ".join(f"{name} {describe_area(n, total, pixel_size)}"
                         for name, n in sorted(self.areas().items(), key=lambda kv: -kv[1]))


Result = Classification | Detections | Segmentation


__all__ = ["Classification", "Detections", "Segmentation", "Result"]
