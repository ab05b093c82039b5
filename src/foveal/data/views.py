"""From stored images to what a model card asks for, a whole batch at a time.

A card with a resize size (transfer learning) has one preprocessing from file to tensor, `to_input`: the shorter
side resized to `resize_size` with the card's interpolation, then the centre `input_size` cropped (torchvision's and
timm's eval transform). Photos are kept in memory as `PhotoStore` makes them, so that `to_input` of a stored
photo equals `to_input` of the file itself: `val` and `predict` see the same pixels. From the stored photos:
- `EvalView`: `to_input`, per batch.
- `TrainView`: a random resized crop per image (one `torchvision.ops.roi_align` call for the batch), a random
  horizontal flip, and TrivialAugment or RandAugment from `torchvision.transforms.v2`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torchvision.transforms.v2 as T
import torchvision.transforms.v2.functional as TF
from torchvision.ops import roi_align
from torchvision.transforms import InterpolationMode

from foveal.data.images import resize
from foveal.models.card import ModelCard


def interpolation(name: str) -> InterpolationMode:
    return InterpolationMode(name) if name in {m.value for m in InterpolationMode} else InterpolationMode.BILINEAR


def resize_crop(images: torch.Tensor, side: int, crop: tuple[int, int], method: str) -> torch.Tensor:
    """uint8 (..., C, H, W): the shorter side resized to `side` (antialiased, `method` interpolation; the aspect
    kept), then the centre `crop` (height, width) cut out."""
    if min(images.shape[-2:]) != side:
        images = TF.resize(images, [side], interpolation=interpolation(method), antialias=True)
    return TF.center_crop(images, list(crop)) if tuple(images.shape[-2:]) != tuple(crop) else images


def to_input(images: torch.Tensor, card: ModelCard) -> torch.Tensor:
    """uint8 (..., C, H, W) -> the card's input size: resize + centre crop when the card has a resize size, else a
    plain resize (a no-op at the right size)."""
    if card.resize_size is None:
        return resize(images, card.input_size)
    return resize_crop(images, card.resize_size, card.input_size, card.interpolation)


@dataclass(frozen=True)
class PhotoStore:
    """How a data set's photos of mixed sizes are kept in memory for a card with resize size `side`, input `crop` and
    interpolation `method`: the shorter side resized to `side`, and the square of that side whose centre `crop` is
    the centre crop of the whole resized photo (torchvision's rounding of a centre crop's offset). So `to_input` of
    a stored photo equals `to_input` of its file."""

    side: int
    crop: tuple[int, int]
    method: str

    @classmethod
    def of(cls, card: ModelCard) -> "PhotoStore":
        return cls(int(card.resize_size), tuple(card.input_size), card.interpolation)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if min(images.shape[-2:]) != self.side:
            images = TF.resize(images, [self.side], interpolation=interpolation(self.method), antialias=True)
        h, w = images.shape[-2:]
        top = _centre_offset(h, self.crop[0]) - _centre_offset(self.side, self.crop[0])
        left = _centre_offset(w, self.crop[1]) - _centre_offset(self.side, self.crop[1])
        return images[..., top : top + self.side, left : left + self.side]


def _centre_offset(length: int, crop: int) -> int:
    return int(round((length - crop) / 2.0))  # as torchvision's center_crop


class EvalView:
    """The deterministic eval transform, as a TensorLoader augment."""

    def __init__(self, card: ModelCard) -> None:
        self.card = card

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        return to_input(x, self.card)


class TrainView:
    """Random resized crop (area `scale`, aspect 3/4..4/3) to `side_scale` times the input size, flip, then an
    augmentation policy. A network that ends in global pooling trains on smaller crops than it is evaluated on at
    little or no cost in accuracy (Touvron et al. 2019, "FixRes": random crops enlarge objects, a larger evaluation
    view matches them; torchvision's recipes train at 176 px for 224), and each step costs the square of the scale."""

    def __init__(self, card: ModelCard, policy: str = "trivial", scale: tuple[float, float] = (0.25, 1.0),
                 side_scale: float = 1.0) -> None:
        self.size, self.scale = tuple(max(1, int(round(v * side_scale))) for v in card.input_size), scale
        self.policy = {"trivial": T.TrivialAugmentWide(), "rand": T.RandAugment(), "none": None}[policy]

    def __call__(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        boxes, flip = random_crops(x.shape[0], x.shape[-2], x.shape[-1], self.scale, g)
        out = crop_resize(x, boxes, self.size)
        out = torch.where(flip.view(-1, 1, 1, 1).to(out.device), out.flip(-1), out)
        if self.policy is not None:  # on PIL images: Pillow's kernels are several times faster than the tensor ones
            out = torch.stack([TF.pil_to_tensor(self.policy(TF.to_pil_image(img))) for img in out.cpu()]).to(out.device)
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
