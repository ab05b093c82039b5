"""Run folders: `<project>/<name>/`; a new run never overwrites an old one (name, name2, name3, ...), and one
process at a time trains in a folder (`run_lock`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from foveal.errors import FovealError


def run_name(cfg) -> str:
    """The run's folder name: --name, else the model's name as one folder (`timm/efficientnet_lite0` ->
    `efficientnet_lite0`)."""
    return cfg.name or cfg.model.rsplit("/", 1)[-1]


def new_run_dir(project: str | Path, name: str, exist_ok: bool = False) -> Path:
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    candidate, i = project / name, 2
    while True:
        try:
            candidate.mkdir(exist_ok=exist_ok)
            return candidate
        except FileExistsError:
            candidate, i = project / f"{name}{i}", i + 1


LOCK_NAME = ".lock"


@contextlib.contextmanager
def run_lock(run_dir: str | Path) -> Iterator[None]:
    """Hold the run folder for one training process: a second process (a second `--resume` of the folder, or one
    while the run still trains) is refused in one line. The lock is an flock on `<run>/.lock`, which holds the pid of
    its owner; the system drops it when its process ends, however that happens, so a lock left by a killed run is
    taken over. Where flock does not exist (Windows) runs are not locked."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = Path(run_dir) / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FovealError(f"run folder {run_dir} is in use by another foveal process (pid {owner}); wait for it to "
                              "finish or stop it, then resume") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:  # else its last owner removed the file between our open and our lock: take the new one
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(fd)
