"""Issue 27's export figures, end to end: train one model per task on real data, then `foveal benchmark` it (every
format and precision: size, load, batch-1 latency, throughput, `predict` per image, the metric and the gates).

    python benchmarks/export_speed.py OUT                       # all three, about 75 minutes on 2 cores
    python benchmarks/export_speed.py OUT --tasks detect        # one of classify, detect, segment

- classify: efficientnet_lite0 fine-tuned 8 minutes with the defaults on 5,000 cifar10-jpg training photos, measured
  on 1,000 test photos (`cifar1k`, made by transfer_head.subset_tree);
- detect: fcos at 320 px, 12 minutes on coco128 with detect_coco128.py's memorisation recipe (AdamW 5e-4, no
  augmentation), so that its mAP gate measures a detector that finds things;
- segment: the default U-Net, 10 minutes on coco128-seg as 480x360 class masks (coco_semantic.py).

Everything derived from ../shared is written under OUT, never into the project. Each benchmark's table is printed and
copied to benchmarks/results/export_<task>.csv.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware  # noqa: E402

TASKS = ("classify", "detect", "segment")


def prepare(task: str, out: Path, root: Path) -> str:
    """The data set of `task` under `out` (made once), as `foveal train --data` takes it."""
    if task == "classify":
        from transfer_head import subset_tree

        data = out / "cifar1k"
        if not data.is_dir():
            subset_tree(root / "cifar10-jpg" / "train", data / "train", 500)
            subset_tree(root / "cifar10-jpg" / "test", data / "val", 100)
        return str(data)
    if task == "segment":
        from coco_semantic import convert

        data = out / "coco128-semantic"
        if not data.is_dir():
            convert(root / "coco128-seg", data)
        return str(data)
    return str(root / "coco128" / "data.yaml")


def train_args(task: str, data: str) -> list[str]:
    if task == "classify":
        return ["--model", "efficientnet_lite0", "--pretrained", "--data", data, "--time-limit", "8"]
    if task == "detect":
        return ["--model", "fcos", "--pretrained", "--data", data, "--img-size", "320", "--epochs", "1000",
                "--time-limit", "12", "--no-augment", "--optimizer", "adamw", "--lr", "5e-4", "--warmup-epochs", "1",
                "--val-period", "5"]
    # 480x480 whole photos: the U-Net as its figures were recorded (the defaults since issue 30: full resolution, crops)
    return ["--task", "segment", "--model", "unet", "--pretrained", "--data", data, "--time-limit", "10", "--img-size",
            "480", "--train-scale", "1.0"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="a folder outside the project for the data, the runs and the exported files")
    ap.add_argument("--tasks", default=",".join(TASKS))
    ap.add_argument("--data-root", default=None)
    args = ap.parse_args(argv)
    out, root = Path(args.out).resolve(), Path(args.data_root or default_data_root())
    out.mkdir(parents=True, exist_ok=True)
    print(f"hardware: {hardware()}", flush=True)
    for task in args.tasks.split(","):
        if task not in TASKS:
            ap.error(f"--tasks: one or more of {', '.join(TASKS)}; got {task!r}")
        data = prepare(task, out, root)
        runs = out / "runs" / task  # made afresh: a new run folder would otherwise be train2, train3, ...
        shutil.rmtree(runs, ignore_errors=True)
        subprocess.run(["foveal", "train", *train_args(task, data), "--seed", "0", "--project", str(runs),
                        "--name", "train"], check=True)
        bench = ["foveal", "benchmark", "--model", str(runs / "train" / "best.pt"), "--project", str(runs),
                 "--name", "benchmark"]
        subprocess.run(bench + (["--data", data] if task == "classify" else []), check=True)
        (HERE / "results").mkdir(exist_ok=True)
        shutil.copy(runs / "benchmark" / "benchmark.csv", HERE / "results" / f"export_{task}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
