"""Issue 29's scaling figures: on this machine, `foveal train` in 1 process x all threads against N processes x 1
thread (`--nproc N`), and the cost of the gradient all-reduce per step measured over gloo, from which the expected
scaling to 4 and 8 machines is worked out on paper (ring all-reduce over a network of a given bandwidth).

    python benchmarks/ddp_scaling.py                       # fashion-mnist --recipe fast for 1 epoch, 3 repeats
    python benchmarks/ddp_scaling.py --data cifar10 --repeats 2

Prints the hardware, per run the training images/s and the whole command's seconds, the medians and their ratio,
where the time of a step goes, and the projection; writes benchmarks/results/ddp_scaling_<data>.json.
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

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from plain_loop import default_data_root, describe, hardware  # noqa: E402

DATA_DIRS = {"cifar10": "cifar10-jpg"}
NETWORKS = {"1 GbE": 0.117e9, "10 GbE": 1.17e9, "25 GbE": 2.9e9}  # usable bytes/s of each link
LATENCY_S = 50e-6  # one TCP message between machines of a rack


def train(data: str, root: str, project: str, name: str, nproc: int, threads: int, epochs: int) -> dict:
    cmd = [sys.executable, "-m", "foveal", "-q", "train", "--data", data, "--data-root", root, "--recipe", "fast",
           "--epochs", str(epochs), "--amp", "off", "--seed", "0", "--project", project, "--name", name]
    if nproc > 1:
        cmd += ["--nproc", str(nproc)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, capture_output=True)
    wall = time.perf_counter() - start
    metrics = json.loads((Path(project) / name / "metrics.json").read_text())
    rows = (Path(project) / name / "results.csv").read_text().splitlines()
    header = rows[0].split(",")
    last = dict(zip(header, rows[-1].split(",")))
    return {"processes": nproc, "threads": threads, "images_per_s": metrics["train_images_per_s"],
            "train_s": float(last["train_s"]), "eval_s": float(last.get("eval_s") or 0), "wall_s": wall,
            "accuracy": metrics["accuracy"], "parameters": metrics["parameters"], "steps": None}


def _allreduce_worker(rank: int, world: int, port: int, sizes: list[int], reps: int, out: str) -> None:
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    times = {}
    for n in sizes:
        t = torch.randn(n)
        dist.all_reduce(t)
        seen = []
        for _ in range(reps):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(t)
            seen.append(time.perf_counter() - start)
        times[n] = statistics.median(seen)
    if rank == 0:
        Path(out).write_text(json.dumps(times))
    dist.destroy_process_group()


def allreduce_times(sizes: list[int], reps: int = 20) -> dict[int, float]:
    """Median seconds of one all-reduce of n float32 values between 2 gloo processes on this machine."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        mp.spawn(_allreduce_worker, args=(2, port, sizes, reps, f.name), nprocs=2)
        return {int(k): v for k, v in json.loads(Path(f.name).read_text()).items()}


def ring_seconds(values: int, machines: int, bandwidth: float) -> float:
    """A ring all-reduce of `values` float32 between `machines`: each sends and receives 2 (W-1)/W of the bytes, in
    2 (W-1) messages."""
    if machines == 1:
        return 0.0
    return 2 * (machines - 1) / machines * 4 * values / bandwidth + 2 * (machines - 1) * LATENCY_S


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="fashion-mnist")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=None)
    args = ap.parse_args(argv)
    root = args.data_root or default_data_root()
    data_root = f"{root}/{DATA_DIRS.get(args.data, args.data)}"
    cores = os.cpu_count() or 1
    hw = hardware()
    print(describe(hw))
    configs = [(1, cores), (cores, 1)]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as project:
        for r in range(args.repeats):  # interleaved, so that a slow spell of the machine hits both
            for nproc, threads in configs:
                res = train(args.data, data_root, project, f"p{nproc}_{r}", nproc, threads, args.epochs)
                runs.append(res)
                print(f"{nproc} process(es) x {threads} thread(s): {res['images_per_s']:.0f} img/s training, "
                      f"train {res['train_s']:.1f}s, eval {res['eval_s']:.1f}s, command {res['wall_s']:.1f}s, "
                      f"accuracy {res['accuracy']:.4f}", flush=True)

    def median(nproc: int, key: str) -> float:
        return statistics.median(r[key] for r in runs if r["processes"] == nproc)

    one, many = median(1, "images_per_s"), median(cores, "images_per_s")
    print(f"\ntraining images/s: 1 x {cores} threads {one:.0f}, {cores} x 1 thread {many:.0f}: ratio {many / one:.2f}")
    print(f"whole command: {median(1, 'wall_s'):.1f}s against {median(cores, 'wall_s'):.1f}s: ratio "
          f"{median(1, 'wall_s') / median(cores, 'wall_s'):.2f}")

    params = runs[0]["parameters"]
    sizes = sorted({params, 1_000_000, 10_000_000})
    reduce_s = allreduce_times(sizes)
    batch = 512  # the fast recipe's global batch
    n_train = round(one * median(1, "train_s"))
    steps = -(-n_train // batch)
    step_s = median(cores, "train_s") / steps
    print(f"\nall-reduce over gloo on this machine (2 processes): " + ", ".join(
        f"{n / 1e6:g}M values {1e3 * t:.2f} ms ({4 * n / t / 1e9:.2f} GB/s)" for n, t in reduce_s.items()))
    print(f"the model's gradients: {params:,} values, {4 * params / 1e6:.2f} MB; per step {1e3 * reduce_s[params]:.2f} ms "
          f"of a {1e3 * step_s:.1f} ms step with {cores} processes ({100 * reduce_s[params] / step_s:.1f}%), "
          f"{steps} steps an epoch")

    compute_s = median(1, "train_s") / steps  # one machine's step, all its threads on the global batch
    projection = {}
    print(f"\nexpected speed-up on W machines like this one (a step's compute split W ways, plus a ring all-reduce "
          f"of {4 * params / 1e6:.2f} MB, not overlapped):")
    for net, bw in NETWORKS.items():
        row = {w: compute_s / (compute_s / w + ring_seconds(params, w, bw)) for w in (1, 2, 4, 8)}
        projection[net] = row
        print(f"  {net:>7}: " + "  ".join(f"W={w} {s:.2f}x" for w, s in row.items()))
    out = Path(args.out or HERE / "results" / f"ddp_scaling_{args.data}.json")
    out.write_text(json.dumps({
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "hardware": hw, "data": args.data, "epochs": args.epochs,
        "runs": runs, "ratio_images_per_s": many / one, "allreduce_s": reduce_s, "parameters": params,
        "steps_per_epoch": steps, "step_s_distributed": step_s, "step_s_one_process": compute_s,
        "projection": projection,
    }, indent=2))
    print(f"written {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
