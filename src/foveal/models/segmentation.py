"""Semantic segmentation models by name: torchvision's DeepLabV3, FCN and LR-ASPP, and a U-Net whose encoder is any
timm backbone (segmentation_models_pytorch's, by default on the ImageNet `efficientnet_lite0`).

Every one maps (N, 3, H, W) to class logits (N, C, H, W); `logits(model, x)` hides that torchvision's return a dict.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.registry import register_model

TORCHVISION_SEGMENTERS = (
    "deeplabv3_mobilenet_v3_large", "deeplabv3_resnet50", "deeplabv3_resnet101", "fcn_resnet50", "fcn_resnet101",
    "lraspp_mobilenet_v3_large",
)
DEFAULT_ENCODER = "efficientnet_lite0"


def logits(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    out = model(x)
    return out["out"] if isinstance(out, dict) else out


def build_unet(*, num_classes: int, backbone: str = DEFAULT_ENCODER, pretrained_backbone: bool = False) -> nn.Module:
    """U-Net (segmentation_models_pytorch) on a timm encoder; with `pretrained_backbone`, the encoder's ImageNet
    weights through foveal's loader (the offline efficientnet_lite0/1/2 ones included)."""
    import segmentation_models_pytorch as smp

    from foveal.models.backbones import check_backbone, load_backbone_weights

    bare = check_backbone(backbone)
    try:
        model = smp.Unet(f"tu-{bare}", encoder_weights=None, classes=num_classes)
    except (RuntimeError, AttributeError, TypeError, ValueError, KeyError) as exc:
        raise FovealError(f"backbone {backbone!r} cannot serve as a U-Net encoder: {exc}") from None
    if pretrained_backbone:
        load_backbone_weights(model.encoder.model, bare)
    return model


def build_torchvision_segmenter(name: str, *, num_classes: int, pretrained: bool = False) -> nn.Module:
    """A torchvision segmentation model for num_classes; with `pretrained`, its COCO-with-VOC-labels weights, every
    tensor whose shape fits (the last layers of another class count stay as initialised). No auxiliary head."""
    import torchvision

    model = torchvision.models.get_model(name, weights=None, weights_backbone=None, num_classes=num_classes,
                                         aux_loss=None if name.startswith("lraspp") else False)
    if pretrained:
        from foveal.models.pretrained import load_torchvision_state

        own = model.state_dict()
        state = load_torchvision_state(name)
        model.load_state_dict({k: v for k, v in state.items() if k in own and own[k].shape == v.shape}, strict=False)
    return model


def _register() -> None:
    def unet(*, num_classes, in_channels=3, img_size=(256, 256), backbone=DEFAULT_ENCODER, pretrained_backbone=False):
        _rgb_only(in_channels)
        return build_unet(num_classes=num_classes, backbone=backbone, pretrained_backbone=pretrained_backbone)

    register_model("unet", task="segment", source="foveal",
                   description=f"U-Net on any timm encoder (default {DEFAULT_ENCODER}), segmentation_models_pytorch")(unet)
    for name in TORCHVISION_SEGMENTERS:
        def build_tv(*, num_classes, in_channels=3, img_size=(256, 256), pretrained=False, _n=name):
            _rgb_only(in_channels)
            return build_torchvision_segmenter(_n, num_classes=num_classes, pretrained=pretrained)

        register_model(name, task="segment", source="torchvision", description=f"torchvision {name}")(build_tv)


def _rgb_only(in_channels: int) -> None:
    if in_channels != 3:
        raise FovealError(f"segmentation models take RGB images; got {in_channels} channels")


_register()
