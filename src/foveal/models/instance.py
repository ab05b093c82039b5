"""Instance segmentation models by name: `maskrcnn` (Mask R-CNN with an FPN on any timm backbone, by default the
ImageNet `efficientnet_lite0`, sized for a CPU) and torchvision's Mask R-CNNs (`--pretrained`: their COCO weights).

They are segmenters (task `segment`) that answer with boxes, classes, scores and one mask per object; foveal's class
i is the model's label i + 1, as for detectors.
"""

from __future__ import annotations

import torch.nn as nn

from foveal.models.detection import DEFAULT_BACKBONE, FPN_CHANNELS
from foveal.models.registry import register_model

TORCHVISION_INSTANCE = ("maskrcnn_resnet50_fpn", "maskrcnn_resnet50_fpn_v2")
INSTANCE_FAMILIES = ("maskrcnn",)
MASK_HEAD_LAYERS = 4  # torchvision's depth, at the FPN's 128 channels instead of 256


def is_instance_model(name: str | None) -> bool:
    """Whether a model name gives one mask per object (instance segmentation) rather than a class per pixel."""
    return bool(name) and (name in INSTANCE_FAMILIES or name in TORCHVISION_INSTANCE)


def build_maskrcnn(*, num_classes: int, img_size: tuple[int, int], backbone: str = DEFAULT_BACKBONE, max_det: int = 100,
                   pretrained_backbone: bool = False) -> nn.Module:
    """Mask R-CNN on a timm backbone: the CPU-sized two-stage detector of `fasterrcnn` plus a 4-layer mask head at 128
    channels on 14x14 RoIs."""
    from torchvision.models.detection import MaskRCNN
    from torchvision.models.detection.mask_rcnn import MaskRCNNHeads, MaskRCNNPredictor

    from foveal.models.backbones import backbone_body
    from foveal.models.detection import input_kwargs, two_stage

    body, channels = backbone_body(backbone, pretrained_backbone)
    return two_stage(MaskRCNN, body, channels, num_classes=num_classes, max_det=max_det,
                     mask_head=MaskRCNNHeads(FPN_CHANNELS, (FPN_CHANNELS,) * MASK_HEAD_LAYERS, 1),
                     mask_predictor=MaskRCNNPredictor(FPN_CHANNELS, FPN_CHANNELS, num_classes + 1),
                     **input_kwargs(body, img_size))


def _register() -> None:
    from foveal.models.detection import rgb_only, register_torchvision

    def maskrcnn(*, num_classes, in_channels=3, img_size=(320, 320), backbone=DEFAULT_BACKBONE, max_det=100,
                 pretrained_backbone=False):
        rgb_only(in_channels)
        return build_maskrcnn(num_classes=num_classes, img_size=img_size, backbone=backbone, max_det=max_det,
                              pretrained_backbone=pretrained_backbone)

    register_model("maskrcnn", task="segment", source="foveal",
                   description=f"Mask R-CNN (instances) with an FPN on any timm backbone (default {DEFAULT_BACKBONE})")(maskrcnn)
    register_torchvision(TORCHVISION_INSTANCE, "segment", " (instances)")


_register()
