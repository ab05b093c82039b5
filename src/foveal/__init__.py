"""foveal: a PyTorch computer-vision toolkit for classification, detection and segmentation."""

from foveal.api import Model
from foveal.errors import FovealError
from foveal.types import Classification, Detections, Segmentation

__version__ = "0.1.0"


def list_models(source: str | None = None) -> list[str]:
    from foveal.models import list_models as _list

    return [s.name for s in _list(source)]


def list_datasets() -> list[str]:
    from foveal.data import list_datasets as _list

    return [d.name for d in _list()]


__all__ = ["Classification", "Detections", "FovealError", "Model", "Segmentation", "list_datasets", "list_models"]
