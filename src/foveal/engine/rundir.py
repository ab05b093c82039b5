"""Run folders: `<project>/<name>/`; a new run never overwrites an old one (name, name2, name3, ...)."""

from __future__ import annotations

from pathlib import Path


def run_name(cfg) -> str:
    """The run's folder name: --name, else the model's name as one folder (`timm/efficientnet_lite0` ->
    `efficientnet_lite0`)."""
    return cfg.name or cfg.model.rsplit("/", 1)[-1]


def new_run_dir(project: str | Path, name: str, exist_ok: bool = False) -> Path:
    project = Path(project)
    project.mkdir(parents=True, exist_ok=True)
    candidate, i = project / name, 2
    while True:
        try:
            candidate.mkdir(exist_ok=exist_ok)
            return candidate
        except FileExistsError:
            candidate, i = project / f"{name}{i}", i + 1
