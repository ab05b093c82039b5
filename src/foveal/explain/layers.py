"""What each layer of a convolutional network sees: its spatial outputs in the order the forward pass finishes them,
the outputs of each stage (the last output at each resolution), and the first convolution's filters."""

from __future__ import annotations

import torch
import torch.nn as nn

from foveal.errors import FovealError


def spatial_outputs(model: nn.Module, x: torch.Tensor) -> list[tuple[str, tuple[int, ...]]]:
    """(module name, output shape) of every submodule whose output is (N, C, H, W) with H * W > 1, in the order the
    forward pass finishes them (a container after its children)."""
    seen: list[tuple[str, tuple[int, ...]]] = []
    hooks = [m.register_forward_hook(lambda _m, _i, out, name=name: seen.append((name, tuple(out.shape)))
                                     if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] * out.shape[-2] > 1
                                     else None)
             for name, m in model.named_modules() if name]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


def stage_names(model: nn.Module, x: torch.Tensor) -> list[str]:
    """The modules whose outputs end each stage: among the outermost spatial layers and their children (a
    network's stem, its block groups, its last layers), the last to finish at each resolution. On timm's
    EfficientNets these are the modules of timm's own `feature_info` and the last layer; on ResNets, layer1..4."""
    outputs = spatial_outputs(model, x)
    top = min((name.count(".") for name, _ in outputs), default=0)
    stages: list[tuple[str, tuple[int, int]]] = []
    for name, shape in outputs:
        if name.count(".") > top + 1:
            continue
        grid = shape[-2:]
        if stages and stages[-1][1] == grid:
            stages[-1] = (name, grid)
        else:
            stages.append((name, grid))
    return [name for name, _ in stages]


@torch.no_grad()
def stage_maps(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, torch.Tensor]:
    """Each named module's output for one input x (1, C, H, W), as float (C, h, w)."""
    out: dict[str, torch.Tensor] = {}
    hooks = [model.get_submodule(n).register_forward_hook(lambda _m, _i, o, n=n: out.__setitem__(n, o[0].detach().float()))
             for n in names]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return out


def first_filters(model: nn.Module) -> torch.Tensor:
    """The first convolution's weights (out, in, k, k), float on the CPU."""
    conv = next((m for m in model.modules() if isinstance(m, nn.Conv2d)), None)
    if conv is None:
        raise FovealError(f"{type(model).__name__} has no 2-d convolution: no filters to show")
    return conv.weight.detach().float().cpu()
