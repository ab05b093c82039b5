"""Device choice and the CPU fast-path settings."""

from __future__ import annotations

import ctypes
import os
import sys

import torch
import torch.nn as nn

from foveal.errors import FovealError


def select_device(spec: str = "auto") -> torch.device:
    """`auto` picks cuda, then mps, then cpu; otherwise the named device, checked to exist."""
    spec = (spec or "auto").lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise FovealError(f"device must be auto, cpu, cuda, cuda:N or mps; got {spec!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise FovealError(f"device {spec!r} asked for, but this machine has no CUDA GPU; use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise FovealError(f"device {spec!r} asked for, but MPS is not available here; use --device cpu")
    return device


def cpu_has_bf16() -> bool:
    """True where the CPU does bf16 arithmetic natively (AVX512-BF16 or AMX), so autocast pays."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def autocast_dtype(mode: str, device: torch.device, model: nn.Module) -> torch.dtype | None:
    """bf16 when asked; under `auto`, on CUDA with bf16 and on CPUs with native bf16 for convolutional models
    (on tiny fully connected models the casts cost more than they save)."""
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and cpu_has_bf16() and is_convolutional(model):
        return torch.bfloat16
    return None


def use_channels_last(setting: bool | None, model: nn.Module) -> bool:
    return is_convolutional(model) if setting is None else bool(setting)


_ALLOCATOR_TUNED = False


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc serves every block above a few MB with its own mmap and unmaps it on free, so each training step
    maps its activation buffers afresh and the kernel zero-fills every page on first touch: a fine-tune of
    efficientnet_lite0 at 224 px spent 36 s in the kernel against 61 s of work, and ran 40% faster (22 -> 31 images/s)
    with these settings. Off with FOVEAL_MALLOC=default; a no-op where the C library is not glibc. Returns whether it
    applied."""
    global _ALLOCATOR_TUNED
    if _ALLOCATOR_TUNED or os.environ.get("FOVEAL_MALLOC", "").lower() == "default" or not sys.platform.startswith("linux"):
        return _ALLOCATOR_TUNED
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.gnu_get_libc_version  # glibc only: musl has no mallopt settings of this kind
    except (OSError, AttributeError):
        return False
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    _ALLOCATOR_TUNED = bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 1 << 30))
    return _ALLOCATOR_TUNED
