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


def backbone_body(name: str, pretrained: bool = False) -> tuple[nn.Module, list[int]]:
    """The feature extractor of a classification model (timm's features_only: its last three feature maps, strides 8,
    16 and 32 on most) and their channel counts; with `pretrained`, its ImageNet weights (the offline
    efficientnet_lite0/1/2 ones included). Detectors put an FPN on it, the `lraspp` segmenter its head."""
    import timm

    bare = check_backbone(name)
    try:
        body = timm.create_model(bare, pretrained=False, features_only=True, out_indices=(-3, -2, -1))
    except (RuntimeError, AttributeError, TypeError) as exc:
        raise FovealError(f"backbone {name!r} cannot give feature maps: {exc}") from None
    if pretrained:
        load_backbone_weights(body, bare)
    return body, list(body.feature_info.channels())
