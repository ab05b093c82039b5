"""Parameter groups of an optimizer: split by a rule, normalisation layers at their own learning rate."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn


def split_groups(groups: list[dict], picked: Callable[[torch.Tensor], bool],
                 settings: Callable[[dict], dict]) -> list[dict]:
    """Each parameter group split in two: its parameters that are not `picked`, as they were, and those that are, with
    `settings(group)` on top of the group's own; empty groups dropped."""
    out = []
    for g in groups:
        rest = {k: v for k, v in g.items() if k != "params"}
        params = list(g["params"])
        out.append({**rest, "params": [p for p in params if not picked(p)]})
        out.append({**rest, **settings(rest), "params": [p for p in params if picked(p)]})
    return [g for g in out if g["params"]]


NORM_LAYERS = (nn.modules.batchnorm._BatchNorm, nn.GroupNorm, nn.LayerNorm)


def scale_norm_lr(groups: list[dict], model: nn.Module, factor: float, lr: float, weight_decay: float) -> list[dict]:
    """Each parameter group split in two, the normalisation layers' parameters at `factor` times the group's lr and
    weight_decay / factor (so each step decays them by the same fraction as the rest): airbench's bias scaling, where
    batch norm's shifts, not scale-invariant like the convolutions before them, learn 64x faster."""
    if factor == 1:
        return groups
    norm = {id(p) for m in model.modules() if isinstance(m, NORM_LAYERS) for p in m.parameters()}
    return split_groups(groups, lambda p: id(p) in norm, lambda g: {
        "lr": g.get("lr", lr) * factor, "weight_decay": g.get("weight_decay", weight_decay) / factor})
