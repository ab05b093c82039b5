"""Optimizers and learning-rate schedules of a run: SGD, Adam, AdamW or Muon over a task's parameter groups,
normalisation layers at their own rate, and the schedule as a pure function of the step."""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from foveal.config import TrainConfig
from foveal.engine.groups import scale_norm_lr
from foveal.engine.muon import Muon, muon_groups


def lr_factor(cfg: TrainConfig, steps_per_epoch: int):
    """The learning-rate multiplier as a pure function of the global step (so resuming restores it exactly)."""
    total = max(1, cfg.epochs * steps_per_epoch)
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    if cfg.schedule == "onecycle" and warmup == 0:
        warmup = int(0.3 * total)

    def factor(step: int) -> float:
        if step < warmup:
            start = 1 / 25 if cfg.schedule == "onecycle" else 0.0
            return start + (1 - start) * (step + 1) / warmup
        if cfg.schedule == "constant":
            return 1.0
        t = min(1.0, (step - warmup) / max(1, total - warmup))
        floor = 1e-4 if cfg.schedule == "onecycle" else 0.0
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))

    return factor


def make_optimizer(cfg: TrainConfig, model: nn.Module, groups: list[dict]) -> torch.optim.Optimizer:
    """The run's optimizer over the task's parameter groups. foreach=True everywhere: one multi-tensor update per step
    instead of one per parameter (PyTorch picks it only on CUDA by default); for small models on a CPU the per-kernel
    cost is most of the step."""
    params = scale_norm_lr(groups, model, cfg.norm_lr, cfg.lr, cfg.weight_decay)
    if cfg.optimizer == "muon":
        return Muon(muon_groups(params, cfg.muon_lr, cfg.lr), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                    nesterov=cfg.momentum > 0, foreach=True)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay,
                               nesterov=cfg.momentum > 0, foreach=True)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
    return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=True)
