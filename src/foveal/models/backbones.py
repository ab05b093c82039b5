"""Classification backbones reused by detectors and segmenters: a timm name checked, and its ImageNet weights loaded
into a feature extractor (timm's features_only model, which keeps the classifier's tensor names)."""

from __future__ import annotations

import torch.nn as nn

from foveal.errors import FovealError


def check_backbone(name: str) -> str:
    """The bare timm name of a backbone (`timm/` prefix dropped), or one line saying what is expected."""
    from foveal.models.external import TIMM_PREFIX, timm_names

    bare = name[len(TIMM_PREFIX):] if name.startswith(TIMM_PREFIX) else name
    if bare not in timm_names():
        raise FovealError(f"backbone {name!r}: expected a timm classification model (efficientnet_lite0, resnet50, "
                          f"mobilenetv3_large_100, convnext_atto, ...)")
    return bare


def load_backbone_weights(body: nn.Module, name: str) -> None:
    """The ImageNet weights of classifier `name` (the offline efficientnet_lite0/1/2 ones included) into its feature
    extractor; every feature tensor must be found."""
    from foveal.models.pretrained import load_pretrained

    classifier, _ = load_pretrained(name)
    missing, _ = body.load_state_dict(classifier.state_dict(), strict=False)
    if missing:
        raise FovealError(f"backbone {name!r}: its pretrained weights lack {len(missing)} feature tensors ({missing[0]}, ...)")
