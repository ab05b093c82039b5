"""Model registry: names to builders. Duplicate names are refused; torchvision and timm names resolve lazily."""

from __future__ import annotations

from collections.abc import Callable

import torch.nn as nn

from foveal.errors import FovealError, unknown_name
from foveal.models import external
from foveal.models.spec import ModelSpec


_REGISTRY: dict[str, ModelSpec] = {}


def register_model(name: str, *, task: str = "classify", source: str = "foveal", description: str = "",
                   normalize: str = "dataset"):
    """Decorator registering a builder under `name`; a second registration of the same name is an error."""

    def wrap(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(name, build, task, source, description or (build.__doc__ or "").strip(), normalize)
        return build

    return wrap


def get_model_spec(name: str) -> ModelSpec:
    spec = _REGISTRY.get(name) or external.spec(name)
    if spec is None:
        raise unknown_name("model", name, list(_REGISTRY) + external.names())
    return spec


def create_model(name: str, *, num_classes: int, in_channels: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs) -> nn.Module:
    """Build a model by name, with its input channels and class count adapted to the data."""
    if num_classes < 1:
        raise FovealError(f"num_classes must be at least 1; got {num_classes}")
    spec = get_model_spec(name)
    return spec.build(num_classes=num_classes, in_channels=in_channels, img_size=tuple(img_size), **kwargs)


def list_models(source: str | None = None, *, include_external: bool = True) -> list[ModelSpec]:
    specs = list(_REGISTRY.values())
    if include_external:
        specs += [s for s in (external.spec(n) for n in external.names()) if s is not None]
    return [s for s in specs if source is None or s.source == source]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
