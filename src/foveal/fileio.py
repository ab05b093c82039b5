"""Writing files so that a crash never leaves a half-written one: a temporary file beside the target
(`.<name>.<random>.tmp`), flushed to disk, then renamed over it. A kill between the two leaves the temporary file;
`remove_stale_temps` clears those of a folder that no process is writing to."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


TEMP_SUFFIX = ".tmp"


def _atomic(path: str | Path, write) -> Path:
    """Call write(binary file) on a temporary file beside `path`, then rename it over `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save `obj` to `path` atomically; on any failure the old file (if any) is left as it was."""
    import torch  # here, so that config files are written without importing torch

    return _atomic(path, lambda f: torch.save(obj, f))


def write_text_atomic(path: str | Path, text: str) -> Path:
    return _atomic(path, lambda f: f.write(text.encode()))


def write_bytes_atomic(path: str | Path, data: bytes) -> Path:
    return _atomic(path, lambda f: f.write(data))


def replace_atomic(written: str | Path, path: str | Path) -> Path:
    """Put a file another library wrote beside `path` (`written`) in its place: flushed to disk, then renamed."""
    fd = os.open(written, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(written, path)
    return Path(path)


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files that interrupted atomic writes left in `folder` (the caller makes sure nothing is
    writing there now); returns them."""
    stale = sorted(p for p in Path(folder).glob(f".*{TEMP_SUFFIX}") if p.is_file())
    for p in stale:
        p.unlink(missing_ok=True)
    return stale
