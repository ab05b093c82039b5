import pytest
import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models import count_parameters, create_model, list_models, register_model
from foveal.models.external import adapt_first_conv

SEED_MODELS = [s.name for s in list_models("foveal") if s.task == "classify"]


def test_seed_models_are_registered():
    assert {"linear", "mlp", "tinyvgg", "lenet"} <= set(SEED_MODELS)


@pytest.mark.parametrize("name", SEED_MODELS)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8)])
def test_every_registered_model_forward_shape(name, shape):
    model = create_model(name, num_classes=7, in_channels=shape[0], img_size=shape[1:])
    assert model(torch.zeros(2, *shape)).shape == (2, 7)


def test_seed_model_architectures_match_the_tutorial():
    lin = create_model("linear", num_classes=10, in_channels=1, img_size=(28, 28))
    assert [type(m) for m in lin] == [nn.Flatten, nn.Linear, nn.Linear] and lin[1].out_features == 10
    mlp = create_model("mlp", num_classes=10, in_channels=1, img_size=(28, 28))
    assert [type(m) for m in mlp] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear, nn.ReLU]
    vgg = create_model("tinyvgg", num_classes=10, in_channels=1, img_size=(28, 28))
    convs = [m for m in vgg.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == 4 and all(c.kernel_size == (3, 3) and c.out_channels == 10 for c in convs)
    assert sum(isinstance(m, nn.MaxPool2d) for m in vgg.modules()) == 2
    assert count_parameters(vgg) == 7740  # the tutorial's TinyVGG with 10 hidden units on Fashion-MNIST
    lenet = create_model("lenet", num_classes=10, in_channels=1, img_size=(28, 28))
    assert [c.out_channels for c in lenet.modules() if isinstance(c, nn.Conv2d)] == [6, 12]
    assert [l.out_features for l in lenet.modules() if isinstance(l, nn.Linear)] == [120, 60, 10]


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v3_small", "timm/efficientnet_lite0", "efficientnet_lite0"])
def test_torchvision_and_timm_adapt_channels_and_classes(name):
    model = create_model(name, num_classes=4, in_channels=1, img_size=(32, 32)).eval()
    assert model(torch.zeros(1, 1, 32, 32)).shape == (1, 4)


def test_duplicate_names_are_refused():
    with pytest.raises(ValueError, match="already registered"):
        register_model("linear")(lambda **kw: nn.Identity())


def test_unknown_name_lists_close_matches():
    with pytest.raises(FovealError) as err:
        create_model("tinyvg", num_classes=3)
    assert "did you mean" in str(err.value) and "tinyvgg" in str(err.value)


def test_adapt_first_conv_keeps_the_response_to_grey():
    conv = nn.Sequential(nn.Conv2d(3, 4, 3))
    grey = torch.rand(1, 1, 5, 5)
    before = conv(grey.expand(1, 3, 5, 5))
    adapt_first_conv(conv, 1)
    assert conv[0].in_channels == 1
    # the mean filter applied to one grey channel equals 1/3 of the response to the grey image in RGB
    torch.testing.assert_close(conv(grey) - conv[0].bias.view(1, -1, 1, 1),
                               (before - conv[0].bias.view(1, -1, 1, 1)) / 3, rtol=1e-4, atol=1e-5)
