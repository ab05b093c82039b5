"""Models by name: the seed models, every torchvision classifier and every timm model, the detectors and the segmenters."""

from foveal.models import detection as _detection  # noqa: F401  (registers the detectors)
from foveal.models import fastnet as _fastnet  # noqa: F401  (registers the speed-recipe network)
from foveal.models import instance as _instance  # noqa: F401  (registers the instance segmenters)
from foveal.models import seed as _seed  # noqa: F401  (registers the seed models)
from foveal.models import segmentation as _segmentation  # noqa: F401  (registers the segmenters)
from foveal.models.registry import count_parameters, create_model, get_model_spec, list_models, register_model

__all__ = ["count_parameters", "create_model", "get_model_spec", "list_models", "register_model"]
