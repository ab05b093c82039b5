"""Detectors by name: the FPN families on a timm backbone, torchvision's detectors, pretrained weights and errors."""

from __future__ import annotations

import pytest
import torch

from foveal.errors import FovealError
from foveal.models import create_model, get_model_spec
from foveal.models.detection import FAMILIES, set_postprocess


def _batch():
    images = [torch.rand(3, 64, 80), torch.rand(3, 72, 64)]
    targets = [{"boxes": torch.tensor([[5.0, 6, 40, 50]]), "labels": torch.tensor([2])},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}]  # an image without objects
    return images, targets


@pytest.mark.parametrize("name", [*FAMILIES, "ssdlite320_mobilenet_v3_large"])
def test_detectors_train_and_predict(name):
    model = create_model(name, num_classes=3, img_size=(64, 64), max_det=5)
    assert get_model_spec(name).task == "detect"
    images, targets = _batch()
    losses = model.train()(images, targets)
    assert all(torch.isfinite(v) for v in losses.values()) and len(losses) >= 2
    sum(losses.values()).backward()
    set_postprocess(model, conf=0.0)
    out = model.eval()(images)
    assert len(out) == 2 and all(len(o["boxes"]) <= 5 for o in out)
    assert out[0]["boxes"].shape[1] == 4 and out[0]["boxes"][:, 2].max() <= 80 + 1e-3  # in the image's own pixels


@pytest.mark.parametrize("backbone", ["efficientnet_lite0", "efficientnet_lite1"])
def test_pretrained_backbone_is_the_offline_imagenet_efficientnet_lite(backbone):
    from foveal.config import TrainConfig
    from foveal.models.pretrained import load_pretrained
    from foveal.tasks.detect.task import DetectTask

    model = create_model("fcos", num_classes=2, img_size=(64, 64), backbone=backbone, pretrained_backbone=True)
    imagenet = load_pretrained(backbone)[0].state_dict()
    assert all(torch.equal(v, imagenet[k]) for k, v in model.backbone.body.state_dict().items())
    assert DetectTask.pretrained_by_default(TrainConfig(task="detect", model="fcos", backbone=backbone))


def test_coco_weights_offline_say_which_file_goes_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty cache: nothing to fall back on
    with pytest.raises(FovealError, match=r"put the file fasterrcnn_mobilenet_v3_large_320_fpn.*\.pth .* at .*hub/checkpoints"):
        create_model("fasterrcnn_mobilenet_v3_large_320_fpn", num_classes=2, pretrained=True)


def test_detector_errors():
    with pytest.raises(FovealError, match="expected a timm classification model"):
        create_model("fcos", num_classes=2, backbone="no_such_net")
    with pytest.raises(FovealError, match="RGB"):
        create_model("fcos", num_classes=2, in_channels=1)
