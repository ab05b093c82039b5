"""From stored images to what a model card asks for, a whole batch at a time.

Transfer learning keeps photos in memory at their stored size (at most the card's resize size) and makes the
model's input per batch:
- `EvalView`: resize the shorter side to the card's `resize_size`, centre-crop `input_size` (torchvision's and
  timm's eval transform); the same function prepares a single photo for prediction.
- `TrainView`: a random resized crop per image (one `torchvision.ops.roi_align` call for the batch), a random
  horizontal flip, and TrivialAugment or RandAugment from `torchvision.transforms.v2`.
"""

from __future__ import annotations

import math

import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from torchvision.ops import roi_align
from torchvision.transforms import InterpolationMode

from foveal.data.images import resize
from foveal.models.card import ModelCard


def interpolation(name: str) -> InterpolationMode:
    return InterpolationMode(name) if name in {m.value for m in InterpolationMode} else InterpolationMode.BILINEAR


def to_input(images: torch.Tensor, card: ModelCard) -> torch.Tensor:
    """uint8 (..., C, H, W) -> the card's input size: resize + centre crop when the card has a resize size, else a
    plain resize (a no-op at the right size)."""
    if card.resize_size is None:
        return resize(images, card.input_size)
    if tuple(images.shape[-2:]) != card.input_size or min(images.shape[-2:]) != card.resize_size:
        images = TF.resize(images, [card.resize_size], interpolation=interpolation(card.interpolation), antialias=True)
        images = TF.center_crop(images, list(card.input_size))
    return images


class EvalView:
    """The deterministic eval transform, as a TensorLoader augment."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        return to_input(x, self.card)


class TrainView:
    """Random resized crop (area `scale`, aspect 3/4..4/3) to the input size, flip, then an augmentation policy."""

    def __init__(self, card: ModelCard, policy: str = "trivial", scale: tuple[float, float] = (0.25, 1.0)) -> None:
        self.size, self.scale = card.input_size, scale
        self.policy = {"trivial": T.TrivialAugmentWide(), "rand": T.RandAugment(), "none": None}[policy]

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        boxes, flip = random_crops(x.shape[0], x.shape[-2], x.shape[-1], self.scale, g)
        out = crop_resize(x, boxes, self.size)
        out = torch.where(flip.view(-1, 1, 1, 1).to(out.device), out.flip(-1), out)
        if self.policy is not None:
            out = torch.stack([self.policy(img) for img in out])
        return out


def random_crops(n: int, h: int, w: int, scale: tuple[float, float], g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 4) crop boxes x0, y0, x1, y1 in pixels, area a fraction in `scale` of the image, aspect 3/4..4/3; and
    which of them to flip (about half)."""
    area = torch.empty(n).uniform_(*scale, generator=g) * h * w
    ratio = torch.empty(n).uniform_(math.log(3 / 4), math.log(4 / 3), generator=g).exp()
    cw = (area * ratio).sqrt().clamp(1, w)
    ch = (area / ratio).sqrt().clamp(1, h)
    x0 = torch.rand(n, generator=g) * (w - cw)
    y0 = torch.rand(n, generator=g) * (h - ch)
    flip = torch.rand(n, generator=g) < 0.5
    return torch.stack([x0, y0, x0 + cw, y0 + ch], 1), flip


def crop_resize(x: torch.Tensor, boxes: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Crop box i of image i and resample it bilinearly to `size`, the whole batch in one roi_align call; uint8.
    Each output pixel averages ceil(box size / output size) samples per axis, so shrinking does not alias."""
    index = torch.arange(len(boxes), dtype=torch.float32).view(-1, 1)
    rois = torch.cat([index, boxes.float()], 1).to(x.device)
    out = roi_align(x.float(), rois, list(size), spatial_scale=1.0, sampling_ratio=0, aligned=True)
    return out.round_().clamp_(0, 255).to(torch.uint8)
