"""Fine-tuning with no flags against the frozen head with no flags (issue 26's "done when"), on real photos.

Every run is `foveal.Model("efficientnet_lite0").train(data, pretrained=True, finetune=MODE, seed=S)` and nothing
else, so the fine-tuning defaults (tasks/classify/defaults.py) are what is measured; the figures kept are the best
epoch's accuracy and log loss on the validation split, the way `foveal train` reports them, and the whole call's wall
time (decoding and feature caching included; every run starts from an empty tensor cache).

- `hymenoptera`: PyTorch's transfer-learning tutorial photos from ../shared (245 train / 153 val, many sizes).
  Checked: the mean over the seeds of every fine-tuning mode is at least head's in accuracy and in log loss, and
  full reaches 95.0%.
- `cifar10`: cifar10-jpg from ../shared, the first `--per-class` photos of each class of train (5,000) against all
  10,000 test photos. Checked: full, given `--time-limit` minutes (30), beats head by at least 5 points, and its whole
  call takes no more than the limit.

    python benchmarks/transfer_defaults.py hymenoptera --modes head,full,gradual --seeds 0,1,2   # ~30 min, 2 cores
    python benchmarks/transfer_defaults.py cifar10 --modes head,full --time-limit 30            # ~45 min, 2 cores

`--set KEY=VALUE` (repeatable) passes one more training setting to every run but head's, to measure a default
against another value of it (`--set train_scale=0.8`).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from plain_loop import default_data_root  # noqa: E402
from transfer_head import subset_tree  # noqa: E402

from foveal.bench.machine import describe, hardware  # noqa: E402

FULL_TARGET = 0.95  # hymenoptera: full's mean accuracy, at least
MARGIN = 0.05  # cifar10: full over head, in accuracy, at least


def prepare(name: str, root: Path, per_class: int, work: Path) -> Path:
    if name == "hymenoptera":
        return root / "hymenoptera_data"
    data = work / "cifar10"
    subset_tree(root / "cifar10-jpg" / "train", data / "train", per_class)
    subset_tree(root / "cifar10-jpg" / "test", data / "val", None)
    return data


def run(data: Path, mode: str, seed: int, project: Path, time_limit: float | None,
        overrides: dict[str, object] | None = None) -> dict:
    import foveal

    os.environ["FOVEAL_CACHE"] = tempfile.mkdtemp()  # decoding and caching are part of every run
    extra = {"time_limit": time_limit} if time_limit and mode != "head" else {}
    if mode != "head":
        extra.update(overrides or {})
    model = foveal.Model("efficientnet_lite0")
    start = time.perf_counter()
    metrics = model.train(data=str(data), pretrained=True, finetune=mode, seed=seed, project=str(project),
                          name=f"{mode}-{seed}", progress=False, **extra)
    wall = time.perf_counter() - start
    with (model.run_dir / "results.csv").open() as f:
        epochs = list(csv.DictReader(f))
    return {"mode": mode, "seed": seed, "accuracy": metrics["accuracy"], "log_loss": metrics["log_loss"],
            "wall_s": round(wall, 1), "epochs": len(epochs), "run_dir": str(model.run_dir), **extra}


def summary(runs: list[dict], mode: str) -> dict:
    mine = [r for r in runs if r["mode"] == mode]
    return {"accuracy": statistics.mean(r["accuracy"] for r in mine), "log_loss": statistics.mean(r["log_loss"] for r in mine),
            "wall_s": statistics.mean(r["wall_s"] for r in mine), "seeds": [r["seed"] for r in mine]}


def checks(data: str, means: dict[str, dict], time_limit: float | None) -> dict[str, bool]:
    out: dict[str, bool] = {}
    head = means.get("head")
    for mode, m in means.items():
        if mode == "head" or head is None:
            continue
        if data == "hymenoptera":
            out[f"{mode} >= head in accuracy"] = m["accuracy"] >= head["accuracy"]
            out[f"{mode} <= head in log loss"] = m["log_loss"] <= head["log_loss"]
        else:
            out[f"{mode} beats head by {MARGIN:.0%}"] = m["accuracy"] - head["accuracy"] >= MARGIN
            if time_limit:
                out[f"{mode} within {time_limit:g} min"] = m["wall_s"] <= time_limit * 60
    if data == "hymenoptera" and "full" in means:
        out[f"full >= {FULL_TARGET:.0%}"] = means["full"]["accuracy"] >= FULL_TARGET
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", choices=["hymenoptera", "cifar10"])
    ap.add_argument("--modes", default="head,full")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--time-limit", type=float, default=None, help="minutes for every mode but head")
    ap.add_argument("--per-class", type=int, default=500, help="cifar10: training photos per class")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="one more training setting for every mode but head (repeatable)")
    args = ap.parse_args(argv)
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    work = Path(tempfile.mkdtemp())
    data = prepare(args.data, Path(args.data_root or default_data_root()), args.per_class, work)
    print(describe(hardware()), flush=True)
    runs = []
    for mode in args.modes.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            runs.append(run(data, mode, seed, work / "runs", args.time_limit, overrides))
            print(f"  {runs[-1]}", flush=True)
    means = {mode: summary(runs, mode) for mode in dict.fromkeys(r["mode"] for r in runs)}
    print(f"\n{'mode':<8} {'accuracy':>9} {'log loss':>9} {'wall':>8}")
    for mode, m in means.items():
        print(f"{mode:<8} {m['accuracy']:>9.2%} {m['log_loss']:>9.3f} {m['wall_s']:>7.0f}s")
    result = checks(args.data, means, args.time_limit)
    for name, ok in result.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    out = Path(args.out or HERE / "results" / f"transfer_defaults_{args.data}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"benchmark": "transfer_defaults", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                               "hardware": hardware(), "args": vars(args), "runs": runs, "means": means,
                               "checks": result}, indent=2))
    print(f"results written to {out}")
    return 0 if all(result.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
