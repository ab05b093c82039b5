"""`foveal demo`: the classic tutorial in one command, offline: train the seed models, compare them, write a report."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from foveal.api import Model
from foveal.compare import compare_runs, write_comparison
from foveal.engine.rundir import new_run_dir

log = logging.getLogger("foveal")

DEMO_MODELS = ("linear", "mlp", "tinyvgg", "lenet")


def run_demo(*, data: str = "digits", data_root: str | None = None, epochs: int = 10, project: str = "runs",
             models: tuple[str, ...] = DEMO_MODELS, progress: bool = True) -> Path:
    """Train each seed model with the same recipe, compare them and write `report.md` with the figures."""
    out = new_run_dir(project, "demo")
    runs = []
    for name in models:
        m = Model(name)
        m.train(data=data, data_root=data_root, epochs=epochs, project=str(out), name=name, progress=progress,
                optimizer="sgd", lr=0.1, momentum=0.9, batch_size=32, schedule="cosine")
        runs.append(m.run_dir)
    rows = compare_runs(runs)
    chart, table = write_comparison(rows, out / "compare.png")
    best = max(rows, key=lambda r: r["accuracy"])
    (out / "report.md").write_text(_report(rows, data, epochs, best, out, chart.name))
    log.info("demo report: %s", out / "report.md")
    return out


def _report(rows: list[dict[str, Any]], data: str, epochs: int, best: dict[str, Any], out: Path, chart: str) -> str:
    lines = [
        "# foveal demo", "",
        f"The seed models trained on `{data}` for {epochs} epochs each (SGD, momentum 0.9, lr 0.1, cosine schedule, batch 32),",
        "then evaluated on the held-out split.", "",
        "| model | accuracy | loss | train time (s) | parameters | inference (images/s) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['name']} | {r['accuracy']:.2%} | {r['loss']:.4f} | {r['train_time_s']:.1f} | "
                     f"{r['parameters']:,} | {r['inference_images_per_s']:,.0f} |")
    lines += [
        "", f"![comparison]({chart})", "",
        f"Best: **{best['name']}** at {best['accuracy']:.2%}. Its confusion matrix and predictions:", "",
        f"![confusion matrix]({best['name']}/confusion_matrix.png)", "",
        f"![predictions on random validation images]({best['name']}/samples.png)", "",
        f"![the most confident mistakes]({best['name']}/most_wrong.png)", "",
        "Reproduce: `foveal demo`; look closer with `foveal val --model "
        f"{out / best['name'] / 'best.pt'}` and `foveal compare {' '.join(str(out / r['name']) for r in rows)}`.", "",
    ]
    return "\n".join(lines)
