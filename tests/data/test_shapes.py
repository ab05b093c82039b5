from __future__ import annotations

import numpy as np
import pytest
import torch

from foveal.data.shapes import (
    CIRCLE,
    SHAPE_CLASSES,
    SQUARE,
    TRIANGLE,
    _masks,
    _resolve_occlusion,
    _vertex_offsets,
    generate_shapes,
    load_shapes,
)
from foveal.data.tensors import DataSplits
from foveal.errors import FovealError


def _tight_box(mask: np.ndarray) -> list[float]:
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


@pytest.fixture(scope="module")
def multi():
    return generate_shapes(60, size=48, seed=7, min_objects=2, max_objects=5)


@pytest.fixture(scope="module", params=["multi", "crowded"])
def scenes(request, multi):
    """Typical multi-object scenes, and crowded ones (12 shapes in 16x16) where shapes must overlap."""
    if request.param == "multi":
        return multi
    return generate_shapes(30, size=16, seed=1, min_objects=12, max_objects=12)


def test_shapes_and_dtypes(multi):
    assert multi.images.shape == (60, 3, 48, 48) and multi.images.dtype == torch.uint8
    assert len(multi.boxes) == len(multi.labels) == len(multi.masks) == 60
    for boxes, labels, masks in zip(multi.boxes, multi.labels, multi.masks):
        k = len(labels)
        assert boxes.shape == (k, 4) and boxes.dtype == np.float32
        assert labels.dtype == np.int64 and masks.shape == (k, 48, 48) and masks.dtype == bool
        assert ((labels >= 0) & (labels < len(SHAPE_CLASSES))).all()


def test_same_seed_same_output_different_seed_different():
    a = generate_shapes(20, size=32, seed=3, max_objects=3)
    b = generate_shapes(20, size=32, seed=3, max_objects=3)
    c = generate_shapes(20, size=32, seed=4, max_objects=3)
    assert torch.equal(a.images, b.images)
    for x, y in zip(a.masks + a.boxes + a.labels, b.masks + b.boxes + b.labels):
        np.testing.assert_array_equal(x, y)
    assert not torch.equal(a.images, c.images)


def test_box_is_tight_bounds_of_mask(scenes):
    for boxes, masks in zip(scenes.boxes, scenes.masks):
        for box, mask in zip(boxes, masks):
            assert mask.any()
            assert box.tolist() == _tight_box(mask)


def test_masks_of_one_image_do_not_overlap(scenes):
    assert max(int(m.sum(0).max()) for m in scenes.masks if len(m)) == 1


def test_several_objects_per_image_mostly_kept(multi):
    counts = np.array([len(lab) for lab in multi.labels])
    assert counts.min() >= 1 and counts.max() <= 5
    assert counts.mean() > 2.5  # drawn 2..5; occlusion drops should be rare


def test_masks_match_the_visible_pixels(scenes):
    """Each visible mask covers one flat colour (plus noise): a mask still holding pixels drawn over by a later
    object would mix two colours."""
    img = scenes.images.numpy().astype(np.float64)
    for image, masks in zip(img, scenes.masks):
        for mask in masks:
            if mask.sum() >= 4:
                assert image[:, mask].std(1).max() < 20


def test_objects_stand_out_from_the_background():
    scenes = generate_shapes(100, size=32, seed=1)
    img = scenes.images.numpy().astype(np.float64)
    for image, (mask,) in zip(img, scenes.masks):
        inside, outside = image[:, mask].mean(1), image[:, ~mask].mean(1)
        assert np.linalg.norm(inside - outside) > 60


def test_single_objects_are_sizeable():
    scenes = generate_shapes(200, size=32, seed=2)
    areas = np.array([m.sum() for m in scenes.masks])
    assert areas.min() >= 20  # a triangle of side 8 px covers ~28 px
    assert areas.max() <= 0.6 * 32 * 32


def test_zero_objects_allowed():
    scenes = generate_shapes(5, size=16, seed=0, min_objects=0, max_objects=0)
    assert all(b.shape == (0, 4) and m.shape == (0, 16, 16) for b, m in zip(scenes.boxes, scenes.masks))


def test_exact_square_and_circle_masks():
    kinds = np.array([SQUARE, CIRCLE])
    extent = np.array([8.0, 10.0])
    pts = _vertex_offsets(kinds, extent, np.zeros(2))
    masks = _masks(kinds, np.array([[16.0, 16.0], [16.0, 16.0]]), pts, 32)
    assert masks[0].sum() == 64 and _tight_box(masks[0]) == [12, 12, 20, 20]
    assert abs(masks[1].sum() - np.pi * 25) < 8
    assert _tight_box(masks[1]) == [11, 11, 21, 21]


def test_triangle_mask_area_and_rotation():
    kinds = np.array([TRIANGLE, TRIANGLE])
    pts = _vertex_offsets(kinds, np.array([20.0, 20.0]), np.array([0.0, 1.0]))
    masks = _masks(kinds, np.array([[32.0, 32.0], [32.0, 32.0]]), pts, 64)
    expected = np.sqrt(3) / 4 * 20**2
    for mask in masks:
        assert abs(mask.sum() - expected) < 0.1 * expected
        assert mask[31:33, 31:33].all()  # the centre is inside
    assert (masks[0] != masks[1]).sum() > 20  # rotated


def test_occlusion_recomputes_and_drops():
    masks = np.zeros((3, 10, 10), dtype=bool)
    masks[0, 0:4, 0:4] = True  # 16 px, 12 covered by object 1 -> 25% visible -> dropped
    masks[1, 0:4, 1:5] = True  # drawn over 0, half covered by 2 -> kept with 8 px
    masks[2, 2:6, 1:5] = True  # on top: all visible
    keep, visible = _resolve_occlusion(masks)
    assert keep.tolist() == [False, True, True]
    assert visible[1].sum() == 8 and not (visible[1] & visible[2]).any()
    assert np.array_equal(visible[2], masks[2]) and not visible[0].any()


def test_load_shapes_is_balanced_and_split():
    data = load_shapes(n_train=2000, n_val=500, size=32, seed=0)
    assert isinstance(data, DataSplits) and data.classes == SHAPE_CLASSES
    assert data.train.images.shape == (2000, 3, 32, 32) and len(data.val) == 500
    counts = data.train.class_counts().numpy()
    assert (np.abs(counts - 2000 / 3) < 0.1 * 2000 / 3).all()
    assert not torch.equal(data.train.images[:500], data.val.images)


def test_load_shapes_deterministic_per_seed():
    a, b = load_shapes(n_train=30, n_val=10, seed=5), load_shapes(n_train=30, n_val=10, seed=5)
    c = load_shapes(n_train=30, n_val=10, seed=6)
    assert torch.equal(a.train.images, b.train.images) and torch.equal(a.val.labels, b.val.labels)
    assert not torch.equal(a.train.images, c.train.images)


@pytest.mark.parametrize(
    "kwargs", [dict(n=-1), dict(n=2, size=4), dict(n=2, min_objects=3, max_objects=2), dict(n=2, min_objects=-1)]
)
def test_bad_arguments(kwargs):
    with pytest.raises(FovealError):
        generate_shapes(**kwargs)
