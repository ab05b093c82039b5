"""How fast a network trains on this machine: the images per second of its training step (forward, backward, Nesterov
SGD step) at the precision and memory format the trainer would use, measured once per machine and kept beside the
bf16 probe's reading (engine/device.py: measured_once). The speed recipes choose their network and epochs by it, and
the trainer its precision where the CPU has native bf16 (`model_bf16_speedup`)."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from foveal.engine.device import measured_once, precision_name

WARMUP_STEPS = 1  # the first step builds oneDNN's kernels
MIN_STEPS, MIN_SECONDS = 3, 1.0  # then steps for at least a second: the pace of a short step drifts from step to step


def step_rate(build: Callable[[], nn.Module], shape: tuple[int, int, int], batch: int, num_classes: int,
              dtype: torch.dtype | None, channels_last: bool, seconds: float = MIN_SECONDS) -> float:
    """Images per second of training steps of `build()` on a random (batch, *shape) batch: after WARMUP_STEPS, the
    images of at least MIN_STEPS steps and `seconds` over their time."""
    torch.manual_seed(0)
    model = build().train()
    x, y = torch.randn(batch, *shape), torch.randint(0, num_classes, (batch,))
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9, nesterov=True)

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return batch / seconds_per_step(step, seconds)


def seconds_per_step(step: Callable[[], None], seconds: float) -> float:
    """The mean time of `step()` (with gradients, inside inference mode or not) after WARMUP_STEPS, over at least
    MIN_STEPS steps and `seconds`."""
    with torch.inference_mode(False), torch.enable_grad():
        for _ in range(WARMUP_STEPS):
            step()
        steps, start = 0, time.perf_counter()
        while steps < MIN_STEPS or time.perf_counter() - start < seconds:
            step()
            steps += 1
    return (time.perf_counter() - start) / steps


def training_pace(name: str, build: Callable[[], nn.Module], shape: tuple[int, int, int], batch: int,
                  num_classes: int, dtype: torch.dtype | None, channels_last: bool) -> float:
    """`step_rate` of the network `name` (a description that tells its settings apart: "fastnet hidden 16") on this
    machine, measured on first use and cached."""
    key = (f"pace {name} {'x'.join(map(str, shape))} batch {batch} {precision_name(dtype)} "
           f"{'channels_last' if channels_last else 'contiguous'}")
    return measured_once(key, lambda: step_rate(build, shape, batch, num_classes, dtype, channels_last))


def step_seconds(loss_fn: Callable[[nn.Module, Any], tuple[torch.Tensor, Any]], model: nn.Module, batch: Any,
                 dtype: torch.dtype | None, seconds: float = MIN_SECONDS / 2) -> float:
    """Seconds per forward and backward pass of `loss_fn(model, batch)` (a task's loss) under `dtype` autocast (None:
    fp32): after WARMUP_STEPS, over at least MIN_STEPS steps and `seconds`."""

    def step() -> None:
        with torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
            loss, _ = loss_fn(model, batch)
        loss.backward()
        model.zero_grad(set_to_none=True)

    return seconds_per_step(step, seconds)


def model_bf16_speedup(key: str, loss_fn, model: nn.Module, batch: Any) -> float:
    """How much faster the model's own training step (`loss_fn(model, batch)`, on a copy of it) runs under bf16
    autocast than in fp32 here, measured once per machine and `key` (what tells the model, its input and batch
    apart). The generic probe (device.bf16_speedup, one convolution) can say bf16 where a whole model runs slower in
    it: efficientnet_lite0's full fine-tune on a Zen 4 EPYC, 31 photos/s in bf16 against 41 in fp32. Torch's random
    state is left as it was, so that a run draws the same numbers whether it measured or read the cache."""

    def measure() -> float:
        probe, rng = copy.deepcopy(model).train(), torch.get_rng_state()
        try:
            fp32 = step_seconds(loss_fn, probe, batch, None)
            bf16 = step_seconds(loss_fn, probe, batch, torch.bfloat16)
        finally:
            torch.set_rng_state(rng)
        return fp32 / bf16

    return measured_once(f"bf16 speedup {key}", measure)


def measured_autocast(task, model: nn.Module, loader, key: str) -> torch.dtype | None:
    """bf16 where the model's own training step (`task.loss` on the first batch of `loader`'s first epoch, drawn
    without moving torch's random state) measures at least BF16_MIN_SPEEDUP faster in it than in fp32, else None."""
    from foveal.engine.device import BF16_MIN_SPEEDUP, log

    rng = torch.get_rng_state()
    try:
        batch = next(iter(loader.epoch(1)))
    finally:
        torch.set_rng_state(rng)
    speedup = model_bf16_speedup(key, task.loss, model, batch)
    log.info("bf16 autocast for %s here: %.2fx the fp32 speed; %s", key, speedup,
             "on" if speedup >= BF16_MIN_SPEEDUP else "off (fp32 is as fast or faster)")
    return torch.bfloat16 if speedup >= BF16_MIN_SPEEDUP else None
