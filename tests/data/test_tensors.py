import pytest
import torch

from foveal.data.augment import FlipTranslate, Normalize, translate
from foveal.data.tensors import DataSplits, ImageSet, TensorLoader, split_off
from foveal.errors import FovealError


def make(n=40, classes=("a", "b"), size=6, channels=1):
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=g)
    return ImageSet(images, torch.arange(n) % len(classes), classes)


def test_split_off_is_stratified_and_disjoint():
    data = make(100, ("a", "b", "c", "d"))
    train, val = split_off(data, 0.2, seed=1)
    assert len(train) + len(val) == 100
    assert val.class_counts().tolist() == [5, 5, 5, 5]
    assert split_off(data, 0.2, seed=1)[1].labels.tolist() == val.labels.tolist()


def test_loader_covers_every_image_once_per_epoch_and_is_a_function_of_the_epoch():
    data = make(37)
    data.images[:, 0, 0, 0] = torch.arange(37, dtype=torch.uint8)  # tag each image
    loader = TensorLoader(data, 8, shuffle=True, seed=3)
    first = torch.cat([x[:, 0, 0, 0] for x, _ in loader.epoch(1)])
    assert sorted(first.tolist()) == list(range(37)) and len(loader) == 5
    assert torch.equal(first, torch.cat([x[:, 0, 0, 0] for x, _ in loader.epoch(1)]))
    assert not torch.equal(first, torch.cat([x[:, 0, 0, 0] for x, _ in loader.epoch(2)]))


def test_splits_refuse_one_class_mismatched_classes_and_empty():
    with pytest.raises(FovealError, match="has one class"):
        DataSplits("x", make(classes=("a",)), make(classes=("a",)))
    with pytest.raises(FovealError, match="classes differ between train and val"):
        DataSplits("x", make(classes=("a", "b")), make(classes=("a", "c")))
    with pytest.raises(FovealError, match="no validation images"):
        DataSplits("x", make(), make().subset(torch.tensor([], dtype=torch.long)))


def test_translate_shifts_within_pad_and_flip_mirrors():
    x = torch.zeros(64, 1, 9, 9, dtype=torch.uint8)
    x[:, :, 4, 4] = 255
    out = translate(x, 2, torch.Generator().manual_seed(0))
    pos = (out[:, 0] == 255).flatten(1).float().argmax(1)
    rows, cols = pos // 9, pos % 9
    assert out.dtype == torch.uint8 and ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(zip(rows.tolist(), cols.tolist()))) > 10
    y = torch.zeros(200, 1, 4, 4, dtype=torch.uint8)
    y[..., 0] = 255
    flipped = FlipTranslate(flip=True, pad=0)(y, torch.Generator().manual_seed(0))
    share = (flipped[:, 0, 0, 3] == 255).float().mean()
    assert 0.35 < share < 0.65 and ((flipped[:, 0, 0, 0] == 255) ^ (flipped[:, 0, 0, 3] == 255)).all()


def test_alternating_flip_mirrors_each_image_in_every_other_epoch():
    data = make(200, size=4)
    data.images[:] = 0
    data.images[:, 0, 0, 0] = 255  # a mark in the top-left corner: mirrored, it is top-right
    data.images[:, 0, 1, 0] = torch.arange(200, dtype=torch.uint8)  # tag each image (column 0 stays column 0 or 3)
    loader = TensorLoader(data, 32, shuffle=True, seed=5, augment=FlipTranslate(pad=0, alternate=True, salt=5))

    def mirrored(epoch, loader=loader):  # image tag -> mirrored in this epoch
        out = {}
        for x, _ in loader.epoch(epoch):
            flipped = x[:, 0, 0, 3] == 255
            tags = torch.where(flipped, x[:, 0, 1, 3], x[:, 0, 1, 0])
            out.update(zip(tags.tolist(), flipped.tolist()))
        return out

    e1, e2, e3 = mirrored(1), mirrored(2), mirrored(3)
    assert len(e1) == 200 and 0.35 < sum(e1.values()) / 200 < 0.65
    assert all(e1[i] != e2[i] and e1[i] == e3[i] for i in range(200))  # both views every two epochs
    other = mirrored(1, TensorLoader(data, 32, shuffle=True, seed=6, augment=FlipTranslate(pad=0, alternate=True, salt=6)))
    assert 0.3 < sum(other[i] == e1[i] for i in range(200)) / 200 < 0.7  # another seed, other coins


def test_cutout_blanks_one_square_per_image_with_the_fill():
    x = torch.full((300, 3, 12, 12), 200, dtype=torch.uint8)
    out = FlipTranslate(flip=False, pad=0, cutout=4, fill=(10.2, 20.0, 30.0))(x, torch.Generator().manual_seed(0))
    blank = out[:, 0] == 10
    assert ((out[:, 1] == 20) == blank).all() and ((out[:, 2] == 30) == blank).all() and ((out == 200) | blank[:, None]).all()
    rows, cols = blank.any(2), blank.any(1)  # which rows and columns of each image the square covers
    area = blank.sum((1, 2))
    assert (area == rows.sum(1) * cols.sum(1)).all()  # a rectangle: the square, clipped at the border
    assert area.max() == 16 and 0 < area.min() < 16 and (area > 0).all()
    centres = (rows.float().argmax(1) + rows.sum(1) / 2).tolist()
    assert len(set(centres)) > 6  # the square moves from image to image


def test_normalize_matches_to_tensor_then_normalize():
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    expect = (x.float() / 255 - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    out = Normalize(mean, std, channels_last=True)(x)
    torch.testing.assert_close(out, expect, rtol=1e-5, atol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last)
    unit = Normalize((0.0,) * 3, (1.0,) * 3)
    assert unit.unit and torch.equal(unit(x), x.float() / 255)


def test_a_loaders_first_samples_keep_its_batches_and_view():
    data = make(n=150)
    loader = TensorLoader(data, 64, shuffle=True, augment=lambda x, g: x + 1)
    head = loader.first(100)
    assert len(head) == 2 and [len(y) for _, y in head] == [64, 36]
    x, y = next(iter(head))
    assert torch.equal(x, data.images[:64] + 1) and torch.equal(y, data.labels[:64])
