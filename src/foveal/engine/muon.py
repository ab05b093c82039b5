"""`--optimizer muon`: Muon for convolution filters and Nesterov SGD for everything else, as in Keller Jordan's
airbench94_muon (94% on CIFAR-10 in 8 epochs where airbench94's SGD takes 9.9).

Each step, a filter bank's momentum (out_channels x in_channels*kh*kw) is orthogonalised by a few Newton-Schulz
iterations, so the update moves every direction of the filters by about the same amount, whatever the gradient's
scale; the bank itself is first rescaled to a norm of sqrt(out_channels), since the batch norm after it makes its
scale irrelevant and a fixed scale keeps the step size meaningful. PyTorch's own `torch.optim.Muon` takes 2-D
parameters only, and decays the weights where this rescales them.

One optimizer object (an SGD whose groups may say `muon=True`), so the learning-rate schedule, the checkpoints and a
resumed run treat it as any other. The rescaling assumes a normalisation layer after every convolution (fastnet, the
ResNets): a filter bank with nothing to undo its scale (TinyVGG's) trains, but at the norm this sets.
"""

from __future__ import annotations

import torch

from foveal.engine.groups import split_groups

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)  # the quintic iteration's, chosen for the slope at zero (Jordan, 2024)
NS_STEPS = 3
MOMENTUM = 0.6  # the filters' momentum (airbench94_muon); the rest keep the configured one


@torch.no_grad()
def orthogonalise(g: torch.Tensor, steps: int = NS_STEPS, eps: float = 1e-7) -> torch.Tensor:
    """About U V^T of a 2-D g = U S V^T, by Newton-Schulz iterations (singular values land near 1, in 0.5-1.5),
    in fp32: bf16 matrix products are slow on a CPU without native bf16, and where bf16 is native the iterations in
    bf16 save only a few percent of a step while the fast-long recipe's CIFAR-10 runs end lower with them
    (docs/history.md, CIFAR-10 in 20 minutes)."""
    a, b, c = NS_COEFFICIENTS
    x = g.float()
    x = x / (x.norm() + eps)
    wide = x.shape[0] <= x.shape[1]
    if not wide:
        x = x.T
    for _ in range(steps):
        s = x @ x.T
        x = a * x + (b * s + c * s @ s) @ x
    return x if wide else x.T


class Muon(torch.optim.SGD):
    """SGD, except that groups with `muon=True` take Muon's orthogonalised, normalised steps at their own lr."""

    @torch.no_grad()
    def step(self, closure=None):
        held = []  # the Muon parameters' gradients, out of SGD's sight (it skips a parameter without one)
        for group in self.param_groups:
            if group.get("muon"):
                for p in group["params"]:
                    if p.grad is not None:
                        held.append((group, p, p.grad))
                        p.grad = None
        loss = super().step(closure)
        for group, p, grad in held:
            p.grad = grad
            state = self.state[p]
            buf = state.get("muon_buffer")
            if buf is None:
                buf = state["muon_buffer"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
            buf.mul_(MOMENTUM).add_(grad)
            g = grad.add(buf, alpha=MOMENTUM) if group["nesterov"] else buf
            p.mul_(p.shape[0] ** 0.5 / p.norm().clamp_min(1e-12))
            p.add_(orthogonalise(g.reshape(len(g), -1)).view(g.shape).to(p.dtype), alpha=-group["lr"])
        return loss


def muon_groups(groups: list[dict], muon_lr: float, lr: float) -> list[dict]:
    """Each parameter group split in two: its trainable convolution filters (4-D) on Muon at `muon_lr` (times the
    group's share of `lr`: a fine-tuned backbone's filters keep its lower rate) with no weight decay (the rescaling
    takes its place), the rest as they were."""
    return split_groups(groups, lambda p: p.ndim == 4,
                        lambda g: {"lr": muon_lr * g.get("lr", lr) / lr, "weight_decay": 0.0, "muon": True})
