"""Detectors by name: torchvision's (Faster R-CNN, RetinaNet, FCOS, SSD, SSDlite) and three families that put an
FPN on any classification backbone (`fasterrcnn`, `retinanet`, `fcos` with `backbone=`, by default the ImageNet
`efficientnet_lite0`).

foveal's class i is the detector's label i + 1: torchvision's detectors keep label 0 for the background.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.backbones import backbone_body
from foveal.models.registry import register_model

TORCHVISION_DETECTORS = (
    "fasterrcnn_resnet50_fpn", "fasterrcnn_resnet50_fpn_v2", "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn", "retinanet_resnet50_fpn", "retinanet_resnet50_fpn_v2",
    "fcos_resnet50_fpn", "ssd300_vgg16", "ssdlite320_mobilenet_v3_large",
)
FAMILIES = ("fasterrcnn", "retinanet", "fcos")
DEFAULT_BACKBONE = "efficientnet_lite0"
FPN_CHANNELS = 128  # half of torchvision's 256: the heads dominate a CPU step, and small data does not need more
BOX_HEAD = 512
EVAL_CONF = 0.001  # evaluation keeps low-confidence boxes: mAP integrates over the whole precision-recall curve
NMS_IOU = 0.6  # one NMS overlap for evaluation and prediction, whatever each torchvision detector defaults to


class FeaturePyramid(nn.Module):
    """A backbone's last three feature maps (strides 8, 16, 32) through an FPN, as torchvision's detectors expect."""

    def __init__(self, body: nn.Module, channels: list[int], extra: nn.Module, out_channels: int = FPN_CHANNELS) -> None:
        super().__init__()
        from torchvision.ops import FeaturePyramidNetwork

        self.body = body
        self.fpn = FeaturePyramidNetwork(channels, out_channels, extra_blocks=extra)
        self.out_channels = out_channels

    def forward(self, x: torch.Tensor) -> "OrderedDict[str, torch.Tensor]":
        return self.fpn(OrderedDict((str(i), f) for i, f in enumerate(self.body(x))))


def input_kwargs(body: nn.Module, img_size: tuple[int, int]) -> dict:
    """What a torchvision detector on a timm body needs to prepare its input: every image resized to the input size
    (its longer side), normalised with the body's own ImageNet mean and std."""
    size = max(img_size)
    return dict(min_size=size, max_size=size, image_mean=list(body.pretrained_cfg.get("mean", (0.485, 0.456, 0.406))),
                image_std=list(body.pretrained_cfg.get("std", (0.229, 0.224, 0.225))))


def build_family(family: str, *, num_classes: int, img_size: tuple[int, int], backbone: str = DEFAULT_BACKBONE,
                 max_det: int = 100, pretrained_backbone: bool = False) -> nn.Module:
    from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.ops.feature_pyramid_network import LastLevelP6P7

    body, channels = backbone_body(backbone, pretrained_backbone)
    common = input_kwargs(body, img_size)
    if family == "fasterrcnn":
        return two_stage(FasterRCNN, body, channels, num_classes=num_classes, max_det=max_det, **common)
    fpn = FeaturePyramid(body, channels, LastLevelP6P7(FPN_CHANNELS, FPN_CHANNELS))
    if family == "retinanet":
        sizes = tuple((x, int(x * 2 ** (1 / 3)), int(x * 2 ** (2 / 3))) for x in (32, 64, 128, 256, 512))
        anchors = AnchorGenerator(sizes, ((0.5, 1.0, 2.0),) * 5)
        return RetinaNet(fpn, num_classes=num_classes + 1, anchor_generator=anchors, detections_per_img=max_det, **common)
    anchors = AnchorGenerator(((8,), (16,), (32,), (64,), (128,)), ((1.0,),) * 5)
    model = FCOS(fpn, num_classes=num_classes + 1, anchor_generator=anchors, detections_per_img=max_det, **common)
    # FCOS's box distances pass a ReLU and start near 0: boxes of a fraction of a pixel, whose GIoU gradient is the
    # product of two near-zero sides. On coco128 (80 classes, mixed photos) every output went negative within 4
    # steps and the box loss stayed at 1.000 for the run. A bias of 1 starts each box at twice its level's anchor
    # size; the same run's box loss fell from 1.0 to 0.6 in its first 24 steps.
    nn.init.constant_(model.head.regression_head.bbox_reg.bias, 1.0)
    return model


def two_stage(cls, body: nn.Module, channels: list[int], *, num_classes: int, max_det: int, **kwargs) -> nn.Module:
    """Faster R-CNN (or Mask R-CNN, `cls`) on P3-P5 and a pooled P6 of a backbone, sized for a CPU: anchors 4 and 8
    strides wide in three shapes, a 512-wide box head (torchvision: 1024), 256 sampled RoIs (512), 1,000 proposals
    (2,000) in training and 500 at test time."""
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.faster_rcnn import FastRCNNPredictor, TwoMLPHead
    from torchvision.ops.feature_pyramid_network import LastLevelMaxPool

    fpn = FeaturePyramid(body, channels, LastLevelMaxPool())
    anchors = AnchorGenerator(tuple((4 * s, 8 * s) for s in (8, 16, 32, 64)), ((0.5, 1.0, 2.0),) * 4)
    defaults = dict(rpn_pre_nms_top_n_train=1000, rpn_post_nms_top_n_train=1000, rpn_pre_nms_top_n_test=500,
                    rpn_post_nms_top_n_test=500, box_batch_size_per_image=256)
    return cls(fpn, rpn_anchor_generator=anchors, box_detections_per_img=max_det,
               box_head=TwoMLPHead(FPN_CHANNELS * 7 * 7, BOX_HEAD), box_predictor=FastRCNNPredictor(BOX_HEAD, num_classes + 1),
               **{**defaults, **kwargs})


def build_torchvision_detector(name: str, *, num_classes: int, img_size: tuple[int, int], max_det: int = 100,
                               pretrained: bool = False) -> nn.Module:
    """A torchvision detector for num_classes (+ background); with `pretrained`, its COCO weights, every tensor whose
    shape fits (the class-specific layers of another class count stay as initialised)."""
    import torchvision

    kwargs: dict = {"weights": None, "weights_backbone": None, "num_classes": num_classes + 1}
    if not name.startswith("ssd"):
        kwargs.update(min_size=max(img_size), max_size=max(img_size))
    model = torchvision.models.get_model(name, **kwargs)
    set_postprocess(model, max_det=max_det)
    if pretrained:
        from foveal.models.pretrained import load_torchvision_state

        state = load_torchvision_state(name)
        own = model.state_dict()
        fits = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
        model.load_state_dict(fits, strict=False)
    return model


def set_postprocess(model: nn.Module, *, conf: float | None = None, iou: float | None = None, max_det: int | None = None) -> None:
    """The score threshold, NMS IoU and boxes kept per image, wherever this kind of detector keeps them."""
    model = getattr(model, "template", model)  # a SplitDetector: its detector's
    owner = getattr(model, "roi_heads", model)  # Faster R-CNN: in its RoI heads; RetinaNet, FCOS, SSD: on the model
    for attr, value in (("score_thresh", conf), ("nms_thresh", iou), ("detections_per_img", max_det)):
        if value is not None:
            if not hasattr(owner, attr):
                raise FovealError(f"{type(model).__name__} has no {attr}")
            setattr(owner, attr, value)


def _register() -> None:
    for family in FAMILIES:
        def build(*, num_classes, in_channels=3, img_size=(320, 320), backbone=DEFAULT_BACKBONE, max_det=100,
                  pretrained_backbone=False, _f=family):
            rgb_only(in_channels)
            return build_family(_f, num_classes=num_classes, img_size=img_size, backbone=backbone, max_det=max_det,
                                pretrained_backbone=pretrained_backbone)

        register_model(family, task="detect", source="foveal",
                       description=f"{family} with an FPN on any timm backbone (default {DEFAULT_BACKBONE})")(build)
    register_torchvision(TORCHVISION_DETECTORS, "detect")


def register_torchvision(names: tuple[str, ...], task: str, what: str = "") -> None:
    """Register torchvision's detectors (or Mask R-CNNs, task `segment`) by name, with foveal's class count, input
    size, boxes per image and --pretrained COCO weights."""
    for name in names:
        def build_tv(*, num_classes, in_channels=3, img_size=(320, 320), max_det=100, pretrained=False, _n=name):
            rgb_only(in_channels)
            return build_torchvision_detector(_n, num_classes=num_classes, img_size=img_size, max_det=max_det,
                                              pretrained=pretrained)

        register_model(name, task=task, source="torchvision", description=f"torchvision {name}{what}")(build_tv)


def rgb_only(in_channels: int) -> None:
    if in_channels != 3:
        raise FovealError(f"detectors and instance segmenters take RGB images; got {in_channels} channels")


_register()
