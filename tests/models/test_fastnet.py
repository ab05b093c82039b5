"""fastnet: its first layer whitens the training images' 2x2 patches, its widths follow `hidden`, and it runs on small
images of any channel count."""

from __future__ import annotations

import torch

from foveal.models import count_parameters, create_model


def test_whitening_layer_decorrelates_patches():
    torch.manual_seed(0)
    base = torch.randn(200, 3, 16, 16)
    images = base + 0.8 * base.roll(1, 3) + 0.5 * base[:, :1]  # correlated neighbours and channels
    model = create_model("fastnet", num_classes=4, in_channels=3, img_size=(16, 16), hidden=8)
    model.fit_whitening(images)
    out = model.whiten(images) - model.whiten.bias.view(1, -1, 1, 1)
    half = out[:, : out.shape[1] // 2].transpose(0, 1).reshape(out.shape[1] // 2, -1)
    cov = torch.cov(half)
    assert torch.allclose(cov, torch.eye(len(cov)), atol=0.05), cov.diagonal()
    assert torch.equal(model.whiten.weight[12:], -model.whiten.weight[:12])  # each direction and its negation
    assert not model.whiten.weight.requires_grad


def test_widths_follow_hidden_and_small_images_run():
    small, big = (create_model("fastnet", num_classes=10, in_channels=1, img_size=(28, 28), hidden=h) for h in (16, 32))
    assert count_parameters(big) > 3 * count_parameters(small)
    assert small(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert create_model("fastnet", num_classes=3, in_channels=1, img_size=(8, 8), hidden=8)(torch.randn(2, 1, 8, 8)).shape == (2, 3)
    strided = create_model("fastnet", num_classes=10, in_channels=3, img_size=(32, 32), hidden=8, stem_stride=2)
    assert strided(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_wide_variant_has_airbench94_widths():
    wide = create_model("fastnet_wide", num_classes=10, in_channels=3, img_size=(32, 32))
    convs = [m.out_channels for m in wide.modules() if isinstance(m, torch.nn.Conv2d)][1:]
    assert convs == [64, 64, 256, 256, 256, 256]
    assert [m.out_channels for m in create_model("fastnet_wide", num_classes=10, in_channels=3, img_size=(32, 32),
                                                 hidden=8).modules() if isinstance(m, torch.nn.Conv2d)][1:] == [8, 8, 32, 32, 32, 32]
    assert wide(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_deep_variant_adds_a_residual_branch_to_each_block():
    deep = create_model("fastnet_deep", num_classes=10, in_channels=3, img_size=(32, 32))
    convs = [m.out_channels for m in deep.modules() if isinstance(m, torch.nn.Conv2d)][1:]
    assert convs == [64] * 3 + [256] * 6  # three convolutions per block at airbench94's widths
    assert deep(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    block = create_model("fastnet_deep", num_classes=10, in_channels=3, img_size=(32, 32), hidden=8).features[2]
    block.eval()
    x = torch.randn(2, 24, 16, 16)
    with torch.no_grad():
        full = block(x)
        block.branch[-2].weight.zero_()  # the branch's last conv: the branch now adds only batch norm's shift (0)
        assert torch.allclose(block(x), torch.nn.functional.gelu(block.down(x)))
        assert not torch.allclose(full, block(x))
