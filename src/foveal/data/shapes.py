"""Seeded synthetic scenes of circles, squares and triangles, with exact instance masks and boxes.

Classification uses one object per image (`load_shapes`); detection and segmentation reuse `generate_shapes`
with several objects. Everything is a pure function of the seed. Masks are computed exactly at pixel centres
with numpy coordinate grids; boxes are the tight bounds of the visible mask, XYXY in pixel edges
(x1 = first column, x2 = last column + 1), so a one-pixel mask at (r, c) has box (c, r, c + 1, r + 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from foveal.data.tensors import DataSplits, ImageSet
from foveal.errors import FovealError

SHAPE_CLASSES = ("circle", "square", "triangle")
CIRCLE, SQUARE, TRIANGLE = range(3)

MIN_SIZE = 8  # smallest image side that still shows a recognisable shape
MIN_VISIBLE = 0.3  # an occluded object keeps its label only if this share of it is still visible
_SINGLE_EXTENT = (0.25, 0.6)  # object extent as a share of the image side, one object per image
_MIN_EXTENT_PX = 4.0
_BG_NOISE = 6.0  # std of the per-pixel noise, in grey levels
_MIN_BG_DISTANCE = 110.0  # RGB distance between an object's colour and the background
_MIN_OBJECT_DISTANCE = 70.0  # RGB distance between two objects in one image, when it can be had
_PLACEMENT_TRIES = 24


@dataclass
class ShapeScenes:
    """N images with their objects: per image, boxes (k, 4) float32 XYXY pixels, labels (k,) int64 and
    visible masks (k, H, W) bool, where masks of one image never overlap."""

    images: torch.Tensor  # uint8 (N, 3, H, W)
    boxes: list[np.ndarray]
    labels: list[np.ndarray]
    masks: list[np.ndarray]
    classes: tuple[str, ...] = field(default=SHAPE_CLASSES)

    def __len__(self) -> int:
        return len(self.images)


def _extent_range(k: int, size: int) -> tuple[float, float]:
    """Object extent range in pixels: 25-60% of the side alone, shrinking with the square root of the count."""
    lo, hi = (f * size / math.sqrt(max(k, 1)) for f in _SINGLE_EXTENT)
    lo = max(lo, min(_MIN_EXTENT_PX, size * 0.5))
    return lo, max(hi, lo)


def _vertex_offsets(kinds: np.ndarray, extent: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Outline points relative to the centre, (k, 3, 2) as (x, y): triangle vertices, or two opposite corners
    of the circle's/square's bounding square (the third point repeats one), so extents come from min/max."""
    half = extent / 2
    pts = np.stack([np.stack([-half, -half], 1), np.stack([half, half], 1), np.stack([half, half], 1)], 1)
    tri = kinds == TRIANGLE
    if tri.any():
        radius = extent[tri] / math.sqrt(3)  # equilateral with side = extent
        theta = angle[tri, None] + np.arange(3) * (2 * math.pi / 3)
        pts[tri] = np.stack([radius[:, None] * np.cos(theta), radius[:, None] * np.sin(theta)], -1)
    return pts


def _masks(kinds: np.ndarray, centre: np.ndarray, pts: np.ndarray, size: int) -> np.ndarray:
    """Exact (k, H, W) masks at pixel centres, vectorised over objects and pixels."""
    c = np.arange(size, dtype=np.float64) + 0.5
    xs, ys = c[None, None, :], c[None, :, None]
    cx, cy = centre[:, 0, None, None], centre[:, 1, None, None]
    half = np.abs(pts[:, 0, 0])[:, None, None]
    out = np.zeros((len(kinds), size, size), dtype=bool)
    for kind in (CIRCLE, SQUARE):
        i = kinds == kind
        if i.any():
            dx, dy = xs - cx[i], ys - cy[i]
            out[i] = dx * dx + dy * dy <= half[i] ** 2 if kind == CIRCLE else (np.abs(dx) <= half[i]) & (np.abs(dy) <= half[i])
    i = kinds == TRIANGLE
    if i.any():
        v = pts[i] + centre[i, None, :]  # (t, 3, 2), counter-clockwise in (x, y): interior on the positive side
        inside = np.ones((int(i.sum()), size, size), dtype=bool)
        for e in range(3):
            a, b = v[:, e, :, None, None], v[:, (e + 1) % 3, :, None, None]
            inside &= (b[:, 0] - a[:, 0]) * (ys - a[:, 1]) - (b[:, 1] - a[:, 1]) * (xs - a[:, 0]) >= 0
        out[i] = inside
    return out


def _overlap(cand: np.ndarray, placed: np.ndarray) -> np.ndarray:
    """For each candidate box (t, 4), its worst overlap with the placed boxes (m, 4), all XYXY: the largest
    share of either box that the pair's intersection covers; 0 when nothing is placed."""
    if not len(placed):
        return np.zeros(len(cand))
    a, b = cand[:, None, :], placed[None, :, :]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    return (w * h / np.maximum(np.minimum(area_a, area_b), 1e-9)).max(1)


def _place(rng: np.random.Generator, pts: np.ndarray, size: int) -> np.ndarray:
    """Centres keeping each outline fully inside the image; with several objects, the best of a few random
    tries per object: the one whose bounding box overlaps least with those placed before it."""
    lo, hi = -pts.min(1), size - pts.max(1)  # (k, 2) allowed centre range
    if len(pts) <= 1:
        return rng.uniform(lo, hi)
    centres, boxes = [], np.empty((0, 4))
    for j in range(len(pts)):
        cand = rng.uniform(lo[j], hi[j], size=(_PLACEMENT_TRIES, 2))
        cand_boxes = np.concatenate([cand + pts[j].min(0), cand + pts[j].max(0)], 1)
        best = int(np.argmin(_overlap(cand_boxes, boxes)))
        centres.append(cand[best])
        boxes = np.vstack([boxes, cand_boxes[best]])
    return np.array(centres)


def _colours(rng: np.random.Generator, background: np.ndarray, k: int) -> np.ndarray:
    """k object colours far from the background and, when possible, from each other."""
    out = np.empty((k, 3))
    for j in range(k):
        cand = rng.uniform(0, 255, size=(32, 3))
        score = np.linalg.norm(cand - background, axis=1) - _MIN_BG_DISTANCE
        if j:
            near = np.linalg.norm(cand[:, None] - out[None, :j], axis=2).min(1) - _MIN_OBJECT_DISTANCE
            score = np.minimum(score, near)
        ok = np.flatnonzero(score >= 0)
        out[j] = cand[ok[0] if len(ok) else int(np.argmax(score))]
    return out


def _resolve_occlusion(masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Later objects are drawn over earlier ones. Walk from the top down: each object's visible part is its mask
    minus what kept objects above it cover; one with < MIN_VISIBLE of itself visible is dropped (not drawn).
    Returns (keep (k,) bool, visible (k, H, W) bool)."""
    visible = np.zeros_like(masks)
    keep = np.zeros(len(masks), dtype=bool)
    covered = np.zeros(masks.shape[1:], dtype=bool)
    for j in range(len(masks) - 1, -1, -1):
        vis = masks[j] & ~covered
        area = masks[j].sum()
        if area and vis.sum() >= MIN_VISIBLE * area:
            keep[j], visible[j] = True, vis
            covered |= vis
    return keep, visible


def _tight_boxes(masks: np.ndarray) -> np.ndarray:
    """(k, 4) float32 XYXY pixel-edge bounds of non-empty (k, H, W) masks."""
    rows, cols = masks.any(2), masks.any(1)
    h, w = masks.shape[1:]
    y1, x1 = rows.argmax(1), cols.argmax(1)
    y2, x2 = h - rows[:, ::-1].argmax(1), w - cols[:, ::-1].argmax(1)
    return np.stack([x1, y1, x2, y2], 1).astype(np.float32)


def _check_args(n: int, size: int, min_objects: int, max_objects: int) -> None:
    if n < 0:
        raise FovealError(f"number of images must be >= 0, got {n}")
    if size < MIN_SIZE:
        raise FovealError(f"shape images must be at least {MIN_SIZE} px, got size={size}")
    if not 0 <= min_objects <= max_objects:
        raise FovealError(f"need 0 <= min_objects <= max_objects, got {min_objects} and {max_objects}")


def generate_shapes(
    n: int, *, size: int = 32, seed: int = 0, min_objects: int = 1, max_objects: int = 1
) -> ShapeScenes:
    """n RGB scenes of size x size, each with min_objects..max_objects shapes of random class, colour, size,
    position (fully inside) and, for triangles, rotation, on a noisy low-contrast background. An object mostly
    hidden by later ones is dropped, so an image can end up with fewer than min_objects (rare)."""
    _check_args(n, size, min_objects, max_objects)
    rng = np.random.default_rng(seed)
    counts = rng.integers(min_objects, max_objects + 1, size=n)
    backgrounds = rng.uniform(35, 220, size=(n, 3))
    images = np.empty((n, 3, size, size), dtype=np.uint8)
    boxes, labels, masks = [], [], []
    for i, k in enumerate(counts.tolist()):
        kinds = rng.integers(0, len(SHAPE_CLASSES), size=k)
        extent = rng.uniform(*_extent_range(k, size), size=k)
        pts = _vertex_offsets(kinds, extent, rng.uniform(0, 2 * math.pi, size=k))
        keep, visible = _resolve_occlusion(_masks(kinds, _place(rng, pts, size), pts, size))
        colours = _colours(rng, backgrounds[i], k)
        canvas = np.empty((3, size, size), dtype=np.float32)
        canvas[:] = backgrounds[i][:, None, None]
        for j in np.flatnonzero(keep):
            canvas[:, visible[j]] = colours[j][:, None]
        canvas += rng.standard_normal(size=canvas.shape, dtype=np.float32) * _BG_NOISE
        np.clip(np.rint(canvas), 0, 255, out=canvas)
        images[i] = canvas
        masks.append(visible[keep])
        labels.append(kinds[keep].astype(np.int64))
        boxes.append(_tight_boxes(visible[keep]))
    images = torch.from_numpy(images)
    return ShapeScenes(images, boxes, labels, masks)


def _to_image_set(scenes: ShapeScenes) -> ImageSet:
    labels = torch.tensor([int(lab[0]) for lab in scenes.labels], dtype=torch.int64)
    return ImageSet(scenes.images, labels, SHAPE_CLASSES)


def split_seeds(seed: int) -> tuple[int, int]:
    """Two independent seeds (train, val) derived from one, so the two splits never share an image stream."""
    train_seed, val_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2))
    return train_seed, val_seed


def load_shapes(*, n_train: int = 2000, n_val: int = 500, size: int = 32, seed: int = 0) -> DataSplits:
    """A classification set of one shape per image (label = its class); train and val come from two different
    seeds derived from `seed`, so they never share an image stream."""
    if n_train < 1 or n_val < 1:
        raise FovealError(f"shapes needs at least one train and one val image, got n_train={n_train}, n_val={n_val}")
    train_seed, val_seed = split_seeds(seed)
    train = generate_shapes(n_train, size=size, seed=train_seed)
    val = generate_shapes(n_val, size=size, seed=val_seed)
    notes = [f"synthetic shapes: {n_train} train / {n_val} val images of {size}x{size}, seed {seed}"]
    return DataSplits("shapes", _to_image_set(train), _to_image_set(val), notes)


__all__ = ["SHAPE_CLASSES", "ShapeScenes", "generate_shapes", "load_shapes"]
