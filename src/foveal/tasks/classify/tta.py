"""Test-time augmentation: class probabilities averaged over flipped and shifted-crop views of each batch.

The views of an (N, C, H, W) batch at the model's input size: the batch itself, its mirror image, and two crops of
the reflect-padded batch shifted by p = max(1, H // 16) pixels diagonally (one of them mirrored), as the CIFAR-10
speedruns do it: four forward passes per batch. Only for a model trained with such augmentation (its card says so):
one that never saw a mirrored or shifted image is not asked about one, and TTA leaves it as it is.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from foveal.data.augment import shift_pixels


def tta_views(x: torch.Tensor, augmented: bool = True, flip: bool = True) -> list[torch.Tensor]:
    """The views of a batch; for a model trained without mirror images (`flip` False), the batch and its two
    diagonally shifted crops."""
    if not augmented:
        return [x]
    n, c, h, w = x.shape
    p = shift_pixels(h)
    padded = F.pad(x.float(), (p, p, p, p), mode="reflect").to(x.dtype)
    shifted = padded[..., 2 * p : 2 * p + h, 2 * p : 2 * p + w]
    if not flip:
        return [x, padded[..., :h, :w], shifted]
    return [x, x.flip(-1), padded[..., :h, :w], shifted.flip(-1)]


def tta_probabilities(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, augmented: bool = True,
                      flip: bool = True) -> torch.Tensor:
    """Mean softmax of `logits_fn` over the views of `x` (float32)."""
    probs = [F.softmax(logits_fn(v.contiguous()).float(), 1) for v in tta_views(x, augmented, flip)]
    return torch.stack(probs).mean(0)
