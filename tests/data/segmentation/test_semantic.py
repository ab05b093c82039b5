"""Semantic segmentation folders: the three layouts, class ids or palette colours, VOC's ignore borders, bad label
images reported and skipped, and masks that stay aligned with their images through augmentation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from foveal.data.segmentation.dataset import load_semantic, shapes_semantic
from foveal.data.segmentation.loader import MaskLoader, train_transform
from foveal.data.segmentation.semantic import IGNORE, MaskSet, resize_mask
from foveal.errors import FovealError


def _pair(folder_img, folder_mask, stem, ids, mode="L", palette=None, size=None):
    folder_img.mkdir(parents=True, exist_ok=True)
    folder_mask.mkdir(parents=True, exist_ok=True)
    h, w = ids.shape[:2]
    Image.fromarray(np.full((h, w, 3), 90, np.uint8)).resize(size or (w, h)).save(folder_img / f"{stem}.jpg")
    if mode == "RGB":
        Image.fromarray(ids.astype(np.uint8), "RGB").save(folder_mask / f"{stem}.png")
    elif mode == "P":
        im = Image.fromarray(ids.astype(np.uint8), "P")
        im.putpalette(palette)
        im.save(folder_mask / f"{stem}.png")
    else:
        Image.fromarray(ids.astype(np.uint8), "L").save(folder_mask / f"{stem}.png")


def _ids(seed, h=20, w=30, n=3):
    return np.random.default_rng(seed).integers(0, n, (h, w))


def test_images_beside_masks_with_classes_txt_and_a_holdout(tmp_path):
    for i in range(10):
        _pair(tmp_path / "images", tmp_path / "masks", f"a{i}", _ids(i))
    (tmp_path / "classes.txt").write_text("background\nroad\nsky\n")
    splits = load_semantic(tmp_path, val_split=0.2, seed=0)
    assert splits.classes == ("background", "road", "sky")
    assert (len(splits.train), len(splits.val)) == (8, 2)
    i = [p.endswith("a3.jpg") for p in splits.train.paths + splits.val.paths].index(True)
    mask = (splits.train.masks + splits.val.masks)[i]
    assert mask.dtype == torch.uint8 and np.array_equal(mask.numpy(), _ids(3))


def test_camvid_layout_maps_void_to_ignore(tmp_path):
    for split in ("train", "val"):
        ids = _ids(1, n=12)  # 0..11, 11 is CamVid's void
        _pair(tmp_path / split, tmp_path / f"{split}annot", "f0", ids)
    splits = load_semantic(tmp_path)
    assert len(splits.classes) == 11 and splits.classes[3] == "road"
    m = splits.train.masks[0].numpy()
    assert (m[_ids(1, n=12) == 11] == IGNORE).all() and m.max() == IGNORE and (m[m != IGNORE] < 11).all()


def test_camvid_test_split_in_the_place_of_val(tmp_path):
    for split, n in (("train", 2), ("val", 1), ("test", 3)):
        for i in range(n):
            _pair(tmp_path / split, tmp_path / f"{split}annot", f"{split}{i}", _ids(i, n=12))
    splits = load_semantic(tmp_path, split="test")
    assert len(splits.val) == 3 and all("/test/" in p for p in splits.val.paths)
    assert len(load_semantic(tmp_path).val) == 1
    with pytest.raises(FovealError, match="shapes has no test split"):
        load_semantic("shapes", split="test")


def test_voc_palette_pngs_and_their_255_borders(tmp_path):
    ids = _ids(2, n=21)
    ids[0, :] = 255  # VOC's object borders
    from foveal.viz.masks import voc_palette

    pal = [c for rgb in voc_palette(256) for c in rgb]
    for stem in ("2007_000032", "2007_000039"):
        _pair(tmp_path / "JPEGImages", tmp_path / "SegmentationClass", stem, ids, mode="P", palette=pal)
    sets = tmp_path / "ImageSets" / "Segmentation"
    sets.mkdir(parents=True)
    (sets / "train.txt").write_text("2007_000032\n")
    (sets / "val.txt").write_text("2007_000039\n2007_999999\n")
    splits = load_semantic(tmp_path)
    assert splits.classes[15] == "person" and len(splits.classes) == 21
    assert np.array_equal(splits.val.masks[0].numpy(), ids)
    assert any("2007_999999" in n for n in splits.notes)


def test_rgb_label_images_through_a_palette(tmp_path):
    colours = {0: (0, 0, 0), 1: (128, 64, 128), 2: (70, 130, 180)}
    ids = _ids(4)
    rgb = np.array([colours[i] for i in ids.ravel()], np.uint8).reshape(*ids.shape, 3)
    for i in range(3):
        _pair(tmp_path / "train" / "images", tmp_path / "train" / "labels", f"x{i}", rgb, mode="RGB")
    _pair(tmp_path / "val" / "images", tmp_path / "val" / "labels", "v0", rgb, mode="RGB")
    (tmp_path / "classes.txt").write_text("void 0 0 0\nroad 128 64 128\nsky 70 130 180\n")
    splits = load_semantic(tmp_path)
    assert splits.classes == ("void", "road", "sky") and len(splits.train) == 3 and len(splits.val) == 1
    assert np.array_equal(splits.train.masks[0].numpy(), ids)


def test_bad_label_images_are_reported_by_file_and_skipped(tmp_path):
    for i in range(4):
        _pair(tmp_path / "images", tmp_path / "masks", f"ok{i}", _ids(i))
    _pair(tmp_path / "images", tmp_path / "masks", "wrong_size", _ids(5), size=(31, 20))
    _pair(tmp_path / "images", tmp_path / "masks", "bad_id", _ids(6, n=9))
    (tmp_path / "masks" / "orphan.png").write_bytes((tmp_path / "masks" / "ok0.png").read_bytes())
    (tmp_path / "masks" / "broken.png").write_bytes(b"not a png")
    Image.new("RGB", (30, 20)).save(tmp_path / "images" / "broken.jpg")
    (tmp_path / "classes.txt").write_text("a\nb\nc\n")
    splits = load_semantic(tmp_path, val_split=0.25)
    assert len(splits.train) + len(splits.val) == 4
    notes = "\n".join(splits.notes)
    assert "wrong_size.png: label image is 30x20, its image wrong_size.jpg is 31x20; skipped" in notes
    assert "bad_id.png: class id(s)" in notes and "outside the 3 classes; skipped" in notes
    assert "orphan.png: a label image without an image; skipped" in notes
    assert "broken.png" in notes


def test_not_a_segmentation_folder(tmp_path):
    (tmp_path / "stuff").mkdir()
    with pytest.raises(FovealError, match="expected a segmentation folder: images/ beside masks/"):
        load_semantic(tmp_path)


def test_resize_mask_keeps_ids_and_shapes_masks_match_their_boxes():
    m = torch.from_numpy(_ids(7, 40, 60, n=5).astype(np.uint8))
    small = resize_mask(m, (17, 23))
    assert small.shape == (17, 23) and set(small.unique().tolist()) <= set(range(5))
    data = shapes_semantic(n_train=20, n_val=5, seed=1)
    assert data.classes == ("background", "circle", "square", "triangle")
    img, mask = data.train.images[0], data.train.masks[0]
    bg = img[:, mask == 0].float().mean(1)
    assert (img[:, mask > 0].float().mean(1) - bg).abs().max() > 30  # the objects' pixels are where the mask says


def test_augmentation_keeps_masks_on_their_pixels():
    """A grey image that is the mask (x 200): after crops, flips, resizing and colour changes, the two still agree."""
    torch.manual_seed(0)
    masks = [torch.from_numpy((np.random.default_rng(i).random((4, 6)) > 0.5).astype(np.uint8)).repeat_interleave(12, 0)
             .repeat_interleave(12, 1) for i in range(6)]
    images = [(m * 200).expand(3, -1, -1).to(torch.uint8) for m in masks]
    loader = MaskLoader(MaskSet(images, masks, ("a", "b")), 3, (32, 32), shuffle=True,
                        transform=train_transform((32, 32)))
    for x, y in loader:
        assert x.shape == (3, 3, 32, 32) and y.shape == (3, 32, 32) and y.dtype == torch.int64
        bright = x.mean(1) > x.mean(1).amax((1, 2), keepdim=True) / 2
        agree = (bright == (y == 1)).float().mean()
        assert agree > 0.9, agree


def test_training_crops_keep_objects_at_the_scale_of_the_input_size():
    """At --train-scale s a crop covers s of the photo's sides on average (s² of its area, jittered by 2x either
    way), so that objects keep the size the full-resolution evaluation sees; crops keep the output's width to height."""
    crop = train_transform((256, 288), 0.6).transforms[0]
    assert crop.scale == pytest.approx((0.18, 0.72)) and crop.ratio[0] < 288 / 256 < crop.ratio[1]
    assert train_transform((32, 32)).transforms[0].scale == pytest.approx((0.5, 1.0))  # whole images: as before
