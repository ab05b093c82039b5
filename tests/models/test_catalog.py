"""The catalog (models/catalog.py) agrees with the real models, so `foveal models` and unknown names can be answered
without building them."""

import pytest

from foveal.errors import FovealError
from foveal.models import catalog
from foveal.models.listing import measure
from foveal.models.registry import get_model_spec


def test_the_catalog_was_made_from_the_installed_torchvision_and_timm():
    assert catalog.is_current()


def test_the_catalog_agrees_with_the_real_models_tasks_and_parameter_counts():
    real = measure()
    assert catalog.VERSIONS == real["VERSIONS"]
    assert catalog.REGISTERED == real["REGISTERED"], "run `python -m foveal.models.listing` to remake the catalog"
    assert catalog.TORCHVISION == real["TORCHVISION"]
    assert catalog.TIMM == real["TIMM"]
    for name, (task, *_rest) in catalog.REGISTERED.items():
        assert get_model_spec(name).task == task


@pytest.mark.parametrize("name", ["lenet", "fcos", "maskrcnn", "resnet18", "efficientnet_lite0", "timm/resnet10t"])
def test_known_names_are_in_the_catalog(name):
    assert catalog.knows(name) and get_model_spec(name) is not None


def test_an_unknown_name_is_refused_with_the_close_ones():
    assert not catalog.knows("lenett")
    with pytest.raises(FovealError, match="unknown model 'lenett'; did you mean lenet"):
        get_model_spec("lenett")
