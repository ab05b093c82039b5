"""Model registry: names to builders. Duplicate names are refused; torchvision and timm names resolve lazily.

Importing this module imports no torch: foveal's own models register when the registry is first asked for one
(BUILTIN), and a name that is nowhere in the catalog (models/catalog.py) is refused without building anything."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING

from foveal.errors import FovealError, unknown_name
from foveal.models import catalog
from foveal.models.spec import ModelSpec

if TYPE_CHECKING:
    import torch.nn as nn

# the modules whose import registers foveal's own models, by path: imported when the registry is first consulted
BUILTIN = ("foveal.models.seed", "foveal.models.fastnet", "foveal.models.detection", "foveal.models.instance",
           "foveal.models.segmentation")

_REGISTRY: dict[str, ModelSpec] = {}
_builtin_loaded = False


def register_model(name: str, *, task: str = "classify", source: str = "foveal", description: str = "",
                   normalize: str = "dataset"):
    """Decorator registering a builder under `name`; a second registration of the same name (one of foveal's own
    included) is an error."""

    def wrap(build: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        builtin = build.__module__ in BUILTIN
        if name in _REGISTRY or (not builtin and name in catalog.REGISTERED):
            raise ValueError(f"model name {name!r} is already registered")
        _REGISTRY[name] = ModelSpec(name, build, task, source, description or (build.__doc__ or "").strip(), normalize)
        return build

    return wrap


def _registry() -> dict[str, ModelSpec]:
    """Every registered model, foveal's own imported on first use."""
    global _builtin_loaded
    if not _builtin_loaded:
        for module in BUILTIN:
            import_module(module)
        _builtin_loaded = True
    return _REGISTRY


def get_model_spec(name: str) -> ModelSpec:
    if name not in _REGISTRY and catalog.is_current() and not catalog.knows(name):
        raise unknown_name("model", name, list(_REGISTRY) + catalog.names())
    from foveal.models import external

    spec = _registry().get(name) or external.spec(name)
    if spec is None:
        raise unknown_name("model", name, list(_registry()) + external.names())
    return spec


def create_model(name: str, *, num_classes: int, in_channels: int = 3, img_size: tuple[int, int] = (224, 224), **kwargs) -> nn.Module:
    """Build a model by name, with its input channels and class count adapted to the data."""
    if num_classes < 1:
        raise FovealError(f"num_classes must be at least 1; got {num_classes}")
    spec = get_model_spec(name)
    return spec.build(num_classes=num_classes, in_channels=in_channels, img_size=tuple(img_size), **kwargs)


def list_models(source: str | None = None, *, include_external: bool = True) -> list[ModelSpec]:
    specs = list(_registry().values())
    if include_external:
        from foveal.models import external

        specs += [s for s in (external.spec(n) for n in external.names()) if s is not None]
    return [s for s in specs if source is None or s.source == source]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
