"""The classifier head of torchvision, timm and foveal models: found, replaced, removed, and the backbone grouped."""

from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from foveal.errors import FovealError
from foveal.models.head import backbone_groups, backbone_parameters, find_head, replace_head, without_head
from foveal.models.registry import create_model


@pytest.mark.parametrize("name, attr, in_features", [
    ("resnet18", "fc", 512),
    ("mobilenet_v3_small", "3", 1024),  # classifier[3]
    ("timm/efficientnet_lite0", "classifier", 1280),
    ("mlp", None, 10),
    ("tinyvgg", None, None),
])
def test_find_head_is_the_last_linear(name, attr, in_features):
    model = create_model(name, num_classes=7, in_channels=3, img_size=(64, 64))
    parent, found_attr, layer = find_head(model)
    assert isinstance(layer, nn.Linear) and layer.out_features == 7
    assert getattr(parent, found_attr) is layer
    if attr is not None:
        assert found_attr == attr
    if in_features is not None:
        assert layer.in_features == in_features


def test_model_without_linear_head_is_refused():
    model = create_model("squeezenet1_0", num_classes=5, in_channels=3, img_size=(64, 64))
    with pytest.raises(FovealError, match="no separable head.*Conv2d"):
        find_head(model)


def test_replace_head_and_without_head():
    model = create_model("mobilenet_v3_small", num_classes=1000, in_channels=3, img_size=(64, 64)).eval()
    new = replace_head(model, 3)
    assert find_head(model)[2] is new and new.out_features == 3
    x = torch.rand(2, 3, 64, 64)
    with without_head(model) as backbone:
        feats = backbone(x)
    assert feats.shape == (2, 1024)
    assert find_head(model)[2] is new  # restored, not the classifier's first Linear
    assert torch.allclose(model(x), new(feats), atol=1e-5)


def test_backbone_groups_partition_the_backbone():
    model = create_model("timm/efficientnet_lite0", num_classes=4, in_channels=3, img_size=(64, 64))
    groups = backbone_groups(model)
    assert len(groups) >= 4
    flat = [id(p) for g in groups for p in g]
    assert len(flat) == len(set(flat))
    assert set(flat) == {id(p) for p in backbone_parameters(model)}
    assert not {id(p) for p in find_head(model)[2].parameters()} & set(flat)
