"""This process's place in a job of several (rank, world size), read from the environment that torchrun or SLURM
sets; without torch, so that the command line can ask before anything heavy loads."""

from __future__ import annotations

import os
from dataclasses import dataclass

from foveal.errors import FovealError


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def _env_int(*names: str) -> int | None:
    for name in names:
        value = os.environ.get(name)
        if value is not None:
            try:
                return int(value)
            except ValueError:
                raise FovealError(f"the environment variable {name} should be a whole number, got {value!r}") from None
    return None


def env_world() -> World:
    """This process's place in the job: torchrun's RANK, WORLD_SIZE, LOCAL_RANK and LOCAL_WORLD_SIZE, or SLURM's
    SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID and SLURM_NTASKS_PER_NODE for a job started by srun alone (with
    MASTER_ADDR and MASTER_PORT set by the batch script); one process when neither says more."""
    size = _env_int("WORLD_SIZE")
    if size is not None:
        return World(_env_int("RANK") or 0, size, _env_int("LOCAL_RANK") or 0, _env_int("LOCAL_WORLD_SIZE") or 1)
    size = _env_int("SLURM_NTASKS")
    if size is not None and size > 1 and "MASTER_ADDR" in os.environ:
        os.environ.setdefault("MASTER_PORT", "29500")
        per_node = (os.environ.get("SLURM_NTASKS_PER_NODE") or "1").split("(")[0]
        return World(_env_int("SLURM_PROCID") or 0, size, _env_int("SLURM_LOCALID") or 0, int(per_node))
    return World()


def launched() -> bool:
    """Whether this process was started by a launcher as one of a job's processes (then --nproc launches nothing)."""
    return env_world().distributed or "TORCHELASTIC_RUN_ID" in os.environ


def main_process() -> bool:
    return env_world().main
