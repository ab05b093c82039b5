"""Batches of semantic segmentation samples: images and their class-id masks brought to one input size, augmented
per sample by torchvision transforms v2 (the mask travels as a tv_tensors.Mask, so it is cropped, flipped and
resized with its image, and resized by nearest neighbour)."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torchvision import tv_tensors
from torchvision.transforms import v2 as T

from foveal.data.shard import ONE
from foveal.data.tensors import epoch_order

from foveal.data.segmentation.semantic import IGNORE, MaskSet

Batch = tuple[torch.Tensor, torch.Tensor]


def train_transform(size: tuple[int, int], train_scale: float = 1.0) -> T.Transform:
    """A random resized crop to `size`, horizontal flip and photometric change. The crop covers a random part of the
    image: on average `train_scale` of its sides, so that objects keep the scale they have at the input size a crop
    side of `train_scale` is taken from, jittered by up to 1.4x either way (at `train_scale` 1, half the image to all
    of it); its width to height within 4/3 of `size`'s."""
    area = train_scale ** 2
    aspect = size[1] / size[0]
    return T.Compose([
        T.RandomResizedCrop(size, scale=(area / 2, min(1.0, 2 * area)), ratio=(aspect * 3 / 4, aspect * 4 / 3),
                            antialias=True),
        T.RandomHorizontalFlip(),
        T.RandomPhotometricDistort(p=0.5),
    ])


class MaskLoader:
    """(images, masks) batches: float images in [0, 1] (N, 3, H, W) and int64 masks (N, H, W) at `size`. Shuffling is
    a pure function of (seed, epoch); transforms draw from torch's global generator (saved in checkpoints)."""

    def __init__(self, data: MaskSet, batch_size: int, size: tuple[int, int], shuffle: bool = False, seed: int = 0,
                 device: torch.device | str = "cpu", transform: T.Transform | None = None) -> None:
        self.data, self.batch_size, self.size, self.shuffle, self.seed = data, batch_size, tuple(size), shuffle, seed
        self.device, self.transform = torch.device(device), transform
        self.shard = ONE  # set by the Trainer when several processes train together
        self._resize = T.Resize(self.size, antialias=True)

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    @property
    def samples(self) -> int:
        return len(self.data)

    def sample(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        img, mask = tv_tensors.Image(self.data.images[i]), tv_tensors.Mask(self.data.masks[i])
        img, mask = (self.transform or self._resize)(img, mask)
        if tuple(img.shape[-2:]) != self.size:
            img, mask = self._resize(img, mask)
        return img.as_subclass(torch.Tensor), mask.as_subclass(torch.Tensor)

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        n = len(self.data)
        order = epoch_order(n, self.shuffle, self.seed, epoch)
        for step in self.shard.steps(order, self.batch_size):
            images, masks = zip(*(self.sample(int(i)) for i in step))
            yield (torch.stack(images).to(self.device, torch.float32).div_(255),
                   torch.stack(masks).to(self.device, torch.int64))

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)


__all__ = ["IGNORE", "MaskLoader", "train_transform"]
