"""Batches of detection samples: lists of images of any size with their box targets, augmented per sample by
torchvision transforms v2 so that boxes stay aligned with the pixels."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2 as T

from foveal.data.shard import ONE
from foveal.data.tensors import epoch_order

from foveal.data.detection.dataset import DetectionSet

Batch = tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]


def train_transform(fill: int = 114) -> T.Transform:
    """Photometric change, zoom out and IoU-aware random crop (together a scale jitter, since the detector resizes
    every image to its input size), horizontal flip, then the sanitize step that drops boxes cropped to nothing."""
    return T.Compose([
        T.RandomPhotometricDistort(p=0.5),
        T.RandomZoomOut(fill={tv_tensors.Image: fill, "others": 0}, side_range=(1.0, 1.5), p=0.2),
        T.RandomApply([T.RandomIoUCrop(min_scale=0.5, trials=10)], p=0.3),
        T.RandomHorizontalFlip(),
        T.SanitizeBoundingBoxes(min_size=2),
    ])


class DetectionLoader:
    """(images, targets) batches: float images in [0, 1] (3, H, W) and {"boxes": (k, 4) XYXY pixels, "labels": (k,)}
    with foveal's class ids (and "masks": uint8 (k, H, W) when the data has instance masks). Shuffling is a pure
    function of (seed, epoch); transforms draw from torch's global generator, which a checkpoint saves and a resumed
    run restores."""

    def __init__(self, data: DetectionSet, batch_size: int, shuffle: bool = False, seed: int = 0,
                 device: torch.device | str = "cpu", transform: T.Transform | None = None) -> None:
        self.data, self.batch_size, self.shuffle, self.seed = data, batch_size, shuffle, seed
        self.device, self.transform = torch.device(device), transform
        self.shard = ONE  # set by the Trainer when several processes train together

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    @property
    def samples(self) -> int:
        return len(self.data)

    def sample(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        img, boxes, labels = self.data.images[i], self.data.boxes[i], self.data.labels[i]
        masks = None if self.data.masks is None else self.data.masks[i]
        if self.transform is not None:
            target = {"boxes": tv_tensors.BoundingBoxes(boxes, format="XYXY", canvas_size=tuple(img.shape[-2:])),
                      "labels": labels}
            if masks is not None:  # a Mask is cropped, flipped and resized with its image, and dropped with its box
                target["masks"] = tv_tensors.Mask(masks)
            img, target = self.transform(tv_tensors.Image(img), target)
            boxes, labels = target["boxes"].as_subclass(torch.Tensor), target["labels"]
            masks = None if masks is None else target["masks"].as_subclass(torch.Tensor)
            img = img.as_subclass(torch.Tensor)
        target = {"boxes": boxes.to(self.device, torch.float32), "labels": labels.to(self.device)}
        if masks is not None:
            target["masks"] = masks.to(self.device, torch.uint8)
        return img.to(self.device, torch.float32).div_(255), target

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        n = len(self.data)
        order = epoch_order(n, self.shuffle, self.seed, epoch)
        for step in self.shard.steps(order, self.batch_size):
            images, targets = zip(*(self.sample(int(i)) for i in step))
            yield list(images), list(targets)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)
