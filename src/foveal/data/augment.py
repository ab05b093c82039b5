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


class FlipTranslate:
    """Random horizontal flip of half the batch and a random shift of up to `pad` pixels (reflect padding)."""

    def __init__(self, flip: bool = True, pad: int = 2) -> None:
        self.flip, self.pad = flip, pad

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        n = x.shape[0]
        if self.flip:
            mask = (torch.rand(n, generator=g) < 0.5).to(x.device)
            x = torch.where(mask.view(-1, 1, 1, 1), x.flip(3), x)
        if self.pad > 0:
            x = translate(x, self.pad, g)
        return x


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
