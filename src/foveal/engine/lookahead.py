"""Lookahead of weights (`--lookahead`), as in Keller Jordan's airbench CIFAR-10 speedruns: an averaged copy of the
model's floating-point weights and buffers trails the trained ones, and every few steps it moves toward them and the
model is set back to it. How far it trails grows with the run's progress (cubically, to `BASE ** EVERY` per update at
the end), so early training runs free and the last steps, where the learning rate is small, are averaged: the weights
a run ends with are an average of its last few dozen steps rather than the last step's.

An exponential moving average that is only read at evaluation (timm's `ModelEmaV3`, Ultralytics' `ModelEMA`) needs a
second model for every evaluation; this one is the model, so the trainer, its checkpoints and its evaluations stay as
they are.
"""

from __future__ import annotations

import torch
import torch.nn as nn

EVERY = 5  # steps between updates
BASE = 0.95  # per-step decay at the end of the run


class Lookahead:
    def __init__(self, model: nn.Module) -> None:
        self.tensors = [t for t in model.state_dict().values() if t.is_floating_point()]  # views of the model's own
        self.average = [t.detach().clone() for t in self.tensors]

    @staticmethod
    def decay(step: int, total_steps: int) -> float:
        """How much of the average an update keeps at global step `step` (1-based) of `total_steps`."""
        return BASE**EVERY * min(1.0, step / max(1, total_steps)) ** 3

    @torch.no_grad()
    def after_step(self, step: int, total_steps: int) -> None:
        if step % EVERY:
            return
        torch._foreach_lerp_(self.average, self.tensors, 1 - self.decay(step, total_steps))
        torch._foreach_copy_(self.tensors, self.average)

    def state_dict(self) -> list[torch.Tensor]:
        return [t.detach().cpu().contiguous() for t in self.average]

    @torch.no_grad()
    def load_state_dict(self, state: list[torch.Tensor]) -> None:
        if len(state) != len(self.average):
            raise ValueError(f"lookahead state has {len(state)} tensors; the model has {len(self.average)}")
        torch._foreach_copy_(self.average, [s.to(a.device) for s, a in zip(state, self.average)])
