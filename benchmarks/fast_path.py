"""The trainer's fast-path choices on this machine (issue 6): one fastnet training step (batch 512, Nesterov SGD)
under bf16 autocast or fp32, channels_last or not, and eager or `torch.compile`d, for the grey (32, 64, 128) network at
28x28 and the colour (64, 128, 256) one at 32x32; foveal's own bf16 probe (`bf16_speedup`), which decides `--amp
auto`; and the channels_last step on 1 thread against torch's default (one per core), which foveal keeps.

    python benchmarks/fast_path.py              # about 3 minutes on 2 cores
    python benchmarks/fast_path.py --no-compile # skip the torch.compile runs (most of the time)

Prints images/s per setting (the median of the timed steps, after the first) and writes
benchmarks/results/fast_path.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from foveal.bench.machine import describe, hardware
from foveal.engine.device import bf16_speedup
from foveal.models.registry import create_model

HERE = Path(__file__).resolve().parent
NETS = {"grey (32, 64, 128) 1x28x28": (32, 1, 28), "colour (64, 128, 256) 3x32x32": (64, 3, 32)}


def step_rate(hidden: int, channels: int, size: int, *, amp: bool, channels_last: bool, compiled: bool = False,
              batch: int = 512, steps: int = 6) -> dict:
    torch.manual_seed(0)
    model = create_model("fastnet", num_classes=10, in_channels=channels, img_size=(size, size), hidden=hidden)
    x, y = torch.randn(batch, channels, size, size), torch.randint(0, 10, (batch,))
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9, nesterov=True,
                          foreach=True)
    fn = torch.compile(model) if compiled else model
    times = []
    for _ in range(steps + 1):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.cross_entropy(fn(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return {"images_per_s": batch / statistics.median(times[1:]), "first_step_s": times[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "results" / "fast_path.json"))
    args = ap.parse_args(argv)
    hw = hardware()
    print(describe(hw), flush=True)
    probe = [round(bf16_speedup(), 3) for _ in range(3)]
    print(f"foveal's bf16 probe (bf16 speed / fp32 speed, 3x3 conv forward+backward): {probe}", flush=True)
    default = torch.get_num_threads()
    rows = []
    for name, (hidden, c, s) in NETS.items():
        # (bf16, channels_last, compiled, threads); the channels_last step on 1 thread against the default
        settings = [(amp, cl, False, default) for amp in (True, False) for cl in (True, False)]
        settings += [(amp, True, False, 1) for amp in (True, False) if default > 1]
        if not args.no_compile:
            settings.append((False, True, True, default))
        for rep in range(args.repeats):
            for amp, cl, comp, n in settings:
                torch.set_num_threads(n)
                try:
                    r = step_rate(hidden, c, s, amp=amp, channels_last=cl, compiled=comp)
                finally:
                    torch.set_num_threads(default)
                rows.append({"net": name, "repeat": rep, "bf16": amp, "channels_last": cl, "compiled": comp,
                             "threads": n, **r})
                print(f"  {name:<30} {'bf16' if amp else 'fp32'} {'channels_last' if cl else 'contiguous':<13} "
                      f"{'compiled' if comp else 'eager':<8} {n} thread(s) {r['images_per_s']:7.0f} img/s (first "
                      f"step {r['first_step_s']:.1f} s)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"benchmark": "fast_path", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                                          "hardware": hw, "bf16_probe": probe, "rows": rows}, indent=2))
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
