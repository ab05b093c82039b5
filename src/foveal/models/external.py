"""torchvision and timm classifiers by name, with input channels and class count adapted to the data.

Names: a torchvision classification model (`resnet18`), a timm model as `timm/<name>`, or a bare timm
name that torchvision does not have (`efficientnet_lite0`).
"""

from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn as nn

from foveal.models.catalog import TIMM_PREFIX
from foveal.models.spec import ModelSpec

__all__ = ["TIMM_PREFIX", "adapt_first_conv", "build_timm", "build_torchvision", "names", "spec", "timm_names",
           "torchvision_names", "torchvision_num_params"]


@lru_cache(maxsize=1)
def torchvision_names() -> tuple[str, ...]:
    import torchvision

    return tuple(torchvision.models.list_models(module=torchvision.models))


@lru_cache(maxsize=1)
def timm_names() -> tuple[str, ...]:
    import timm

    return tuple(timm.list_models())


def names() -> list[str]:
    return list(torchvision_names()) + [TIMM_PREFIX + n for n in timm_names()]


def spec(name: str) -> ModelSpec | None:
    if name in torchvision_names():
        return ModelSpec(name, lambda **kw: build_torchvision(name, **kw), source="torchvision")
    bare = name[len(TIMM_PREFIX):] if name.startswith(TIMM_PREFIX) else name
    if bare in timm_names():
        return ModelSpec(TIMM_PREFIX + bare, lambda **kw: build_timm(bare, **kw), source="timm")
    return None


def build_torchvision(name: str, *, num_classes: int, in_channels: int, img_size: tuple[int, int], **kwargs) -> nn.Module:
    import torchvision

    extra = {"aux_logits": False, "init_weights": True} if name in ("googlenet", "inception_v3") else {}
    model = torchvision.models.get_model(name, weights=None, num_classes=num_classes, **extra, **kwargs)
    if in_channels != 3:
        adapt_first_conv(model, in_channels)
    return model


def build_timm(name: str, *, num_classes: int, in_channels: int, img_size: tuple[int, int], **kwargs) -> nn.Module:
    import timm

    return timm.create_model(name, pretrained=False, num_classes=num_classes, in_chans=in_channels, **kwargs)


def adapt_first_conv(model: nn.Module, in_channels: int) -> None:
    """Replace the first Conv2d with one taking `in_channels`; its weights are the mean over the old input
    channels repeated, so pretrained filters keep their response to grey images."""
    for parent in model.modules():
        for child_name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                new = nn.Conv2d(
                    in_channels, child.out_channels, child.kernel_size, child.stride, child.padding,
                    child.dilation, 1, child.bias is not None,
                )
                with torch.no_grad():
                    mean = child.weight.mean(dim=1, keepdim=True)
                    new.weight.copy_(mean.repeat(1, in_channels, 1, 1))
                    if child.bias is not None:
                        new.bias.copy_(child.bias)
                setattr(parent, child_name, new)
                return
    raise ValueError("model has no Conv2d to adapt to the input channels")


def torchvision_num_params(name: str) -> int | None:
    """Parameter count from torchvision's weight metadata (1,000 ImageNet classes), without building the model."""
    import torchvision

    try:
        weights = torchvision.models.get_model_weights(name)
    except (ValueError, KeyError):
        return None
    first = next(iter(weights), None)
    return None if first is None else int(first.meta.get("num_params", 0)) or None
