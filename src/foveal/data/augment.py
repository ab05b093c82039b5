"""Batched tensor preprocessing and augmentation: whole batches at once, no per-sample Python."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


class Normalize:
    """uint8 (N, C, H, W) -> float32 normalised with the card's mean/std, optionally channels_last."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], channels_last: bool = False) -> None:
        self.scale = 1 / (255 * torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        self.shift = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1) * 255
        self.channels_last = channels_last
        self.unit = all(m == 0 for m in mean) and all(s == 1 for s in std)  # ToTensor's [0, 1]: one division

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.unit:
            out = x.float().div_(255)  # bit for bit what ToTensor gives
        else:
            out = (x.float() - self.shift.to(x.device)) * self.scale.to(x.device)
        return out.contiguous(memory_format=torch.channels_last) if self.channels_last else out


def shift_pixels(side: int, translate: int | None = None) -> int:
    """The largest random shift of the train-time augmentation (and the test-time views' shift): `translate` when
    given, else a sixteenth of the image side, at least 1 pixel (2 at 32x32, as the CIFAR-10 speedruns)."""
    return translate if translate is not None else max(1, side // 16)


class FlipTranslate:
    """Random horizontal flip of half the batch and a random shift of up to `pad` pixels (reflect padding).

    `alternate`: airbench's alternating flip instead of a coin per image and epoch. Each image gets one fixed coin
    (a hash of its index in the data set and `salt`) and is mirrored when its coin differs from the epoch's parity, so
    every two consecutive epochs show each image once as it is and once mirrored; with a fresh coin every epoch a
    quarter of the images would be seen only one way round over two epochs. It needs each batch's indices:
    TensorLoader passes them (and the epoch) to an augment whose `indexed` is true.

    `cutout`: after the shift, a `cutout` x `cutout` square at a random centre of each image (clipped at the border)
    is set to `fill` (the data's mean pixel), as in DeVries & Taylor 2017."""

    def __init__(self, flip: bool = True, pad: int = 2, alternate: bool = False, salt: int = 0, cutout: int = 0,
                 fill: Sequence[float] = (0.0,)) -> None:
        self.flip, self.pad, self.alternate, self.salt = flip, pad, alternate, salt
        self.cutout, self.fill = cutout, tuple(fill)

    @property
    def indexed(self) -> bool:
        return self.alternate

    def __call__(self, x: torch.Tensor, g: torch.Generator, index: torch.Tensor | None = None,
                 epoch: int = 0) -> torch.Tensor:
        n = x.shape[0]
        if self.flip:
            if self.alternate and index is not None:
                mask = (image_coins(index, self.salt) != epoch % 2).to(x.device)
            else:
                mask = (torch.rand(n, generator=g) < 0.5).to(x.device)
            x = torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)
        if self.pad > 0:
            x = translate(x, self.pad, g)
        if self.cutout > 0:
            x = cut_out(x, self.cutout, g, self.fill)
        return x


def cut_out(x: torch.Tensor, size: int, g: torch.Generator, fill: Sequence[float]) -> torch.Tensor:
    """Each image with a `size` x `size` square around its own random centre set to `fill` (one value per channel, or
    one for all); one mask for the batch."""
    n, c, h, w = x.shape
    top = torch.randint(0, h, (n, 1), generator=g) - size // 2
    left = torch.randint(0, w, (n, 1), generator=g) - size // 2
    rows, cols = torch.arange(h).view(1, h), torch.arange(w).view(1, w)
    inside = ((rows >= top) & (rows < top + size)).view(n, 1, h, 1) & ((cols >= left) & (cols < left + size)).view(n, 1, 1, w)
    value = torch.tensor(fill, dtype=torch.float32).round() if x.dtype == torch.uint8 else torch.tensor(fill)
    return torch.where(inside.to(x.device), value.to(x.dtype).to(x.device).view(1, -1, 1, 1), x)


def image_coins(index: torch.Tensor, salt: int = 0) -> torch.Tensor:
    """A fixed pseudo-random bit (0 or 1, int64) per sample index and salt: two rounds of a multiplicative hash,
    each product kept below 2**63 so that int64 does not overflow."""
    h = (index.long().cpu() + salt * 1_000_003) % 2**31
    for mult in (2654435761, 2246822519):
        h = (h * mult) % 2**31
        h = h ^ (h >> 15)
    return (h >> 7) & 1


def translate(x: torch.Tensor, pad: int, g: torch.Generator) -> torch.Tensor:
    """Shift each image by its own random (dy, dx) in [-pad, pad]; one gather for the batch."""
    n, c, h, w = x.shape
    padded = F.pad(x.float() if x.dtype == torch.uint8 else x, (pad, pad, pad, pad), mode="reflect").to(x.dtype)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=g).to(x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=g).to(x.device)
    rows = (dy.view(n, 1) + torch.arange(h, device=x.device)).view(n, 1, h, 1).expand(n, c, h, w + 2 * pad)
    cropped = padded.gather(2, rows)
    cols = (dx.view(n, 1) + torch.arange(w, device=x.device)).view(n, 1, 1, w).expand(n, c, h, w)
    return cropped.gather(3, cols)
