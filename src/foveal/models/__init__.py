"""Models by name: the seed models, every torchvision classifier and every timm model, the detectors and the segmenters.

The registry's functions are imported when first used, so that `foveal.models.catalog` (names, tasks and parameter
counts) reads without torch."""

__all__ = ["count_parameters", "create_model", "get_model_spec", "list_models", "register_model"]


def __getattr__(name: str):
    if name in __all__:
        from foveal.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'foveal.models' has no attribute {name!r}")
