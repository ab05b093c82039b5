"""Issue 25's figures for the defaults, with no flag but the epochs (moved out of the test suite: together about 15
minutes of training on a 2-core AVX2 CPU, a third of the suite's budget; the fixtures of tests/tasks/detect and
tests/tasks/segment train the same default networks on fewer scenes and hold them to the same marks).

- `foveal train --task detect --data shapes --epochs 10` reaches mAP@.5 of at least 0.9;
- `foveal train --task segment --data shapes --epochs 10` (the U-Net: shapes are small images) reaches mIoU 0.85.

    python benchmarks/defaults_figures.py          # about 15 minutes on 2 cores
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from foveal.bench.machine import describe, hardware
from foveal.cli import main as foveal

RUNS = (("detect", "fcos", "map50", 0.9), ("segment", "unet", "miou", 0.85))


def main() -> int:
    print(describe(hardware()))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for task, model, key, mark in RUNS:
            start = time.perf_counter()
            code = foveal(["-q", "train", "--task", task, "--data", "shapes", "--epochs", "10", "--project", tmp])
            metrics = json.loads((Path(tmp) / model / "metrics.json").read_text()) if code == 0 else {}
            value = metrics.get(key, float("nan"))
            ok = code == 0 and value >= mark
            failed += not ok
            print(f"{'PASS' if ok else 'MISS'}  {task}: {model} {key} {value:.4f} (mark {mark}) in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
