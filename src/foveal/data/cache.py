"""The on-disk cache of decoded data sets: uint8 tensors keyed by their source files, written atomically and
read with torch.load(weights_only=True)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import torch

from foveal.data.tensors import DataSplits, ImageSet
from foveal.fileio import save_atomic

log = logging.getLogger("foveal")

CACHE_VERSION = 1


def cache_base() -> Path:
    env = os.environ.get("FOVEAL_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "foveal"


def cache_root(cache_dir: str | Path | None) -> Path:
    return Path(cache_dir).expanduser() if cache_dir is not None else cache_base() / "tensors"


def features_root() -> Path:
    return cache_base() / "features"


def tensors_key(tensors: Iterable[torch.Tensor], extra: dict[str, object]) -> str:
    """Hash of the tensors' bytes, shapes and dtypes, and of `extra`."""
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, **extra}, sort_keys=True, default=str).encode())
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}{t.dtype}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:24]


def source_key(base: Path, files: Iterable[Path], args: dict[str, object]) -> str:
    """Hash of the load arguments and every source file's path relative to `base`, size and mtime. A file that
    cannot be stat()ed (a broken link, one removed since it was listed) counts as missing: the reader reports and
    skips it."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, **args}, sort_keys=True).encode())
    for f in sorted(set(files)):
        try:
            st = f.stat()
            seen = f"{st.st_size}\0{st.st_mtime_ns}"
        except OSError:
            seen = "missing"
        h.update(f"{os.path.relpath(f, base)}\0{seen}\n".encode())
    return h.hexdigest()[:24]


def save_splits(file: Path, data: DataSplits, warnings: list[str]) -> None:
    """Write the decoded splits atomically; a failure only logs a warning. `warnings` (the skipped files) are
    stored for reference; the notes, which hold them too, are what a reader of the cache reports."""
    blob: dict[str, object] = {"version": CACHE_VERSION, "name": data.name, "classes": list(data.classes)}
    blob.update(notes=list(data.notes), warnings=warnings)
    for k, s in (("t", data.train), ("v", data.val)):
        blob.update({f"{k}_images": s.images, f"{k}_labels": s.labels, f"{k}_paths": list(s.paths or [])})
    try:
        save_atomic(blob, file)
    except (OSError, RuntimeError) as exc:  # e.g. a read-only or full disk: just decode again next time
        log.warning("could not write the tensor cache %s: %s", file, exc)


def load_splits(file: Path) -> DataSplits | None:
    """The cached splits, or None when absent or unreadable (then they are decoded again)."""
    if not file.is_file():
        return None
    try:
        blob = torch.load(file, weights_only=True)
        if blob.get("version") != CACHE_VERSION:
            return None
        classes = blob["classes"]
        sets = [ImageSet(blob[f"{k}_images"], blob[f"{k}_labels"], classes, blob[f"{k}_paths"] or None) for k in "tv"]
    except Exception as exc:  # a truncated or foreign file: rebuild it
        log.warning("ignoring unreadable tensor cache %s: %s", file, exc)
        return None
    return DataSplits(blob["name"], sets[0], sets[1], [*blob["notes"], f"decoded images loaded from cache {file}"])
