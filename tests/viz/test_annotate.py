from __future__ import annotations

import numpy as np
import pytest
import torch

from foveal.types import Classification
from foveal.viz.annotate import annotate_classification, to_pil, upscale

RESULT = Classification(np.array([0.1, 0.7, 0.2], dtype=np.float32), ("circle", "square", "triangle"))


def _grey_image(c: int = 3, h: int = 32, w: int = 32, value: int = 128) -> torch.Tensor:
    return torch.full((c, h, w), value, dtype=torch.uint8)


@pytest.mark.parametrize(
    "shape, size", [((3, 32, 32), (224, 224)), ((1, 28, 28), (224, 224)), ((3, 50, 100), (500, 250)), ((3, 300, 400), (400, 300))]
)
def test_size_and_mode(shape, size):
    out = annotate_classification(torch.zeros(shape, dtype=torch.uint8), RESULT)
    assert out.mode == "RGB" and out.size == size


def test_box_is_drawn_top_left_and_rest_untouched():
    image = _grey_image()
    before = image.clone()
    out = np.asarray(annotate_classification(image, RESULT))
    assert torch.equal(image, before)  # the input is not modified
    assert (out[-40:, -40:] == 128).all()  # bottom right: the plain image
    box = out[:100, :150]
    assert (box < 70).any(axis=-1).sum() > 1000  # the dark box
    assert (box > 200).all(axis=-1).sum() > 50  # white text in it


def test_more_labels_make_a_taller_box():
    def box_rows(k: int) -> int:
        out = np.asarray(annotate_classification(_grey_image(), RESULT, k=k))
        return int((out[:, 12, 0] < 70).sum())  # a column inside the box's left padding

    assert box_rows(1) < box_rows(2) < box_rows(3) == box_rows(10)


def test_long_labels_are_shortened_to_fit():
    result = Classification(np.array([0.9, 0.1], dtype=np.float32), ("a" * 200, "b"))
    out = np.asarray(annotate_classification(_grey_image(), result, k=2))
    assert (out[:, -5:] == 128).all()  # the box stops before the right edge


def test_upscale_is_nearest_by_whole_factor():
    image = torch.arange(64, dtype=torch.uint8).reshape(1, 8, 8) * 4
    big = np.asarray(upscale(to_pil(image)))
    assert big.shape == (224, 224, 3)
    np.testing.assert_array_equal(big[..., 0], np.kron(image[0].numpy(), np.ones((28, 28), dtype=np.uint8)))


def test_rejects_bad_images():
    with pytest.raises(ValueError):
        annotate_classification(torch.zeros((3, 32, 32)), RESULT)
    with pytest.raises(ValueError):
        annotate_classification(torch.zeros((2, 32, 32), dtype=torch.uint8), RESULT)
