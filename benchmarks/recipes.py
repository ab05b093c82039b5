"""The speed recipes against their targets (issues 6 and 30): `--recipe fast` and `fast-long` on the full
Fashion-MNIST and MNIST (and, when asked, CIFAR-10's JPEG copy) from ../shared, several seeds each, in this one
process, with the seed tutorial's TinyVGG recipe (SGD lr 0.1, batch 32, 3 epochs) run beside them as the baseline for
time to accuracy. A check `data:recipe:minutes` gives the recipe that budget (`--time-limit minutes`), as issue 30's
targets do.

    python benchmarks/recipes.py                                   # every check, 3 seeds (about 30 minutes)
    python benchmarks/recipes.py --only fashion-mnist:fast --seeds 0 # one recipe, one seed
    python benchmarks/recipes.py --only cifar10:fast-long --seeds 0 1 --no-baseline   # CIFAR-10, 2 x 20 minutes
    python benchmarks/recipes.py --only fashion-mnist:fast:2 fashion-mnist:fast:1.5 mnist:fast:1 --no-baseline

Prints per run the test accuracy, training seconds and images/s; per recipe the mean and spread over seeds against its
target; writes benchmarks/results/recipes.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, hardware  # noqa: E402

# (data, recipe) -> (accuracy at least, within seconds of training): the done-when figures
TARGETS = {
    ("fashion-mnist", "fast"): (0.920, 90.0),
    ("fashion-mnist", "fast-long"): (0.935, 300.0),
    ("mnist", "fast"): (0.993, 60.0),
    ("cifar10", "fast-long"): (0.915, 1200.0),  # 2 seeds: --only cifar10:fast-long --seeds 0 1 (about 45 minutes)
    # issue 30, on an AVX2 CPU in fp32: the recipe given a budget of minutes
    ("fashion-mnist", "fast", 2.0): (0.920, 120.0),
    ("fashion-mnist", "fast", 1.5): (0.915, 90.0),
    ("mnist", "fast", 1.0): (0.993, 60.0),
}
DEFAULT_CHECKS = [k for k in TARGETS if k[0] != "cifar10" and len(k) == 2]  # the grey ones, about 30 minutes
DATA_DIRS = {"cifar10": "cifar10-jpg"}  # ../shared's CIFAR-10 is the JPEG image-folder copy
BASELINE = dict(model="tinyvgg", epochs=3, batch_size=32, optimizer="sgd", lr=0.1)  # the seed tutorial's recipe


def run(data: str, root: str, seed: int, project: str, **settings) -> dict:
    from foveal.bench.train import run_foveal

    start = time.perf_counter()
    label = settings.get("recipe") or settings.get("model", "run")
    r = run_foveal(label, settings.pop("model", None), seed, data, f"{root}/{DATA_DIRS.get(data, data)}", project,
                   **settings)
    return {"data": data, "seed": seed, "accuracy": r["accuracy_best"], "accuracy_last": r["accuracy_last"],
            "train_time_s": r["time_s"], "images_per_s": r["images_per_s"], "wall_s": time.perf_counter() - start,
            "epochs": len(r["epochs"])}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--only", nargs="+", default=None, help="data:recipe pairs, e.g. fashion-mnist:fast")
    ap.add_argument("--no-baseline", action="store_true", help="skip the TinyVGG baseline runs")
    ap.add_argument("--out", default=str(HERE / "results" / "recipes.json"))
    args = ap.parse_args(argv)
    root = args.data_root or default_data_root()
    checks = [_check(x) for x in args.only] if args.only else DEFAULT_CHECKS
    print(f"hardware: {hardware()}", flush=True)
    project = tempfile.mkdtemp()
    results, ok = {}, True
    for data in dict.fromkeys(c[0] for c in checks):
        if not args.no_baseline:
            base = run(data, root, args.seeds[0], project, **BASELINE)
            print(f"{data} baseline tinyvgg (tutorial recipe): {base['accuracy']:.2%} in {base['train_time_s']:.0f} s "
                  f"({base['images_per_s']:.0f} img/s)", flush=True)
            results[f"{data}:baseline"] = [base]
        for check in checks:
            if check[0] != data:
                continue
            recipe, budget = check[1], {"time_limit": check[2]} if len(check) > 2 else {}
            name = recipe + (f" --time-limit {check[2]:g}" if budget else "")
            runs = []
            for seed in args.seeds:
                r = run(data, root, seed, project, recipe=recipe, **budget)
                runs.append(r)
                print(f"{data} --recipe {name} seed {seed}: {r['accuracy']:.2%} in {r['train_time_s']:.1f} s "
                      f"({r['images_per_s']:.0f} img/s, {r['epochs']} epochs)", flush=True)
            accs = [r["accuracy"] for r in runs]
            secs = [r["train_time_s"] for r in runs]
            mean, spread = statistics.mean(accs), (statistics.stdev(accs) if len(accs) > 1 else 0.0)
            target = TARGETS.get(check)
            passed = target is None or (mean >= target[0] and max(secs) <= target[1])
            ok &= passed
            line = (f"  {data} --recipe {name}: {mean:.2%} ± {spread:.2%} over {len(runs)} seeds, "
                    f"{statistics.median(secs):.1f} s median (max {max(secs):.1f} s)")
            if target:
                line += f"  {'PASS' if passed else 'FAIL'}  target >= {target[0]:.1%} within {target[1]:.0f} s"
            if f"{data}:baseline" in results:
                b = results[f"{data}:baseline"][0]
                line += f"; {statistics.median(secs) / b['train_time_s']:.2f}x the baseline's time, " \
                        f"{mean - b['accuracy']:+.2%} accuracy"
            print(line, flush=True)
            results[":".join(map(str, check))] = {"runs": runs, "mean": mean, "std": spread, "target": target, "pass": passed}
    out = {"benchmark": "recipes", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hardware(),
           "args": vars(args), "results": results}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    return 0 if ok else 1


def _check(text: str) -> tuple:
    """`data:recipe` or `data:recipe:minutes`."""
    parts = text.split(":")
    return (parts[0], parts[1], float(parts[2])) if len(parts) > 2 else (parts[0], parts[1])


if __name__ == "__main__":
    sys.exit(main())
