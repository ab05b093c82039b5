"""Training on several processes: the process group that torchrun (or SLURM) describes in the environment, and the
few collectives the Trainer needs. A single process (world size 1) takes none of these paths.

Rules: rank 0 alone writes (the run folder, checkpoints, logs, reports) and evaluates; what every rank must agree on
(the run folder, the epochs a time limit leaves, whether to stop) is decided on rank 0 and broadcast."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist

from foveal.engine.world import World, env_world
from foveal.errors import FovealError

log = logging.getLogger("foveal")


def join(backend: str | None, device: torch.device, timeout_min: float) -> World:
    """Join the job's process group (once per process): gloo on CPU, NCCL on CUDA, unless `backend` says. Ranks
    other than 0 log errors only."""
    world = env_world()
    if not world.distributed:
        return world
    if not dist.is_initialized():
        backend = backend or ("nccl" if device.type == "cuda" else "gloo")
        if backend == "nccl" and device.type != "cuda":
            raise FovealError(f"the nccl backend needs CUDA devices; this job trains on {device.type}: use gloo")
        if world.rank:
            log.setLevel(logging.ERROR)
        dist.init_process_group(backend, timeout=timedelta(minutes=timeout_min),
                                device_id=rank_device(device, world) if backend == "nccl" else None)
    return world


def lost_peer(error: BaseException, world: World) -> bool:
    """Whether an error of a distributed job's exchange says that another process is gone (gloo's or NCCL's
    connection errors, a timeout)."""
    if not world.distributed:
        return False
    if isinstance(error, dist.DistError):
        return True
    text = str(error)
    return any(s in text for s in ("gloo", "NCCL", "Connection reset", "Connection closed", "timed out"))


def rank_device(device: torch.device, world: World) -> torch.device:
    """Each process of a CUDA job trains on its own GPU (its local rank)."""
    if device.type == "cuda" and world.distributed:
        device = torch.device("cuda", world.local_rank % torch.cuda.device_count())
        torch.cuda.set_device(device)
    return device


def broadcast(obj: Any, world: World) -> Any:
    """Rank 0's `obj` on every rank."""
    if not world.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(obj: Any, world: World) -> list[Any]:
    """Every rank's `obj`, in rank order, on every rank."""
    if not world.distributed:
        return [obj]
    out: list[Any] = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def sum_all(tensors: list[torch.Tensor], world: World) -> list[torch.Tensor]:
    """The sums over all ranks of each tensor (float64 on the CPU for the exchange; back to each one's device)."""
    if not world.distributed:
        return tensors
    device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    flat = torch.cat([t.detach().double().reshape(-1).to(device) for t in tensors])
    dist.all_reduce(flat)
    out, at = [], 0
    for t in tensors:
        out.append(flat[at:at + t.numel()].reshape(t.shape).to(t.device, t.dtype))
        at += t.numel()
    return out


@contextmanager
def main_first(world: World) -> Iterator[None]:
    """Rank 0 does the work first (decoding a data set into the on-disk cache), then the others (which read it)."""
    if world.distributed and not world.main:
        dist.barrier()
    yield
    if world.distributed and world.main:
        dist.barrier()


@contextmanager
def all_threads(world: World, device: torch.device) -> Iterator[None]:
    """Rank 0 evaluates alone while the other ranks of its machine wait (blocked, not spinning): on a CPU it borrows
    their threads meanwhile."""
    if not world.distributed or device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(threads * world.local_size)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class LossStep(torch.nn.Module):
    """The task's loss on one batch as a module's forward pass, so that DistributedDataParallel sees the whole of
    training's forward pass, whatever path through the model the task takes (a cached-features head, a detector
    given its targets)."""

    def __init__(self, task, model: torch.nn.Module) -> None:
        super().__init__()
        self.model, self.task = model, task

    def forward(self, batch):
        return self.task.loss(self.model, batch)


def wrap(task, model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The task's loss on the model (LossStep) in DistributedDataParallel: gradients averaged over ranks during the
    backward pass, buffers (batch norm's running statistics) broadcast from rank 0 before each forward pass, so that
    every rank holds the same weights after each step."""
    from torch.nn.parallel import DistributedDataParallel

    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(LossStep(task, model), device_ids=ids)


def sync_buffers(model: torch.nn.Module, world: World) -> None:
    """Rank 0's buffers on every rank (DistributedDataParallel sends them before each forward pass; after an epoch's
    last step each rank still holds its own batch norm statistics)."""
    if world.distributed:
        for b in model.buffers():
            dist.broadcast(b.data, src=0)


def sync_batch_norm(model: torch.nn.Module, device: torch.device, world: World) -> torch.nn.Module:
    """Batch norm over the global batch where the backend supports it (CUDA, NCCL); per-rank statistics on CPU."""
    if world.distributed and device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return model


def leave(world: World) -> None:
    if world.distributed:
        if dist.is_initialized():
            dist.destroy_process_group()
