"""Image data held in memory as one uint8 tensor, batched by tensor indexing (no per-sample Python)."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch

from foveal.data.shard import ONE
from foveal.errors import FovealError


@dataclass
class ImageSet:
    """N images as uint8 (N, C, H, W) with int64 labels in [0, len(classes))."""

    images: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    paths: list[str] | None = None  # where each image came from, when it came from a file

    def __post_init__(self) -> None:
        self.classes = tuple(self.classes)
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W); got {self.images.dtype} {tuple(self.images.shape)}")
        self.labels = torch.as_tensor(self.labels, dtype=torch.int64)
        if self.labels.shape != (len(self.images),):
            raise ValueError(f"labels must have shape ({len(self.images)},); got {tuple(self.labels.shape)}")
        if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.classes)):
            raise ValueError(f"labels must lie in [0, {len(self.classes)})")
        if self.paths is not None and len(self.paths) != len(self.images):
            raise ValueError("paths must have one entry per image")

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return int(self.images.shape[1])

    @property
    def size(self) -> tuple[int, int]:
        return int(self.images.shape[2]), int(self.images.shape[3])

    def subset(self, index: torch.Tensor) -> "ImageSet":
        paths = None if self.paths is None else [self.paths[i] for i in index.tolist()]
        return ImageSet(self.images[index], self.labels[index], self.classes, paths)

    def class_counts(self) -> torch.Tensor:
        return torch.bincount(self.labels, minlength=len(self.classes))

    def mean_std(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per-channel mean and std in [0, 1] units, from at most 10,000 images."""
        x = self.images[:10_000].float().div_(255).transpose(0, 1).reshape(self.channels, -1)
        return tuple(x.mean(1).tolist()), tuple(x.std(1).clamp_min(1e-3).tolist())


@dataclass
class DataSplits:
    """A named data set: its training and validation splits, sharing one class list."""

    name: str
    train: ImageSet
    val: ImageSet
    notes: list[str] = field(default_factory=list)  # what the reader skipped or chose, for the log

    def __post_init__(self) -> None:
        if len(self.train) == 0:
            raise FovealError(f"data set {self.name!r} has no training images")
        if len(self.val) == 0:
            raise FovealError(f"data set {self.name!r} has no validation images")
        if self.train.classes != self.val.classes:
            only_train = sorted(set(self.train.classes) - set(self.val.classes))
            only_val = sorted(set(self.val.classes) - set(self.train.classes))
            raise FovealError(
                f"classes differ between train and val in {self.name!r}: only in train {only_train}, only in val {only_val}"
            )
        if len(self.train.classes) < 2:
            raise FovealError(
                f"data set {self.name!r} has one class ({self.train.classes[0] if self.train.classes else 'none'}); "
                "classification needs at least two"
            )
        if self.train.channels != self.val.channels or self.train.size != self.val.size:
            raise FovealError(
                f"train and val images differ in shape in {self.name!r}: "
                f"{self.train.channels}x{self.train.size} vs {self.val.channels}x{self.val.size}"
            )

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes


@dataclass
class FeatureSet:
    """Cached float features (N, D) of an ImageSet, with its labels: what a frozen backbone saw."""

    images: torch.Tensor  # named like ImageSet's so one TensorLoader batches both
    labels: torch.Tensor
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)


def split_off(data: ImageSet, fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Split one set into (train, val), stratified by class so every class keeps its share."""
    g = torch.Generator().manual_seed(seed)
    val_idx = []
    for c in range(len(data.classes)):
        idx = (data.labels == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        n_val = int(round(len(idx) * fraction))
        if len(idx) >= 2:
            n_val = min(max(n_val, 1), len(idx) - 1)
        val_idx.append(idx[:n_val])
    val = torch.cat(val_idx).sort().values
    keep = torch.ones(len(data), dtype=torch.bool)
    keep[val] = False
    return data.subset(keep.nonzero().flatten()), data.subset(val)


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The generator of one epoch's shuffle: a pure function of (seed, epoch), so a resumed run repeats it."""
    return torch.Generator().manual_seed(seed * 100_003 + epoch)


def epoch_order(n: int, shuffle: bool, seed: int, epoch: int) -> torch.Tensor:
    """The sample order of one epoch: shuffled by epoch_generator, or 0..n-1."""
    return torch.randperm(n, generator=epoch_generator(seed, epoch)) if shuffle else torch.arange(n)


class TensorLoader:
    """Batches of (uint8 images, labels) from an ImageSet by index; shuffling is a pure function of (seed, epoch),
    so a resumed run sees the same batches an uninterrupted one would."""

    def __init__(
        self,
        data: ImageSet | FeatureSet,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        device: torch.device | str = "cpu",
        augment: Callable[[torch.Tensor, torch.Generator], torch.Tensor] | None = None,
    ) -> None:
        self.data, self.batch_size, self.shuffle, self.seed = data, batch_size, shuffle, seed
        self.augment = augment
        self.device = torch.device(device)
        self.images = data.images.to(self.device)
        self.labels = data.labels.to(self.device)
        self._shuffled: torch.Tensor | None = None
        self.shard = ONE  # set by the Trainer when several processes train together

    def __len__(self) -> int:
        return -(-len(self.labels) // self.batch_size)

    @property
    def samples(self) -> int:
        return len(self.labels)

    def first(self, n: int) -> "TensorLoader":
        """A loader over the first `n` samples in order, batched and viewed as this one's: a sample to time."""
        head = copy.copy(self)  # shares this loader's tensors (views), no second copy of the data on the device
        head.images, head.labels, head.shuffle, head._shuffled = self.images[:n], self.labels[:n], False, None
        head.shard = ONE
        return head

    def epoch(self, epoch: int = 0) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.labels)
        g = epoch_generator(self.seed, epoch)
        order = torch.randperm(n, generator=g) if self.shuffle else None
        spans = [(s, min(s + self.batch_size, n)) for s in range(0, n, self.batch_size)]
        if self.shard.size > 1:  # this process's part of each global batch, from the permutation all of them draw
            parts = self.shard.steps(order if order is not None else torch.arange(n), self.batch_size)
            order = torch.cat(parts)
            ends = list(itertools.accumulate(len(p) for p in parts))
            spans = list(zip([0, *ends[:-1]], ends))
            if self.shard.rank:  # its own random augmentations, not rank 0's
                g = epoch_generator(self.seed + 1_000_003 * self.shard.rank, epoch)
        images, labels = self.images, self.labels
        if order is not None:  # one permuted copy per epoch, so every batch is a free slice, not a gather
            order = order.to(self.device)
            if self._shuffled is None or len(self._shuffled) != len(order):
                self._shuffled = images.new_empty((len(order), *images.shape[1:]))
            # index_select into a buffer reused across epochs: ~2.5x faster than images[order], and no fresh
            # pages to fault in every epoch (batches are views of it, valid until the next epoch starts)
            images, labels = torch.index_select(images, 0, order, out=self._shuffled), labels.index_select(0, order)
        indexed = getattr(self.augment, "indexed", False)  # an augment that needs each sample's identity
        for lo, hi in spans:
            x, y = images[lo:hi], labels[lo:hi]
            if indexed:
                index = order[lo:hi] if order is not None else torch.arange(lo, hi)
                x = self.augment(x, g, index=index, epoch=epoch)
            elif self.augment is not None:
                x = self.augment(x, g)
            yield x, y

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        return self.epoch(0)
