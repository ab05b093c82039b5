"""How long the command line takes to answer without training anything, against a bare `python -c pass`: `foveal
--help` and `foveal train --help` in under half a second, the listings (`foveal models`, `foveal datasets`) and a
mistyped model name in under a second; none of them imports torch.

    python benchmarks/startup.py [--repeats 11] [--out benchmarks/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

FOVEAL = [sys.executable, "-m", "foveal"]
COMMANDS = {  # name: (command, target in seconds)
    "python -c pass": ([sys.executable, "-c", "pass"], None),
    "foveal --help": ([*FOVEAL, "--help"], 0.5),
    "foveal train --help": ([*FOVEAL, "train", "--help"], 0.5),
    "foveal models": ([*FOVEAL, "models"], 1.0),
    "foveal datasets": ([*FOVEAL, "datasets"], 1.0),
    "foveal train --model lenett": ([*FOVEAL, "train", "--model", "lenett"], 1.0),
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the mistyped name exits 2
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for cmd, _ in COMMANDS.values():  # warm the file cache
        timed(cmd)
    runs = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so drift hits every command alike
        for name, (cmd, _) in COMMANDS.items():
            runs[name].append(timed(cmd))
    print(f"{cpu_name()}, Python {platform.python_version()}, {args.repeats} runs each (median, min, max in s)")
    result = {"cpu": cpu_name(), "repeats": args.repeats, "commands": {}}
    for name, times in runs.items():
        med, target = statistics.median(times), COMMANDS[name][1]
        verdict = "" if target is None else ("  PASS" if med < target else "  FAIL") + f" (< {target} s)"
        print(f"{name:>28}  {med:.3f}  {min(times):.3f}  {max(times):.3f}{verdict}")
        result["commands"][name] = {"median_s": med, "min_s": min(times), "max_s": max(times), "target_s": target}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
