"""What a benchmark result needs beside its numbers: the hardware and versions it ran on, which foveal code it
measured, and a quiet machine.

On a small shared machine another process (a test suite, say) can take a core for a while; with PyTorch's OpenMP
threads busy-waiting on both cores, that makes one training several times slower and a time ratio meaningless. So
before each run `measured` waits for the other processes to go quiet, and after it measures how much of the machine
they used during it; a run they disturbed is done again (results are deterministic per seed, so only its time
changes)."""

from __future__ import annotations

import hashlib
import importlib
import os
import platform
import statistics
import time
from pathlib import Path

import torch

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def hardware() -> dict:
    import torchvision

    from foveal.engine.device import cpu_bf16_pays, cpu_has_bf16, cpu_name, isa

    return {"cpu": cpu_name(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(), "isa": isa(),
            "cpu_bf16": cpu_has_bf16(), "bf16_autocast": cpu_bf16_pays(), "torch": torch.__version__,
            "torchvision": torchvision.__version__, "python": platform.python_version(), "platform": platform.platform()}


def describe(hw: dict) -> str:
    return (f"CPU: {hw['cpu']} | ISA: {hw.get('isa', '?')} | cores: {hw['cores']} | torch threads: "
            f"{hw['torch_threads']} | native bf16: {hw['cpu_bf16']} | --amp auto trains in: "
            f"{'bf16 (autocast)' if hw['bf16_autocast'] else 'fp32 (no autocast)'} | torch {hw['torch']} | "
            f"torchvision {hw['torchvision']} | python {hw['python']}")


def foveal_source() -> dict:
    """foveal's version and a hash of its Python sources, to tell which code a result file measured."""
    import foveal

    # import the training path now: foveal imports some of it lazily, and the sources may change while we run
    for mod in ("foveal.data", "foveal.engine.trainer", "foveal.engine.checkpoint", "foveal.tasks.classify",
                "foveal.tasks.classify.report", "foveal.models.registry", "foveal.models.seed", "foveal.models.fastnet"):
        importlib.import_module(mod)
    pkg = Path(foveal.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(pkg.rglob("*.py")):
        h.update(str(f.relative_to(pkg)).encode() + b"\0" + f.read_bytes())
    return {"version": getattr(foveal, "__version__", None), "path": str(pkg), "source_sha256": h.hexdigest()[:16]}


def mean_std(xs: list[float]) -> tuple[float, float]:
    return statistics.fmean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def _cpu_ticks() -> tuple[int, int, int]:
    """(busy, total, steal) jiffies of the whole machine from /proc/stat; zeros where there is none."""
    try:
        f = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    except (OSError, IndexError, ValueError):
        return 0, 0, 0
    total = sum(f)  # user nice system idle iowait irq softirq steal
    return total - f[3] - f[4], total, f[7]


class Usage:
    """How much of the machine's CPU other processes used between start() and stop()."""

    def start(self) -> "Usage":
        self.ticks, self.cpu = _cpu_ticks(), time.process_time()
        return self

    def stop(self) -> dict:
        (b0, t0, s0), (b1, t1, s1) = self.ticks, _cpu_ticks()
        own = time.process_time() - self.cpu
        total_s = max(1, t1 - t0) / CLK_TCK
        others = max(0.0, (b1 - b0) / CLK_TCK - own) / total_s if t1 > t0 else 0.0
        return {"cpu_s": own, "others_cpu_share": others, "steal_fraction": (s1 - s0) / max(1, t1 - t0)}


def keep_warm(seconds: float) -> None:
    """Busy work on PyTorch's threads for `seconds`. Waiting by sleeping lets a VM's cores go idle, and the first
    second or so of work after that runs slower (foveal's 1 s `linear` run took a median 1.20 s after a 3 s sleep
    against 1.03 s after 3 s of this, 5 runs each): a penalty that falls almost entirely on the short run."""
    end, a = time.perf_counter() + seconds, torch.randn(256, 256)
    while time.perf_counter() < end:
        a @ a


def wait_quiet(threshold: float, timeout: float) -> float:
    """Wait, keeping the cores warm, until other processes use less than `threshold` of the machine for 3 s in a
    row (at most `timeout` s); return the seconds waited."""
    start, calm = time.perf_counter(), 0
    while calm < 3 and time.perf_counter() - start < timeout:
        u = Usage().start()
        keep_warm(1.0)
        calm = calm + 1 if u.stop()["others_cpu_share"] < threshold else 0
    waited = time.perf_counter() - start
    if calm < 3:
        print(f"    (the machine did not go quiet in {timeout:.0f}s; running anyway)", flush=True)
    return waited


def measured(fn, *args, threshold: float = 0.10, retries: int = 3, quiet_timeout: float = 600) -> dict:
    """Run one training (`fn(*args)` returns a dict with runner, model, seed, time_s) on a quiet machine; if other
    processes took more than `threshold` of the CPU during it, run it again (up to `retries` more times) and keep
    the last attempt, marked `disturbed` if it still was. `threshold` 1 turns the waiting and checking off."""
    for attempt in range(1, retries + 2):
        waited = wait_quiet(threshold, quiet_timeout) if threshold < 1 else 0.0
        u = Usage().start()
        r = fn(*args)
        r.update(u.stop())
        r.update({"attempts": attempt, "waited_s": waited, "disturbed": r["others_cpu_share"] > threshold,
                  "loadavg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None})
        if not r["disturbed"] or threshold >= 1:
            break
        print(f"    ({r['runner']} {r['model']} seed {r['seed']}: other processes used {100 * r['others_cpu_share']:.0f}% "
              f"of the CPU during the run ({r['time_s']:.1f}s); {'again' if attempt <= retries else 'keeping it'})",
              flush=True)
    return r
