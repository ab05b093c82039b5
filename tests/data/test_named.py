import pytest
import torch

import foveal
from foveal.data import load_data
from foveal.data.catalog import DATASETS
from foveal.data.named import get_dataset, list_datasets
from foveal.errors import FovealError


def test_fashion_mnist_from_a_local_copy(shared_data):
    for root in (shared_data, shared_data / "fashion-mnist"):  # the folder holding it, or torchvision's root itself
        d = load_data("fashion-mnist", root=root)
        assert d.train.images.shape == (60000, 1, 28, 28) and d.val.images.shape == (10000, 1, 28, 28)
        assert d.train.images.dtype == torch.uint8 and d.classes[0] == "T-shirt/top" and len(d.classes) == 10
        assert torch.equal(d.train.class_counts(), torch.full((10,), 6000))


def test_val_split_holds_out_part_of_train(shared_data):
    d = load_data("mnist", root=shared_data, val_split=0.1)
    assert len(d.train) + len(d.val) == 60000 and abs(len(d.val) - 6000) <= 5  # rounded per class
    share = d.val.class_counts().double() / (d.val.class_counts() + d.train.class_counts())
    assert ((share - 0.1).abs() < 0.001).all()


def test_cifar10_from_the_jpeg_image_folder_copy(shared_data):
    d = load_data("cifar10", root=shared_data / "cifar10-jpg", fraction=0.02)
    assert d.train.images.shape[1:] == (3, 32, 32) and len(d.val) == 10000 and len(d.classes) == 10
    assert len(d.train) == 1000


def test_offline_download_fails_with_one_clear_line(tmp_path):
    with pytest.raises(FovealError) as err:
        load_data("fashion-mnist", root=tmp_path)
    msg = str(err.value)
    assert "could not be downloaded" in msg and "--data-root" in msg and "\n" not in msg


def test_digits_and_shapes_are_offline():
    d = load_data("digits")
    assert d.train.images.shape[1:] == (1, 8, 8) and len(d.train) + len(d.val) == 1797
    assert int(d.train.images.max()) == 255
    s = load_data("shapes", img_size=16)
    assert s.classes == ("circle", "square", "triangle") and s.train.size == (16, 16)


def test_fraction_is_stratified_and_keeps_val_whole():
    full, part = load_data("digits"), load_data("digits", fraction=0.5)
    assert len(part.val) == len(full.val) and abs(len(part.train) - len(full.train) / 2) <= 10
    assert (part.train.class_counts() > 0).all()


def test_every_catalogued_data_set_has_a_loader_and_every_loader_an_entry():
    assert {d.name for d in list_datasets()} == set(DATASETS)
    for name, entry in DATASETS.items():
        info = get_dataset(name)
        assert callable(info.load) and (info.name, info.num_classes, info.shape) == (name, entry.num_classes, entry.shape)
    assert foveal.list_datasets() == list(DATASETS)
