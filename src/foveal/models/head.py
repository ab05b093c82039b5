"""A classifier's head (its last Linear layer) and its backbone (everything before it), for any torchvision, timm
or foveal classifier: replace the head for a new class count, freeze the backbone, group it for gradual unfreezing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch.nn as nn

from foveal.errors import FovealError


def find_head(model: nn.Module) -> tuple[nn.Module, str, nn.Linear]:
    """(parent, attribute, layer) of the model's classifier: its last module, which must be an nn.Linear.

    That rule covers ResNet (`fc`), MobileNet/EfficientNet/ConvNeXt (`classifier[-1]`), ViT (`heads.head`),
    timm models (`classifier` / `head.fc`) and foveal's seed models; a model whose last layer is a convolution
    (SqueezeNet) has no separable head."""
    named = [(n, m) for n, m in model.named_modules() if n and not isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict))]
    leaves = [(n, m) for n, m in named if not any(True for _ in m.children())]
    weighted = [(n, m) for n, m in leaves if any(True for _ in m.parameters(recurse=False))]
    if not weighted or not isinstance(weighted[-1][1], nn.Linear):
        last = type(weighted[-1][1]).__name__ if weighted else "nothing"
        raise FovealError(f"{type(model).__name__} has no separable head: its last layer with weights is {last}, "
                          f"expected a Linear classifier")
    path, layer = weighted[-1]
    parent_path, _, attr = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    return parent, attr, layer


def head(model: nn.Module) -> nn.Linear:
    return find_head(model)[2]


def replace_head(model: nn.Module, num_classes: int) -> nn.Linear:
    """Put a freshly initialised Linear(in_features, num_classes) where the head was; returns it."""
    parent, attr, old = find_head(model)
    new = nn.Linear(old.in_features, num_classes, bias=old.bias is not None)
    setattr(parent, attr, new)
    return new


@contextmanager
def without_head(model: nn.Module) -> Iterator[nn.Module]:
    """The model with its head swapped for nn.Identity, so that it returns the head's input features."""
    parent, attr, layer = find_head(model)
    setattr(parent, attr, nn.Identity())
    try:
        yield model
    finally:
        setattr(parent, attr, layer)


def backbone_parameters(model: nn.Module) -> list[nn.Parameter]:
    head_ids = {id(p) for p in head(model).parameters()}
    return [p for p in model.parameters() if id(p) not in head_ids]


def backbone_groups(model: nn.Module, min_groups: int = 4) -> list[list[nn.Parameter]]:
    """The backbone's parameters in layer groups, input side first, for gradual unfreezing: the top-level
    children, with the biggest group split into its own children until there are at least `min_groups`."""
    head_ids = {id(p) for p in head(model).parameters()}

    def params(m: nn.Module) -> list[nn.Parameter]:
        return [p for p in m.parameters() if id(p) not in head_ids]

    def own(m: nn.Module) -> list[nn.Parameter]:  # held by the module itself (a ViT's class token), not a child
        return [p for p in m.parameters(recurse=False) if id(p) not in head_ids]

    groups = [c for c in model.children() if params(c)]
    while len(groups) < min_groups:
        biggest = max(range(len(groups)), key=lambda i: sum(p.numel() for p in params(groups[i])))
        parts = [c for c in groups[biggest].children() if params(c)]
        if len(parts) < 2 or own(groups[biggest]):
            break
        groups[biggest : biggest + 1] = parts
    out = [own(model)] + [params(g) for g in groups]
    return [g for g in out if g]
