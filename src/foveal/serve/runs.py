"""The run folders under --runs, for the page's runs browser: which runs there are, what each holds (its metrics,
training curve rows and pictures) and the comparison of several. Files are served only from under the root."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from foveal.errors import FovealError

PICTURES = (".png", ".jpg", ".jpeg", ".svg")


class NotFound(FovealError):
    pass


def is_run(folder: Path) -> bool:
    return (folder / "metrics.json").is_file() or (folder / "results.csv").is_file()


def list_runs(root: Path) -> list[dict[str, Any]]:
    """Each run folder under `root` (up to two levels down: runs/<name> and runs/<project>/<name>), newest first."""
    found = [p for p in root.glob("*") if p.is_dir() and is_run(p)]
    found += [p for p in root.glob("*/*") if p.is_dir() and is_run(p)]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [summary(root, p) for p in found]


def summary(root: Path, folder: Path) -> dict[str, Any]:
    """A run's name (its path under the root), task, model, data, epochs and headline metric (`foveal compare`'s)."""
    from foveal.compare import CHARTED

    metrics = read_json(folder / "metrics.json")
    metric = next((k for k in CHARTED if isinstance(metrics.get(k), (int, float))), None)
    return {"name": folder.relative_to(root).as_posix(), "task": metrics.get("task"), "model": metrics.get("model"),
            "data": metrics.get("data"), "epochs": metrics.get("epochs"), "metric": metric,
            "value": metrics.get(metric) if metric else None}


def run_folder(root: Path, name: str) -> Path:
    folder = inside(root, name)
    if not folder.is_dir() or not is_run(folder):
        raise NotFound(f"no run {name!r} under the runs folder")
    return folder


def run_detail(root: Path, name: str) -> dict[str, Any]:
    """A run's metrics.json, the rows of its results.csv and its pictures (paths under the root)."""
    folder = run_folder(root, name)
    rows: list[dict[str, str]] = []
    if (folder / "results.csv").is_file():
        with open(folder / "results.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    pictures = sorted(p.relative_to(root).as_posix() for p in folder.iterdir() if p.suffix.lower() in PICTURES)
    return {**summary(root, folder), "metrics": read_json(folder / "metrics.json"), "results": rows,
            "pictures": pictures}


def compare(root: Path, names: list[str]) -> dict[str, Any]:
    """The rows of `foveal compare` for several runs (no speed measurement) and the columns they have."""
    from foveal.compare import columns, compare_runs

    if len(names) < 2:
        raise FovealError(f"compare takes two runs or more; got {len(names)}")
    rows = compare_runs([run_folder(root, n) for n in names], speed=False)
    return {"columns": columns(rows), "rows": json.loads(json.dumps(rows, default=str))}


def inside(root: Path, relative: str) -> Path:
    """`root/relative`, refused (NotFound) unless it lies under the root once links and `..` are resolved."""
    root = root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or relative.startswith(("/", "\\")):
        raise NotFound(f"{relative!r} is not under the runs folder")
    return path


def run_file(root: Path, relative: str) -> Path:
    path = inside(root, relative)
    if not path.is_file():
        raise NotFound(f"no file {relative!r} under the runs folder")
    return path


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
