"""`foveal benchmark`: one trained model in every format and precision (the eager checkpoint, ONNX and OpenVINO, fp32
and int8), each with its file size, load time, latency at batch 1 (median and p90 after a warm-up), throughput at
its best batch size and the task's metric on the validation split; a table, a CSV and a chart in a new folder.

Every row times the same thing: the network on a normalised batch of validation images, as `predict` calls it
(decoding and resizing are the same code for every format, and are left out)."""

from __future__ import annotations

import csv
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from foveal.config import TrainConfig
from foveal.engine.checkpoint import load_model, resolve_checkpoint
from foveal.engine.device import use_channels_last
from foveal.engine.rundir import new_run_dir
from foveal.errors import FovealError
from foveal.models.card import ModelCard

log = logging.getLogger("foveal")

VARIANTS = (("pytorch", False), ("onnx", False), ("onnx", True), ("openvino", False), ("openvino", True))
BATCHES = (1, 8, 32)


@dataclass
class Row:
    format: str
    precision: str
    size_mb: float
    load_s: float
    latency_ms: float  # batch 1, median
    latency_p90_ms: float
    throughput: float  # images/s at `best_batch`
    best_batch: int
    end_to_end_ms: float | None  # predict on image files, per image: decoding, preprocessing, network, post-processing
    metric: float | None
    metric_name: str
    gates_passed: bool | None = None  # None: the eager reference itself

    def cells(self) -> list[str]:
        metric = "" if self.metric is None else f"{self.metric:.4f}"
        e2e = "" if self.end_to_end_ms is None else f"{self.end_to_end_ms:.1f}"
        gates = {None: "reference", True: "pass", False: "FAIL"}[self.gates_passed]
        return [self.format, self.precision, f"{self.size_mb:.1f}", f"{self.load_s:.2f}", f"{self.latency_ms:.2f}",
                f"{self.latency_p90_ms:.2f}", f"{self.throughput:.1f} (batch {self.best_batch})", e2e, metric, gates]


HEADER = ["format", "precision", "size MB", "load s", "batch-1 ms (median)", "p90 ms", "images/s", "predict ms/image",
          "metric", "gates"]


@dataclass
class Benchmark:
    rows: list[Row]
    folder: Path
    failed: list[str]  # the variants whose export missed a gate, and why
    machine: str

    def lines(self) -> list[str]:
        widths = [max(len(h), *(len(r.cells()[i]) for r in self.rows)) for i, h in enumerate(HEADER)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        base = self.rows[0]
        out = [self.machine, fmt.format(*HEADER), *(fmt.format(*r.cells()) for r in self.rows)]
        for r in self.rows[1:]:
            e2e = "" if r.end_to_end_ms is None else f", {base.end_to_end_ms / r.end_to_end_ms:.2f}x in predict"
            out.append(f"{r.format} {r.precision}: {base.latency_ms / r.latency_ms:.2f}x as fast as eager at batch 1{e2e}")
        return out + [f"not measured: {f}" for f in self.failed] + [f"results in {self.folder}"]


def benchmark_checkpoint(checkpoint: str | Path, task_of: Callable[[ModelCard], Any], *, data: str | Path | None = None,
                         runs: int = 50, project: str | Path = "runs", name: str = "benchmark",
                         variants: tuple[tuple[str, bool], ...] = VARIANTS, files: int = 32) -> Benchmark:
    """Each variant exported into a new <project>/<name> folder and measured; `files` validation images (where the
    data set has files) are predicted from their files for the end-to-end figure."""
    from foveal.export import export_checkpoint
    from foveal.runtime import load_exported

    if runs < 10:
        raise FovealError(f"--runs is the batch-1 timings per format, 10 or more; got {runs}")
    source = resolve_checkpoint(checkpoint)
    model, card, ckpt = load_model(source)
    task_type = task_of(card)
    cfg = TrainConfig.from_dict(ckpt["config"])
    if data is not None:
        cfg = cfg.replace(data=str(data), data_root=None)
    splits = task_type.load_data(cfg)
    val = task_type.eval_split(splits, card)
    task = task_type(cfg, card, torch.device("cpu"), False)
    x = next(task.export_inputs(val, max(BATCHES), max(BATCHES)))
    folder = new_run_dir(project, name)
    rows, failed = [], []
    for fmt, int8 in variants:
        precision = "int8" if int8 else "fp32"
        start = time.perf_counter()
        if fmt == "pytorch":
            if int8:
                continue
            module, _, _ = load_model(source)
            if use_channels_last(None, module):
                module = module.to(memory_format=torch.channels_last)
            network = task_type.export_network(module).eval()  # timed: what an exported file holds
            size, gates, path = source.stat().st_size, None, source
        else:
            log.info("exporting %s %s", fmt, precision)
            suffix = ".onnx" if fmt == "onnx" else "_openvino.xml"
            try:
                result = export_checkpoint(source, task_of, format=fmt, int8=int8, data=data,
                                           out=folder / f"{source.stem}{'_int8' if int8 else ''}{suffix}", check=True)
            except FovealError as err:  # a missed gate: the row says so, the other formats are still measured
                log.warning("%s %s: %s", fmt, precision, err)
                failed.append(f"{fmt} {precision}: {err}")
                continue
            start = time.perf_counter()  # the load, not the export
            module, _, _ = load_exported(result.path)
            network = module
            size = result.path.stat().st_size + (result.path.with_suffix(".bin").stat().st_size if fmt == "openvino" else 0)
            gates, path = all(g.passed for g in result.gates), result.path
        load_s = time.perf_counter() - start
        module.eval()
        latencies = _latencies(network, x[:1], runs)
        sizes = (1,) if getattr(network, "one_image", False) else BATCHES  # a two-stage detector: one image a call
        best = max(((_throughput(network, x[:b]), b) for b in sizes), key=lambda t: t[0])
        e2e = _end_to_end(task_type, path, (getattr(val, "paths", None) or [])[:files])
        out = task.evaluate(module, task.val_loader(val))
        rows.append(Row(fmt, precision, size / 1e6, load_s, statistics.median(latencies),
                        _percentile(latencies, 0.9), best[0], best[1], e2e, out.metrics.get(task.fitness_key),
                        task.fitness_key, gates))
        log.info("%s", " | ".join(rows[-1].cells()))
    from foveal.engine.device import cpu_name

    bench = Benchmark(rows, folder, failed, f"CPU: {cpu_name()} | threads: {torch.get_num_threads()} | ISA: "
                                    f"{torch.backends.cpu.get_cpu_capability()} | torch {torch.__version__}")
    _write(bench)
    return bench


@torch.inference_mode()
def _latencies(module, x: torch.Tensor, runs: int) -> list[float]:
    for _ in range(5):
        module(x)
    out = []
    for _ in range(runs):
        t = time.perf_counter()
        module(x)
        out.append(1000 * (time.perf_counter() - t))
    return out


@torch.inference_mode()
def _throughput(module, x: torch.Tensor, seconds: float = 1.0) -> float:
    module(x)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds or n < 3:
        module(x)
        n += 1
    return n * len(x) / (time.perf_counter() - start)


def _end_to_end(task_type, path: Path, files: list[str], repeats: int = 3) -> float | None:
    """Milliseconds per image of the task's predictor on `files` (read, decoded, prepared, run, post-processed),
    the median of `repeats` passes after a warm-up on two of them; None without files."""
    if not files or task_type.predictor is None:
        return None
    predictor = task_type.predictor.from_checkpoint(path, device="cpu")
    predictor.predict(files[:2])
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predictor.predict(files)
        times.append(1000 * (time.perf_counter() - start) / len(files))
    return statistics.median(times)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _write(bench: Benchmark) -> None:
    with (bench.folder / "benchmark.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(asdict(bench.rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in bench.rows)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r.format}\n{r.precision}" for r in bench.rows]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, values, title in ((axes[0], [r.latency_ms for r in bench.rows], "batch-1 latency, ms (median)"),
                              (axes[1], [r.throughput for r in bench.rows], "throughput, images/s (best batch)"),
                              (axes[2], [r.metric or 0 for r in bench.rows], bench.rows[0].metric_name)):
        ax.bar(labels, values, color=["#888888"] + ["#4477aa"] * (len(values) - 1))
        ax.set_title(title)
    fig.suptitle(bench.machine, fontsize=8)
    fig.tight_layout()
    fig.savefig(bench.folder / "benchmark.png", dpi=100)
    plt.close(fig)
