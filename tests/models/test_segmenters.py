"""The segmenters on a timm encoder: LR-ASPP (the default) and the U-Net give class logits at the input's size, take
the encoder's ImageNet weights, and LR-ASPP costs a fraction of the U-Net at full resolution."""

from __future__ import annotations

import pytest
import torch

from foveal.models.registry import create_model
from foveal.models.segmentation import logits


@pytest.mark.parametrize("name", ["lraspp", "unet"])
def test_a_segmenter_gives_class_logits_at_the_input_size(name):
    model = create_model(name, num_classes=5, in_channels=3, img_size=(96, 128)).eval()
    with torch.no_grad():
        out = logits(model, torch.rand(2, 3, 96, 128))
    assert out.shape == (2, 5, 96, 128)


def test_lraspp_starts_from_the_encoders_imagenet_weights():
    from foveal.models.pretrained import load_pretrained

    model = create_model("lraspp", num_classes=3, in_channels=3, img_size=(64, 64), pretrained_backbone=True)
    classifier, _ = load_pretrained("efficientnet_lite0")
    body = model.backbone.body
    stem = classifier.state_dict()["conv_stem.weight"]
    assert torch.equal(body.state_dict()["conv_stem.weight"], stem)
    fresh = create_model("lraspp", num_classes=3, in_channels=3, img_size=(64, 64))
    assert not torch.equal(fresh.backbone.body.state_dict()["conv_stem.weight"], stem)


def test_lraspp_is_smaller_and_cheaper_than_the_unet():
    from torch.utils.flop_counter import FlopCounterMode

    def cost(name):
        model = create_model(name, num_classes=81, in_channels=3, img_size=(384, 480)).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.rand(1, 3, 384, 480))
        return counter.get_total_flops(), sum(p.numel() for p in model.parameters())

    (lr_flops, lr_params), (unet_flops, unet_params) = cost("lraspp"), cost("unet")
    assert lr_params < unet_params and lr_flops < unet_flops / 3, (lr_flops, unet_flops)
