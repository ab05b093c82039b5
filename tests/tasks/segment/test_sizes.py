"""Semantic segmentation's sizes: the network sees photos at their full resolution (ratio kept, sides rounded up to
a multiple of 32, the longer at most 512) unless --img-size says a square, and trains on crops of --train-scale of
that, no side below 256 px (smaller images train whole)."""

from __future__ import annotations

import torch

from foveal.config import TrainConfig
from foveal.data.segmentation.semantic import MaskSet, MaskSplits
from foveal.tasks.segment.task import input_size, train_size


def _splits(*shapes: tuple[int, int]) -> MaskSplits:
    images = [torch.zeros(3, h, w, dtype=torch.uint8) for h, w in shapes]
    masks = [torch.zeros(h, w, dtype=torch.uint8) for h, w in shapes]
    data = MaskSet(images, masks, ("background", "thing"))
    return MaskSplits("photos", data, data)


def test_photos_keep_their_ratio_at_full_resolution():
    cfg = TrainConfig(task="segment", model="lraspp")
    assert input_size(cfg, _splits((360, 480))) == (384, 480)  # CamVid's photos
    assert input_size(cfg, _splits((720, 960))) == (384, 512)  # the longer side at most 512
    assert input_size(cfg, _splits((360, 480), (480, 360))) == (480, 480)  # both orientations: room for each
    assert input_size(cfg.replace(img_size=300), _splits((360, 480))) == (320, 320)  # --img-size: a square


def test_training_crops_are_train_scale_of_the_input_size():
    cfg = TrainConfig(task="segment", model="lraspp", train_scale=0.6)
    assert train_size(cfg, (384, 480)) == (256, 288)  # 0.6 of 480 is 288; 0.6 of 384 is 231, below 256
    assert train_size(cfg, (768, 1024)) == (480, 640)
    assert train_size(cfg.replace(train_scale=1.0), (384, 480)) == (384, 480)
    assert train_size(cfg, (96, 96)) == (96, 96) and train_size(cfg, (32, 32)) == (32, 32)  # small images: whole
