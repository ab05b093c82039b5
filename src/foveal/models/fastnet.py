"""`fastnet`: a small VGG-like network for accuracy per second on a CPU, after the CIFAR-10 speedruns (Keller Jordan's
airbench): a frozen patch-whitening first layer, three blocks of (3x3 conv, 2x2 max-pool, batch norm, GELU, 3x3 conv,
batch norm, GELU), a global max-pool and a linear head scaled down. `fastnet_wide` is the same network with airbench94's
widths (64, 256, 256); `fastnet_deep` has those widths and airbench96's deeper blocks (a third convolution, and the
second and third added back to the first's output as a residual branch).

The whitening layer is a 2x2 convolution whose filters are the eigenvectors of the training images' 2x2 patches
(each scaled by its eigenvalue's inverse square root, and its negation beside it): `fit_whitening(images)` sets them
before training; they are part of the weights, so a checkpoint carries them.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.models.registry import register_model
from foveal.models.seed import FeaturesHead

DEFAULT_WIDTHS = (64, 128, 256)
WIDE_WIDTHS = (64, 256, 256)  # airbench94's: 1.8x the multiply-adds of the default, more accuracy per epoch
WHITEN_KERNEL = 2
HEAD_SCALE = 1 / 9  # airbench's: logits start small, so label smoothing and a high lr do not saturate them


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, padding=1, bias=False)


def _down(cin: int, cout: int) -> list[nn.Module]:
    """A block's first half: 3x3 conv, 2x2 max-pool, batch norm, GELU."""
    return [_conv(cin, cout), nn.MaxPool2d(2, ceil_mode=True), _bn(cout), nn.GELU()]


class ConvGroup(nn.Sequential):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__(*_down(cin, cout), _conv(cout, cout), _bn(cout), nn.GELU())


class ResidualGroup(nn.Module):
    """airbench96's block: ConvGroup's first half, then (conv, batch norm, GELU, conv, batch norm) added back to it,
    then GELU. At (64, 256, 256) the network costs 1.39x the multiply-adds of ConvGroup's."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.down = nn.Sequential(*_down(cin, cout))
        self.branch = nn.Sequential(_conv(cout, cout), _bn(cout), nn.GELU(), _conv(cout, cout), _bn(cout))
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.down(x)
        return self.act(x + self.branch(x))


def _bn(c: int) -> nn.BatchNorm2d:
    bn = nn.BatchNorm2d(c, momentum=0.4, eps=1e-12)
    bn.weight.requires_grad_(False)  # airbench: the scale stays at 1, only the shift learns
    return bn


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class FastNet(FeaturesHead):
    def __init__(self, *, num_classes: int, in_channels: int, img_size: tuple[int, int],
                 widths: tuple[int, ...] = DEFAULT_WIDTHS, stem_stride: int = 1, residual: bool = False) -> None:
        super().__init__()
        k = WHITEN_KERNEL
        self.whiten = nn.Conv2d(in_channels, 2 * in_channels * k * k, k, stride=stem_stride, padding=0, bias=True)
        self.whiten.weight.requires_grad_(False)
        chans = [self.whiten.out_channels, *widths]
        group = ResidualGroup if residual else ConvGroup
        self.features = nn.Sequential(self.whiten, nn.GELU(), *(group(a, b) for a, b in zip(chans, chans[1:])),
                                      nn.AdaptiveMaxPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(widths[-1], num_classes, bias=False), Scale(HEAD_SCALE))
        for m in self.modules():  # half of each conv's filters start as the identity (airbench's dirac init)
            if isinstance(m, nn.Conv2d) and m is not self.whiten:
                w = m.weight.data
                nn.init.dirac_(w[: w.shape[1]])

    @torch.no_grad()
    def fit_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer from normalised training images (N, C, H, W): the eigenvectors of their 2x2 patches'
        covariance, scaled to unit variance, with their negations (GELU passes both signs of each direction)."""
        k = WHITEN_KERNEL
        x = images.float()
        patches = x.unfold(2, k, 1).unfold(3, k, 1).transpose(1, 3).reshape(-1, x.shape[1] * k * k)
        patches = patches - patches.mean(0)
        cov = patches.T @ patches / len(patches)
        values, vectors = torch.linalg.eigh(cov)
        filters = (vectors.T / (values.clamp(min=0) + eps).sqrt()[:, None]).flip(0)  # strongest direction first
        filters = filters.reshape(-1, x.shape[1], k, k)
        self.whiten.weight.copy_(torch.cat([filters, -filters]))
        self.whiten.bias.zero_()


@register_model("fastnet", normalize="dataset",
                description="airbench-style small VGG: patch-whitening stem, three conv-pool-BN-GELU blocks (CPU speed recipes)")
def fastnet(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None,
            widths: tuple[int, ...] | list[int] | None = None, stem_stride: int = 1) -> nn.Module:
    """`hidden` sets the widths to (hidden, 2 hidden, 4 hidden); `stem_stride` 2 whitens non-overlapping patches,
    halving the resolution at the first layer (4x fewer positions for every later layer)."""
    if widths is None:
        widths = (hidden, 2 * hidden, 4 * hidden) if hidden else DEFAULT_WIDTHS
    return FastNet(num_classes=num_classes, in_channels=in_channels, img_size=img_size, widths=tuple(widths),
                   stem_stride=stem_stride)


def _wide_widths(hidden: int | None) -> tuple[int, int, int]:
    """(hidden, 4 hidden, 4 hidden), or airbench94's (64, 256, 256) when `hidden` is not given."""
    return (hidden, 4 * hidden, 4 * hidden) if hidden else WIDE_WIDTHS


@register_model("fastnet_wide", normalize="dataset",
                description="fastnet with airbench94's widths (64, 256, 256): 1.8x the compute, more accuracy per epoch")
def fastnet_wide(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None,
                 stem_stride: int = 1) -> nn.Module:
    """`hidden` sets the widths to (hidden, 4 hidden, 4 hidden)."""
    return fastnet(num_classes=num_classes, in_channels=in_channels, img_size=img_size, stem_stride=stem_stride,
                   widths=_wide_widths(hidden))


@register_model("fastnet_deep", normalize="dataset",
                description="fastnet_wide with airbench96's residual blocks (three convs each): 1.39x its compute")
def fastnet_deep(*, num_classes: int, in_channels: int, img_size: tuple[int, int], hidden: int | None = None,
                 stem_stride: int = 1) -> nn.Module:
    """`hidden` sets the widths to (hidden, 4 hidden, 4 hidden)."""
    return FastNet(num_classes=num_classes, in_channels=in_channels, img_size=img_size, stem_stride=stem_stride,
                   widths=_wide_widths(hidden), residual=True)
