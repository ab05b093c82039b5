"""Batched views from stored images to a card's input: eval resize + centre crop, train random resized crops."""

from __future__ import annotations

import torch
import torchvision.transforms.v2 as T

from foveal.data.views import EvalView, PhotoStore, TrainView, crop_resize, random_crops, to_input
from foveal.models.card import ModelCard


def card(resize_size=40, size=32, interpolation="bilinear"):
    return ModelCard("classify", "x", ("a", "b"), 3, (size, size), (0.5,) * 3, (0.5,) * 3, interpolation, resize_size=resize_size)


def test_eval_view_is_torchvisions_resize_then_centre_crop():
    x = torch.randint(0, 256, (4, 3, 50, 70), dtype=torch.uint8)
    expected = T.Compose([T.Resize(40, antialias=True), T.CenterCrop(32)])(x)
    assert torch.equal(EvalView(card())(x), expected)
    assert torch.equal(to_input(x[0], card()), expected[0])  # one photo, as prediction prepares it


def test_eval_view_without_resize_size_is_a_resize():
    x = torch.randint(0, 256, (2, 3, 50, 70), dtype=torch.uint8)
    assert to_input(x, card(resize_size=None)).shape == (2, 3, 32, 32)


def test_crop_resize_whole_image_and_shrink():
    x = torch.randint(0, 256, (2, 3, 32, 32), dtype=torch.uint8)
    whole = torch.tensor([[0.0, 0.0, 32.0, 32.0], [8.0, 0.0, 24.0, 16.0]])
    out = crop_resize(x, whole, (32, 32))
    assert torch.equal(out[0], x[0])  # the whole image at its own size is itself
    half = crop_resize(x, whole[:1], (16, 16))[0].float()
    assert (half - torch.nn.functional.avg_pool2d(x[:1].float(), 2)[0]).abs().max() <= 1  # shrinking averages
    assert crop_resize(x, whole, (5, 7)).shape == (2, 3, 5, 7)


def test_random_crops_stay_inside_and_cover_the_scale():
    g = torch.Generator().manual_seed(0)
    boxes, flip = random_crops(2000, 60, 80, (0.25, 1.0), g)
    assert boxes[:, 0].min() >= 0 and boxes[:, 2].max() <= 80 and boxes[:, 1].min() >= 0 and boxes[:, 3].max() <= 60
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1]) / (60 * 80)
    assert 0.2 < area.min() < 0.3 and area.max() > 0.9
    assert 0.4 < flip.float().mean() < 0.6


def test_train_view_shapes_and_policies():
    x = torch.randint(0, 256, (5, 3, 20, 30), dtype=torch.uint8)
    for policy in ("trivial", "rand", "none"):
        out = TrainView(card(), policy)(x, torch.Generator().manual_seed(1))
        assert out.shape == (5, 3, 32, 32) and out.dtype == torch.uint8


def test_a_stored_photo_gives_the_same_input_as_its_file():
    """PhotoStore keeps the square whose centre crop is the whole photo's: for every size and aspect, odd and even,
    to_input of the stored photo equals to_input of the photo itself, pixel for pixel."""
    g = torch.Generator().manual_seed(0)
    for resize_size, size in ((40, 32), (41, 32), (40, 33), (37, 37)):
        c = card(resize_size, size, "bicubic")
        store = PhotoStore.of(c)
        for h, w in ((40, 48), (41, 48), (40, 51), (100, 37), (32, 32), (61, 60), (20, 90)):
            photo = torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=g)
            stored = store(photo)
            assert stored.shape[-2:] == (resize_size, resize_size)
            assert torch.equal(to_input(stored, c), to_input(photo, c)), (resize_size, size, h, w)
