"""Device choice and the CPU fast-path settings."""

from __future__ import annotations

import ctypes
import json
import logging
import os
import sys
import time
from functools import lru_cache
from pathlib import Path

import torch
import torch.nn as nn

from foveal.errors import FovealError

log = logging.getLogger("foveal")
BF16_MIN_SPEEDUP = 1.1  # autocast only where it is clearly faster: its casts cost something, and bf16 rounds


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


def bf16_speedup(reps: int = 5) -> float:
    """How much faster a 3x3 convolution's forward and backward pass (64 channels, 16x16, batch 128, channels_last)
    runs under bf16 autocast than in fp32 on this CPU: the median of `reps` interleaved timings of each. Native bf16
    is not always faster: on some CPUs with AVX512-BF16 but no AMX it is slower than fp32, so `auto` measures rather
    than assumes (docs/benchmarks.md, The CPU fast path; docs/history.md, The CPU fast path: bf16, channels_last,
    torch.compile)."""

    def timed(amp: bool) -> float:
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            y = conv(x)
        y.float().sum().backward()
        return time.perf_counter() - start

    bf16, fp32 = [], []
    with torch.inference_mode(False), torch.enable_grad():  # callable from inside a prediction's inference mode
        conv = nn.Conv2d(64, 64, 3, padding=1, bias=False).to(memory_format=torch.channels_last)
        x = torch.randn(128, 64, 16, 16).contiguous(memory_format=torch.channels_last).requires_grad_()
        timed(True), timed(False)  # the first call of each builds its kernels
        for _ in range(reps):
            bf16.append(timed(True))
            fp32.append(timed(False))
    return sorted(fp32)[reps // 2] / sorted(bf16)[reps // 2]


def _speed_cache() -> Path:
    from foveal.data.cache import cache_base

    return cache_base() / "cpu_speed.json"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def machine_key() -> str:
    """What a speed measured here depends on: the CPU model, torch's thread count and torch's version."""
    return f"{cpu_name()}|threads {torch.get_num_threads()}|torch {torch.__version__}"


def measured_once(key: str, measure) -> float:
    """`measure()` for this machine and `key`, measured on first use and kept in ~/.cache/foveal/cpu_speed.json (a
    cache that cannot be written only costs measuring again)."""
    full = machine_key() if not key else f"{machine_key()}|{key}"
    file = _speed_cache()
    try:
        known = json.loads(file.read_text())
    except (OSError, ValueError):
        known = {}
    if full not in known:
        known[full] = round(float(measure()), 3)
        try:
            from foveal.fileio import write_text_atomic

            file.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(file, json.dumps(known, indent=1))
        except OSError as exc:
            log.warning("could not write %s: %s", file, exc)
    return known[full]


@lru_cache(maxsize=1)
def cpu_bf16_pays() -> bool:
    """True where this CPU has native bf16 and autocast to it is measurably faster (`bf16_speedup` at least
    BF16_MIN_SPEEDUP). Measured once per CPU model, thread count and torch version (about 2 s) and kept in
    ~/.cache/foveal/cpu_speed.json."""
    if not cpu_has_bf16():
        return False

    def measure() -> float:
        speedup = bf16_speedup()
        log.info("bf16 autocast on this CPU: %.2fx the fp32 speed; %s", speedup,
                 "on" if speedup >= BF16_MIN_SPEEDUP else "off (fp32 is as fast or faster)")
        return speedup

    return measured_once("", measure) >= BF16_MIN_SPEEDUP


def precision_name(dtype: torch.dtype | None) -> str:
    return "bf16" if dtype == torch.bfloat16 else "fp32"


def isa() -> str:
    """The vector instructions torch's CPU kernels use here (AVX2, AVX512, ...; ATEN_CPU_CAPABILITY lowers it)."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except (AttributeError, RuntimeError):
        return "unknown"


def is_convolutional(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def autocast_dtype(mode: str, device: torch.device, model: nn.Module) -> torch.dtype | None:
    """bf16 when asked; under `auto`, on CUDA with bf16, and for convolutional models on CPUs where bf16 is measurably
    faster (`cpu_bf16_pays`; on tiny fully connected models the casts cost more than they save)."""
    if mode == "off":
        return None
    if mode == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu" and is_convolutional(model) and cpu_bf16_pays():
        return torch.bfloat16
    return None


def use_channels_last(setting: bool | None, model: nn.Module) -> bool:
    return is_convolutional(model) if setting is None else bool(setting)


_ALLOCATOR_TUNED = False


def keep_freed_memory() -> bool:
    """Ask glibc's malloc to keep freed memory for reuse instead of handing it back to the kernel.

    By default glibc serves every block above a few MB with its own mmap and unmaps it on free, so each training step
    maps its activation buffers afresh and the kernel zero-fills every page on first touch: for a fine-tune at 224 px
    that kernel time is over a third of each step (docs/history.md, Transfer learning on real photos). Off with
    FOVEAL_MALLOC=default; a no-op where the C library is not glibc. Returns whether it
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
