"""Semantic segmentation models by name: torchvision's DeepLabV3, FCN and LR-ASPP, and two whose encoder is any timm
backbone, by default the ImageNet `efficientnet_lite0`: `lraspp` (MobileNetV3's light LR-ASPP head, torchvision's, on
the encoder's stride-8 and stride-32 features: the CPU-sized default) and `unet` (segmentation_models_pytorch's U-Net,
whose decoder costs more than its encoder at full resolution).

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
LRASPP_CHANNELS = 128  # MobileNetV3's LR-ASPP width
FAMILIES = ("lraspp", "unet")  # built on any timm encoder (--backbone)


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


class LowHigh(nn.Module):
    """A timm feature extractor's first and last feature maps as the {"low", "high"} torchvision's LR-ASPP takes."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        features = self.body(x)
        return {"low": features[0], "high": features[-1]}


def build_lraspp(*, num_classes: int, backbone: str = DEFAULT_ENCODER, pretrained_backbone: bool = False,
                 inter_channels: int = LRASPP_CHANNELS) -> nn.Module:
    """torchvision's LR-ASPP on a timm encoder: the stride-32 features, gated by their global average, upsampled to
    stride 8 and added to a 1x1 classifier of the stride-8 features; logits upsampled to the input size."""
    from torchvision.models.segmentation.lraspp import LRASPP

    from foveal.models.backbones import backbone_body

    body, channels = backbone_body(backbone, pretrained_backbone)
    return LRASPP(LowHigh(body), channels[0], channels[-1], num_classes, inter_channels)


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

    def lraspp(*, num_classes, in_channels=3, img_size=(256, 256), backbone=DEFAULT_ENCODER, pretrained_backbone=False):
        _rgb_only(in_channels)
        return build_lraspp(num_classes=num_classes, backbone=backbone, pretrained_backbone=pretrained_backbone)

    register_model("unet", task="segment", source="foveal",
                   description=f"U-Net on any timm encoder (default {DEFAULT_ENCODER}), segmentation_models_pytorch")(unet)
    register_model("lraspp", task="segment", source="foveal",
                   description=f"LR-ASPP head on any timm encoder (default {DEFAULT_ENCODER}): the CPU-sized default")(lraspp)
    for name in TORCHVISION_SEGMENTERS:
        def build_tv(*, num_classes, in_channels=3, img_size=(256, 256), pretrained=False, _n=name):
            _rgb_only(in_channels)
            return build_torchvision_segmenter(_n, num_classes=num_classes, pretrained=pretrained)

        register_model(name, task="segment", source="torchvision", description=f"torchvision {name}")(build_tv)


def _rgb_only(in_channels: int) -> None:
    if in_channels != 3:
        raise FovealError(f"segmentation models take RGB images; got {in_channels} channels")


_register()
