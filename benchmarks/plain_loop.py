"""foveal's seed models vs the plain PyTorch loop of the classic tutorial (issue 2).

Trains `linear`, `mlp` and `tinyvgg` on the full Fashion-MNIST with the tutorial's settings (SGD lr 0.1, batch 32,
3 epochs, a test-set evaluation after every epoch) twice per seed, in this one process: once with the tutorial's
plain loop (torchvision dataset + ToTensor + DataLoader, `.item()` every step) and once with `foveal.Model.train`.
The plain and foveal runs are interleaved per seed so that machine noise hits both.

The claim checked: for every model foveal's mean last-epoch test accuracy is at least the plain loop's, and foveal's
median training time (train epochs + per-epoch test passes) is at most 1/5 of the plain loop's for linear and mlp,
and at most 1/2 for tinyvgg.

    python benchmarks/plain_loop.py                       # full run (~15 min on 2 cores)
    python benchmarks/plain_loop.py --quick               # one seed per model, a smoke run
    python benchmarks/plain_loop.py --models tinyvgg --seeds 42 0
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from foveal.bench import plain
from foveal.bench.train import run_foveal as foveal_run
from foveal.bench.machine import describe, foveal_source, hardware, keep_warm, mean_std, measured  # noqa: F401

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
MODELS = ("linear", "mlp", "tinyvgg")
TIME_TARGET = {"linear": 0.2, "mlp": 0.2, "tinyvgg": 0.5}  # foveal median time / plain median time, at most
TINYVGG_SEEDS = 3  # tinyvgg runs on the first 3 seeds only (it is the slow one)
EPOCHS, BATCH_SIZE, LR = plain.TUTORIAL["epochs"], plain.TUTORIAL["batch_size"], plain.TUTORIAL["lr"]


# --- where the data is ------------------------------------------------------------------------------------------

def default_data_root() -> str:
    """The output of ../shared/datasets/prepare (it unpacks the test data, idempotently, and honours
    $FOVEAL_TEST_DATA); without the script, $FOVEAL_TEST_DATA or ~/.cache/foveal-test-data."""
    prepare = REPO.parent / "shared" / "datasets" / "prepare"
    if prepare.is_file():
        out = subprocess.run([str(prepare)], check=True, capture_output=True, text=True).stdout.strip().splitlines()
        if out:
            return out[-1]
    return os.environ.get("FOVEAL_TEST_DATA", str(Path.home() / ".cache" / "foveal-test-data"))


# --- the plain loop, as the classic tutorial writes it: foveal.bench.plain --------------------------------------

def plain_datasets(root: str):
    from torchvision.transforms import ToTensor

    return plain.datasets("fashion-mnist", os.path.join(root, "fashion-mnist"), ToTensor(), ToTensor())


def run_plain(name: str, seed: int, train_data, test_data) -> dict:
    return plain.run_tutorial(name, seed, train_data, test_data)


# --- foveal ------------------------------------------------------------------------------------------------------

def run_foveal(name: str, seed: int, root: str, project: str) -> dict:
    return foveal_run(name, name, seed, "fashion-mnist", root, project, **plain.TUTORIAL)


# --- summary -----------------------------------------------------------------------------------------------------

def summarise(name: str, runs: list[dict]) -> dict:
    plain = [r for r in runs if r["model"] == name and r["runner"] == "plain"]
    fov = [r for r in runs if r["model"] == name and r["runner"] == "foveal"]
    p_acc, p_std = mean_std([r["accuracy_last"] for r in plain])
    f_acc, f_std = mean_std([r["accuracy_last"] for r in fov])
    f_best, f_best_std = mean_std([r["accuracy_best"] for r in fov])
    p_time = statistics.median(r["time_s"] for r in plain)
    f_time = statistics.median(r["time_s"] for r in fov)
    ratio = f_time / p_time
    acc_pass, time_pass = f_acc >= p_acc, ratio <= TIME_TARGET[name]
    return {
        "model": name, "seeds": [r["seed"] for r in plain], "n": len(plain),
        "plain_accuracy_mean": p_acc, "plain_accuracy_std": p_std, "plain_time_median_s": p_time,
        "foveal_accuracy_last_mean": f_acc, "foveal_accuracy_last_std": f_std,
        "foveal_accuracy_best_mean": f_best, "foveal_accuracy_best_std": f_best_std, "foveal_time_median_s": f_time,
        "accuracy_diff": f_acc - p_acc, "time_ratio": ratio, "time_target": TIME_TARGET[name],
        "accuracy_pass": acc_pass, "time_pass": time_pass, "pass": acc_pass and time_pass,
    }


def print_table(summaries: list[dict]) -> None:
    head = (f"{'model':<8} {'n':>2}  {'plain acc':>14} {'plain t':>8}  {'foveal acc (last)':>17} {'foveal acc (best)':>17} "
            f"{'foveal t':>8}  {'Δ acc':>7} {'t ratio':>7} {'target':>6}  {'acc':>4} {'time':>4}")
    print(head)
    print("-" * len(head))
    for s in summaries:
        print(f"{s['model']:<8} {s['n']:>2}  "
              f"{100 * s['plain_accuracy_mean']:>6.2f} ± {100 * s['plain_accuracy_std']:<5.2f} {s['plain_time_median_s']:>7.1f}s  "
              f"{100 * s['foveal_accuracy_last_mean']:>8.2f} ± {100 * s['foveal_accuracy_last_std']:<5.2f} "
              f"{100 * s['foveal_accuracy_best_mean']:>8.2f} ± {100 * s['foveal_accuracy_best_std']:<5.2f} "
              f"{s['foveal_time_median_s']:>7.1f}s  {100 * s['accuracy_diff']:>+6.2f}  {s['time_ratio']:>7.3f} "
              f"{'≤' + format(s['time_target'], '.1f'):>6}  {'PASS' if s['accuracy_pass'] else 'FAIL':>4} "
              f"{'PASS' if s['time_pass'] else 'FAIL':>4}")
    print("accuracy in %, mean ± std over seeds, last epoch's test accuracy compared (foveal's best epoch shown too); "
          "times are medians of train epochs + per-epoch test passes; t ratio = foveal / plain")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", default=None, help="folder holding fashion-mnist/FashionMNIST/raw "
                    "(default: the output of ../shared/datasets/prepare, or $FOVEAL_TEST_DATA)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1, 2, 3],
                    help=f"seeds for linear and mlp; tinyvgg uses the first {TINYVGG_SEEDS}")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS))
    ap.add_argument("--quick", action="store_true", help="one seed per model (the first of --seeds), a smoke run")
    ap.add_argument("--out", default=str(HERE / "results" / "plain_loop.json"), help="where to write the results as JSON")
    ap.add_argument("--noise-threshold", type=float, default=0.10,
                    help="a run during which other processes used more than this share of the CPU is done again; "
                    "before each run, wait until they use less (default 0.10; 1 turns both off)")
    ap.add_argument("--retries", type=int, default=3, help="times a disturbed run is done again (default 3)")
    ap.add_argument("--quiet-timeout", type=float, default=600, help="longest wait for a quiet machine, in s (default 600)")
    args = ap.parse_args(argv)

    root = args.data_root or default_data_root()
    hw = hardware()
    source = foveal_source()  # imports foveal now, so every run of this process uses this code
    print(describe(hw))
    print(f"foveal {source['version']} from {source['path']} (sources sha256 {source['source_sha256']})")
    print(f"data root: {root}")
    train_data, test_data = plain_datasets(root)

    plan = []
    for name in args.models:
        seeds = args.seeds[:1] if args.quick else (args.seeds[:TINYVGG_SEEDS] if name == "tinyvgg" else args.seeds)
        plan.append((name, seeds))
    print("plan: " + "; ".join(f"{n} seeds {' '.join(map(str, s))}" for n, s in plan), flush=True)

    runs: list[dict] = []
    wall = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="foveal-bench-") as project:
        for name, seeds in plan:
            for seed in seeds:
                for runner in ("plain", "foveal"):  # interleaved, so machine noise hits both
                    fn, fargs = (run_plain, (name, seed, train_data, test_data)) if runner == "plain" else \
                        (run_foveal, (name, seed, root, project))
                    r = measured(fn, *fargs, threshold=args.noise_threshold, retries=args.retries,
                                 quiet_timeout=args.quiet_timeout)
                    runs.append(r)
                    print(f"  {name:<8} seed {seed:>3}  {runner:<6}  acc last {100 * r['accuracy_last']:.2f}%  "
                          f"best {100 * r['accuracy_best']:.2f}%  {r['time_s']:6.1f}s  (cpu {r['cpu_s']:.1f}s, "
                          f"others {100 * r['others_cpu_share']:.0f}%, steal {100 * r['steal_fraction']:.0f}%"
                          f"{', DISTURBED' if r['disturbed'] else ''})", flush=True)
    summaries = [summarise(name, runs) for name, _ in plan]
    print()
    print_table(summaries)
    ok = all(s["pass"] for s in summaries)
    disturbed = [r for r in runs if r["disturbed"]]
    if disturbed:
        print(f"warning: {len(disturbed)} run(s) stayed disturbed by other processes after {args.retries} retries: "
              + ", ".join(f"{r['runner']} {r['model']} seed {r['seed']}" for r in disturbed))
    print(f"overall: {'PASS' if ok else 'FAIL'}  (benchmark wall time {time.perf_counter() - wall:.0f}s)")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "benchmark": "plain_loop", "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hw, "foveal": source, "data_root": root, "quick": args.quick,
        "settings": {"data": "fashion-mnist", "epochs": EPOCHS, "batch_size": BATCH_SIZE, "optimizer": "sgd", "lr": LR},
        "noise_threshold": args.noise_threshold, "summary": summaries, "runs": runs, "pass": ok,
    }, indent=2))
    print(f"results written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
