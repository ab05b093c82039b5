"""What a model costs to run: multiply-adds per image (torch's own FLOP counter) and CPU latency per image."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn as nn


@torch.inference_mode()
def count_macs(model: nn.Module, in_channels: int, input_size: tuple[int, int]) -> int:
    """Multiply-adds of one forward pass on one image (torch.utils.flop_counter counts 2 FLOPs per multiply-add)."""
    from torch.utils.flop_counter import FlopCounterMode

    was_training = model.training
    model.eval()
    x = torch.zeros(1, in_channels, *input_size, device=next(model.parameters()).device)
    with FlopCounterMode(display=False) as counter:
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


def latency_ms(fn, x: torch.Tensor, repeats: int = 20, warmup: int = 3) -> float:
    """Median milliseconds of fn(x) over `repeats` calls, after `warmup` calls."""
    for _ in range(warmup):
        fn(x)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)
