"""Instance segmenters by name: `maskrcnn` on a timm backbone and torchvision's Mask R-CNN train on boxes with masks
and answer with one mask per object at the image's own size."""

from __future__ import annotations

import pytest
import torch

from foveal.errors import FovealError
from foveal.models import create_model, get_model_spec
from foveal.models.detection import set_postprocess
from foveal.models.instance import is_instance_model


@pytest.mark.parametrize("name", ["maskrcnn", "maskrcnn_resnet50_fpn"])
def test_instance_models_train_and_predict_masks(name):
    model = create_model(name, num_classes=3, img_size=(64, 64), max_det=5)
    assert get_model_spec(name).task == "segment" and is_instance_model(name)
    masks = torch.zeros(1, 64, 80, dtype=torch.uint8)
    masks[0, 6:50, 5:40] = 1
    images = [torch.rand(3, 64, 80), torch.rand(3, 72, 64)]
    targets = [{"boxes": torch.tensor([[5.0, 6, 40, 50]]), "labels": torch.tensor([2]), "masks": masks},
               {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64),
                "masks": torch.zeros(0, 72, 64, dtype=torch.uint8)}]  # an image without objects
    losses = model.train()(images, targets)
    assert "loss_mask" in losses and all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    set_postprocess(model, conf=0.0)
    out = model.eval()(images)
    assert out[0]["masks"].shape[1:] == (1, 64, 80) and out[1]["masks"].shape[1:] == (1, 72, 64)
    assert len(out[0]["masks"]) == len(out[0]["boxes"]) <= 5


def test_semantic_models_are_not_instance_models_and_rgb_is_required():
    assert not is_instance_model("unet") and not is_instance_model(None) and not is_instance_model("fasterrcnn")
    with pytest.raises(FovealError, match="RGB"):
        create_model("maskrcnn", num_classes=2, in_channels=1)
