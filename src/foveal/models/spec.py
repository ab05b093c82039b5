"""What the registry knows of a model: its name, builder, task, source and default input scaling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch.nn as nn


@dataclass(frozen=True)
class ModelSpec:
    name: str
    build: Callable[..., nn.Module]  # build(num_classes=, in_channels=, img_size=, **kwargs)
    task: str = "classify"
    source: str = "foveal"  # foveal | torchvision | timm
    description: str = ""
    normalize: str = "dataset"  # default input scaling: "unit" ([0, 1], as ToTensor) or "dataset" (its mean/std)
