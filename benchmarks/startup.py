"""How long `foveal --help` and `foveal train --help` take to start, against a bare `python -c pass`: the command line
must answer in under half a second, so it imports torch only when a verb needs it.

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

TARGET_S = 0.5
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "foveal --help": [sys.executable, "-m", "foveal", "--help"],
    "foveal train --help": [sys.executable, "-m", "foveal", "train", "--help"],
}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    for cmd in COMMANDS.values():  # warm the file cache
        timed(cmd)
    runs = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so drift hits every command alike
        for name, cmd in COMMANDS.items():
            runs[name].append(timed(cmd))
    print(f"{cpu_name()}, Python {platform.python_version()}, {args.repeats} runs each (median, min, max in s)")
    result = {"cpu": cpu_name(), "repeats": args.repeats, "target_s": TARGET_S, "commands": {}}
    for name, times in runs.items():
        med = statistics.median(times)
        verdict = "" if name.startswith("python") else ("  PASS" if med < TARGET_S else "  FAIL") + f" (< {TARGET_S} s)"
        print(f"{name:>22}  {med:.3f}  {min(times):.3f}  {max(times):.3f}{verdict}")
        result["commands"][name] = {"median_s": med, "min_s": min(times), "max_s": max(times)}
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
