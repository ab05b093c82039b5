"""The seed models of the classic tutorial: linear, mlp, tinyvgg, lenet. Their inputs are standardised with the data's
mean and std by default; the tutorial's ToTensor scaling is `--normalize unit`."""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.models.registry import register_model


def _flat_size(in_channels: int, img_size: tuple[int, int]) -> int:
    return in_channels * img_size[0] * img_size[1]


@register_model("linear", description="Flatten, Linear to `hidden` units, Linear to the classes (no activation)")
def linear(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None) -> nn.Module:
    hidden = hidden or 10
    return nn.Sequential(nn.Flatten(), nn.Linear(_flat_size(in_channels, img_size), hidden), nn.Linear(hidden, num_classes))


@register_model("mlp", description="Flatten, Linear + ReLU, Linear + ReLU (a ReLU after each Linear, as in the tutorial)")
def mlp(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None) -> nn.Module:
    hidden = hidden or 10
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(_flat_size(in_channels, img_size), hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
        nn.ReLU(),
    )


def _vgg_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)
    )


class FeaturesHead(nn.Module):
    """The timm-like surface of the seed CNNs: `features` then `head`, each callable on its own."""

    features: nn.Module
    head: nn.Module

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))


class TinyVGG(FeaturesHead):
    """Two blocks of (3x3 conv + ReLU) x2 + 2x2 max-pool, then a linear head (the CNN Explainer model)."""

    def __init__(self, *, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(_vgg_block(in_channels, hidden), _vgg_block(hidden, hidden))
        h, w = img_size[0] // 4, img_size[1] // 4
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(hidden * h * w, num_classes))


@register_model("tinyvgg", description="TinyVGG: two blocks of two 3x3 conv + ReLU + max-pool, linear head")
def tinyvgg(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None) -> nn.Module:
    return TinyVGG(num_classes=num_classes, in_channels=in_channels, img_size=img_size, hidden=hidden or 10)


class LeNet(FeaturesHead):
    """LeNet-style: conv 6 then 12 filters 5x5 (padding 2), each with ReLU and 2x2 max-pool, then fc 120, 60."""

    def __init__(self, *, num_classes: int, in_channels: int, img_size: tuple[int, int]) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 12, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        )
        h, w = img_size[0] // 4, img_size[1] // 4
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(12 * h * w, 120), nn.ReLU(), nn.Linear(120, 60), nn.ReLU(), nn.Linear(60, num_classes)
        )


@register_model("lenet", description="LeNet: conv 6 and 12 filters 5x5 with max-pool, fc 120 and 60")
def lenet(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None) -> nn.Module:
    return LeNet(num_classes=num_classes, in_channels=in_channels, img_size=img_size)
