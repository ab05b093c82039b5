"""One training process at a time in a run folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from foveal.errors import FovealError


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
